package ws

import (
	"errors"
	"io"
	"net"
	"testing"
)

// Any byte stream ends in a message, a close or a connection error, never a
// panic or a message over the limit, and the reader always makes progress.
func FuzzReadMessage(f *testing.F) {
	f.Add(text(`{"command":"pong"}`))
	f.Add(cat(clientFrame(frameSpec{op: 0x1, payload: []byte("he")}), clientFrame(frameSpec{fin: true, op: 0x9, payload: []byte("p")}), clientFrame(frameSpec{fin: true, op: 0x0, payload: []byte("llo")})))
	f.Add(clientFrame(frameSpec{fin: true, op: 0x8, payload: closeBody(1000, "x")}))
	f.Add(clientFrame(frameSpec{fin: true, op: 0x1, length: 1 << 40}))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := Reader{MaxMessageSize: 256}
		conn := &bytesConn{data: in}
		for range len(in) + 2 {
			msg, err := r.ReadMessage(conn, func([]byte) {})
			if len(msg) > 256 {
				t.Fatalf("message of %d bytes over the limit", len(msg))
			}
			var ce *CloseError
			if errors.As(err, &ce) || err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
		}
		t.Fatal("no end")
	})
}

// bytesConn is a net.Conn reading from a byte slice, then io.EOF.
type bytesConn struct {
	loopConn
	data []byte
}

func (c *bytesConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

var _ net.Conn = (*bytesConn)(nil)
