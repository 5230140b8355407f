package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// clientFrame builds a client frame; masked as clients must unless told
// otherwise. rsv is the three RSV bits (0..7).
type frameSpec struct {
	fin      bool
	rsv      byte
	op       byte
	payload  []byte
	unmasked bool
	// length, when non-zero, overrides the declared payload length.
	length uint64
}

func clientFrame(f frameSpec) []byte {
	b := []byte{f.rsv<<4 | f.op}
	if f.fin {
		b[0] |= 0x80
	}
	n := uint64(len(f.payload))
	if f.length != 0 {
		n = f.length
	}
	mask := byte(0x80)
	if f.unmasked {
		mask = 0
	}
	switch {
	case n < 126:
		b = append(b, mask|byte(n))
	case n <= 0xFFFF:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, n)
	}
	if f.unmasked {
		return append(b, f.payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	for i, c := range f.payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func text(p string) []byte { return clientFrame(frameSpec{fin: true, op: 0x1, payload: []byte(p)}) }

func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tcpPair is a loopback TCP connection: server side, client side.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// readAll sends input from the client side, closes it, and reads until an
// error: the messages, the pongs handed out, and the final error.
func readAll(t *testing.T, r *Reader, input []byte) (msgs []string, pongs [][]byte, err error) {
	t.Helper()
	server, client := tcpPair(t)
	if _, err := client.Write(input); err != nil {
		t.Fatal(err)
	}
	client.(*net.TCPConn).CloseWrite()
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 10000 {
		msg, err := r.ReadMessage(server, func(f []byte) { pongs = append(pongs, f) })
		if err != nil {
			return msgs, pongs, err
		}
		if msg != nil {
			msgs = append(msgs, string(msg))
		}
	}
	t.Fatal("no end after 10000 reads")
	return
}

func TestReadMessage(t *testing.T) {
	big := bytes.Repeat([]byte{'a'}, DefaultMaxMessageSize)
	cases := []struct {
		name  string
		in    []byte
		msgs  []string
		pongs []string // payloads
		err   error    // io.EOF, io.ErrUnexpectedEOF, or *CloseError to compare
	}{
		{"text", text(`{"command":"pong"}`), []string{`{"command":"pong"}`}, nil, io.EOF},
		{"empty text", text(""), []string{""}, nil, io.EOF},
		{"binary is read like text (anycable-go)", clientFrame(frameSpec{fin: true, op: 0x2, payload: []byte(`{"command":"pong"}`)}),
			[]string{`{"command":"pong"}`}, nil, io.EOF},
		{"invalid UTF-8 passes (anycable-go)", text("a\xffb"), []string{"a\xffb"}, nil, io.EOF},
		{"two messages", cat(text("one"), text("two")), []string{"one", "two"}, nil, io.EOF},
		{"fragments joined", cat(
			clientFrame(frameSpec{op: 0x1, payload: []byte("he")}),
			clientFrame(frameSpec{op: 0x0, payload: []byte("ll")}),
			clientFrame(frameSpec{fin: true, op: 0x0, payload: []byte("o")})),
			[]string{"hello"}, nil, io.EOF},
		{"ping between fragments", cat(
			clientFrame(frameSpec{op: 0x1, payload: []byte("he")}),
			clientFrame(frameSpec{fin: true, op: 0x9, payload: []byte("p1")}),
			clientFrame(frameSpec{fin: true, op: 0x0, payload: []byte("llo")})),
			[]string{"hello"}, []string{"p1"}, io.EOF},
		{"ping answered", clientFrame(frameSpec{fin: true, op: 0x9, payload: []byte("are you there")}), nil, []string{"are you there"}, io.EOF},
		{"empty ping", clientFrame(frameSpec{fin: true, op: 0x9}), nil, []string{""}, io.EOF},
		{"pong dropped", cat(clientFrame(frameSpec{fin: true, op: 0xA, payload: []byte("x")}), text("after")), []string{"after"}, nil, io.EOF},
		{"64 KiB accepted", clientFrame(frameSpec{fin: true, op: 0x1, payload: big}), []string{string(big)}, nil, io.EOF},
		{"64 KiB + 1 closed with 1009", clientFrame(frameSpec{fin: true, op: 0x1, payload: append(big, 'b')}), nil, nil,
			&CloseError{Code: 1009, Cause: "message larger than 65536 bytes"}},
		{"fragments over 64 KiB closed with 1009", cat(
			clientFrame(frameSpec{op: 0x1, payload: big}),
			clientFrame(frameSpec{fin: true, op: 0x0, payload: []byte("b")})), nil, nil,
			&CloseError{Code: 1009, Cause: "message larger than 65536 bytes"}},
		{"huge declared length closed before reading", clientFrame(frameSpec{fin: true, op: 0x1, length: 1 << 40}), nil, nil,
			&CloseError{Code: 1009, Cause: "message larger than 65536 bytes"}},
		{"length MSB set", clientFrame(frameSpec{fin: true, op: 0x1, length: 1 << 63}), nil, nil,
			&CloseError{Code: 1002, Cause: "header error: the most significant bit must be 0"}},
		{"unmasked", clientFrame(frameSpec{fin: true, op: 0x1, payload: []byte("x"), unmasked: true}), nil, nil,
			&CloseError{Code: 1002, Cause: "frames from client to server must be masked"}},
		{"RSV1 without extension", clientFrame(frameSpec{fin: true, rsv: 4, op: 0x1, payload: []byte("x")}), nil, nil,
			&CloseError{Code: 1002, Cause: "non-zero rsv bits with no extension negotiated"}},
		{"reserved data opcode", clientFrame(frameSpec{fin: true, op: 0x3, payload: []byte("x")}), nil, nil,
			&CloseError{Code: 1002, Cause: "use of reserved op code"}},
		{"reserved control opcode", clientFrame(frameSpec{fin: true, op: 0xB}), nil, nil,
			&CloseError{Code: 1002, Cause: "use of reserved op code"}},
		{"continuation first", clientFrame(frameSpec{fin: true, op: 0x0, payload: []byte("x")}), nil, nil,
			&CloseError{Code: 1002, Cause: "unexpected continuation data frame"}},
		{"new message inside a fragmented one", cat(
			clientFrame(frameSpec{op: 0x1, payload: []byte("a")}),
			text("b")), nil, nil,
			&CloseError{Code: 1002, Cause: "unexpected non-continuation data frame"}},
		{"control payload over 125", clientFrame(frameSpec{fin: true, op: 0x9, payload: bytes.Repeat([]byte{'p'}, 126)}), nil, nil,
			&CloseError{Code: 1002, Cause: "control frame payload limit exceeded"}},
		{"fragmented ping", clientFrame(frameSpec{op: 0x9, payload: []byte("p")}), nil, nil,
			&CloseError{Code: 1002, Cause: "control frame is not final"}},
		{"close 1000 echoed", clientFrame(frameSpec{fin: true, op: 0x8, payload: closeBody(1000, "bye")}), nil, nil,
			&CloseError{Code: 1000, Peer: true}},
		{"close 4000 echoed", clientFrame(frameSpec{fin: true, op: 0x8, payload: closeBody(4000, "")}), nil, nil,
			&CloseError{Code: 4000, Peer: true}},
		{"close without code", clientFrame(frameSpec{fin: true, op: 0x8}), nil, nil, &CloseError{Peer: true}},
		{"close after a message", cat(text("last"), clientFrame(frameSpec{fin: true, op: 0x8, payload: closeBody(1001, "")})),
			[]string{"last"}, nil, &CloseError{Code: 1001, Peer: true}},
		{"close 1-byte body", clientFrame(frameSpec{fin: true, op: 0x8, payload: []byte{3}}), nil, nil,
			&CloseError{Code: 1002, Cause: "close frame with a 1-byte body"}},
		{"close code 1006", clientFrame(frameSpec{fin: true, op: 0x8, payload: closeBody(1006, "")}), nil, nil,
			&CloseError{Code: 1002, Cause: "status code is only application level"}},
		{"close code 999", clientFrame(frameSpec{fin: true, op: 0x8, payload: closeBody(999, "")}), nil, nil,
			&CloseError{Code: 1002, Cause: "status code is not in use"}},
		{"close reason not UTF-8", clientFrame(frameSpec{fin: true, op: 0x8, payload: closeBody(1000, "\xff")}), nil, nil,
			&CloseError{Code: 1007, Cause: "invalid utf8 sequence in close reason"}},
		{"hang-up between frames", text("x"), []string{"x"}, nil, io.EOF},
		{"hang-up inside a header", text("x")[:1], nil, nil, io.ErrUnexpectedEOF},
		{"hang-up inside a payload", text("hello")[:8], nil, nil, io.ErrUnexpectedEOF},
		{"hang-up inside a fragmented message", clientFrame(frameSpec{op: 0x1, payload: []byte("he")}), nil, nil, io.EOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Reader
			msgs, pongs, err := readAll(t, &r, c.in)
			if !equalStrings(msgs, c.msgs) {
				t.Errorf("messages %.80q, want %.80q", msgs, c.msgs)
			}
			var gotPongs []string
			for _, p := range pongs {
				gotPongs = append(gotPongs, string(p))
			}
			var wantPongs []string
			for _, p := range c.pongs {
				wantPongs = append(wantPongs, string(appendPongFrame(nil, []byte(p))))
			}
			if !equalStrings(gotPongs, wantPongs) {
				t.Errorf("pongs %q, want %q", gotPongs, wantPongs)
			}
			if want, ok := c.err.(*CloseError); ok {
				got, ok := err.(*CloseError)
				if !ok || *got != *want {
					t.Errorf("error %#v, want %#v", err, want)
				}
			} else if err != c.err {
				t.Errorf("error %v, want %v", err, c.err)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A frame cut short stalls only until the caller's read deadline.
func TestReadMessageTruncatedFrameHitsDeadline(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	go client.Write(text(`{"command":"subscribe"}`)[:10])
	server.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var r Reader
	msg, err := r.ReadMessage(server, nil)
	if msg != nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %q, %v; want a deadline error", msg, err)
	}
}

// Between reads the reader holds nothing but unread bytes: one idle
// connection costs no buffer.
func TestReaderHoldsNoBufferWhenIdle(t *testing.T) {
	server, client := tcpPair(t)
	var r Reader
	client.Write(text("one"))
	msg, err := r.ReadMessage(server, nil)
	if string(msg) != "one" || err != nil {
		t.Fatalf("%q %v", msg, err)
	}
	if r.Buffered() || r.pending != nil || r.fragments != nil {
		t.Fatalf("idle reader holds %d pending, %d fragment bytes", len(r.pending), len(r.fragments))
	}
}

// Two messages that arrive together: the second is kept, Buffered says so,
// and the next read returns it without touching the connection.
func TestReaderKeepsBytesReadPastTheMessage(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	go client.Write(cat(text("one"), text("two")))
	var r Reader
	msg, err := r.ReadMessage(server, nil)
	if string(msg) != "one" || err != nil {
		t.Fatalf("%q %v", msg, err)
	}
	if !r.Buffered() {
		t.Fatal("second message not kept")
	}
	server.Close() // a read from the connection would now fail
	msg, err = r.ReadMessage(server, nil)
	if string(msg) != "two" || err != nil || r.Buffered() {
		t.Fatalf("%q %v buffered=%v", msg, err, r.Buffered())
	}
}

// Part of a fragmented message, then nothing: the read returns (nil, nil)
// instead of waiting, and the message completes on a later read.
func TestReaderReturnsBetweenFragments(t *testing.T) {
	server, client := tcpPair(t)
	var r Reader
	client.Write(clientFrame(frameSpec{op: 0x1, payload: []byte("hel")}))
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	msg, err := r.ReadMessage(server, nil)
	if msg != nil || err != nil {
		t.Fatalf("first read: %q %v", msg, err)
	}
	client.Write(clientFrame(frameSpec{fin: true, op: 0x0, payload: []byte("lo")}))
	msg, err = r.ReadMessage(server, nil)
	if string(msg) != "hello" || err != nil {
		t.Fatalf("second read: %q %v", msg, err)
	}
}

// With no pong callback, the pong is written to the connection itself.
func TestReaderWritesPongWithoutCallback(t *testing.T) {
	server, client := tcpPair(t)
	var r Reader
	client.Write(clientFrame(frameSpec{fin: true, op: 0x9, payload: []byte("hb")}))
	msg, err := r.ReadMessage(server, nil)
	if msg != nil || err != nil {
		t.Fatalf("%q %v", msg, err)
	}
	got := make([]byte, 4)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "\x8a\x02hb" {
		t.Fatalf("client got % x, %v", got, err)
	}
}

func TestReaderMaxMessageSize(t *testing.T) {
	r := Reader{MaxMessageSize: 4}
	msgs, _, err := readAll(t, &r, cat(text("abcd"), text("abcde")))
	ce, ok := err.(*CloseError)
	if !equalStrings(msgs, []string{"abcd"}) || !ok || ce.Code != 1009 {
		t.Fatalf("%q %v", msgs, err)
	}
}

// A burst of messages of varied sizes, sent at once, straddles the read
// buffer's boundaries; every message comes out whole and in order.
func TestReaderDrainsABurst(t *testing.T) {
	var in []byte
	var want []string
	for i := range 500 {
		m := string(bytes.Repeat([]byte{byte('a' + i%26)}, 1+(i*37)%300))
		want = append(want, m)
		in = append(in, text(m)...)
		if i%50 == 0 {
			in = append(in, clientFrame(frameSpec{fin: true, op: 0x9, payload: []byte{byte(i)}})...)
		}
	}
	var r Reader
	msgs, pongs, err := readAll(t, &r, in)
	if err != io.EOF || !equalStrings(msgs, want) || len(pongs) != 10 {
		t.Fatalf("%d messages (want %d), %d pongs, %v", len(msgs), len(want), len(pongs), err)
	}
}
