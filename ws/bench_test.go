package ws

import (
	"net"
	"testing"
	"time"
)

var benchCommand = []byte(`{"command":"message","identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","data":"{\"action\":\"speak\",\"text\":\"hello there\"}"}`)

var benchBroadcast = []byte(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}","message":{"n":4,"text":"hello there, everyone"},"stream_id":"r1","epoch":"udIE","offset":4}`)

// Building the frame of one broadcast (done once, then shared by every
// subscriber's socket).
func BenchmarkAppendTextFrame(b *testing.B) {
	buf := make([]byte, 0, TextFrameSize(len(benchBroadcast)))
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBroadcast)))
	for b.Loop() {
		buf = AppendTextFrame(buf[:0], benchBroadcast)
	}
}

// Reading one client message, without the network: the reader's own cost
// (borrowing a buffer, header checks, unmasking, the payload copy).
func BenchmarkReadMessageMemory(b *testing.B) {
	frame := text(string(benchCommand))
	conn := &loopConn{frame: frame}
	var r Reader
	b.ReportAllocs()
	b.SetBytes(int64(len(benchCommand)))
	for b.Loop() {
		msg, err := r.ReadMessage(conn, nil)
		if err != nil || len(msg) != len(benchCommand) {
			b.Fatal(err, len(msg))
		}
		r.pending = nil // one message per read, as after an epoll wake-up
	}
}

// Reading one client message from loopback TCP, the client writing in
// batches.
func BenchmarkReadMessageTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		frame := text(string(benchCommand))
		var batch []byte
		for range 64 {
			batch = append(batch, frame...)
		}
		for {
			if _, err := c.Write(batch); err != nil {
				return
			}
		}
	}()
	server, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	var r Reader
	b.ReportAllocs()
	b.SetBytes(int64(len(benchCommand)))
	for b.Loop() {
		msg, err := r.ReadMessage(server, nil)
		if err != nil || len(msg) != len(benchCommand) {
			b.Fatal(err, len(msg))
		}
	}
}

// loopConn is a net.Conn whose reads return one frame, over and over.
type loopConn struct {
	frame []byte
	off   int
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.frame[c.off:])
	c.off = (c.off + n) % len(c.frame)
	return n, nil
}

func (c *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *loopConn) Close() error                     { return nil }
func (c *loopConn) LocalAddr() net.Addr              { return nil }
func (c *loopConn) RemoteAddr() net.Addr             { return nil }
func (c *loopConn) SetDeadline(time.Time) error      { return nil }
func (c *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(time.Time) error { return nil }
