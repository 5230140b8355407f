//go:build unix

package conn

import (
	"errors"
	"net"
	"syscall"
)

// TakeoverSupported reports whether this OS has what a taken-over
// connection needs: a non-blocking peek (recv with MSG_DONTWAIT) that tells
// a client that went away from one that is quiet.
const TakeoverSupported = true

// peerClosed reports whether the client closed its side, without a read
// goroutine: a non-blocking peek on the socket. False when unknown.
//
// On a TLS connection the peek reads the TCP socket under crypto/tls, so
// what it would drop are whole or partial TLS records. An SSE client over
// TLS sends a record after its request only to leave (close_notify) or to
// renegotiate or update keys, which a taken-over stream does not serve (Go's
// server refuses renegotiation anyway, and dropping part of a record would
// leave the stream undecodable): any byte from a TLS client so ends its
// stream as client_gone, and it reconnects if it meant to stay.
func (c *Conn) peerClosed() bool {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [512]byte
	_ = rc.Read(func(fd uintptr) bool {
		// SSE clients send nothing after the request; whatever they do
		// send is read and dropped so that the FIN behind it shows.
		for {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_DONTWAIT)
			switch {
			case n > 0 && c.tls != nil:
				closed = true // a TLS record: see above
				return true
			case n == 0 && err == nil:
				closed = true // orderly shutdown by the peer
				return true
			case err != nil:
				if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
					closed = true
				}
				return true
			}
		}
	})
	return closed
}

// HasInput reports whether the client's socket has something to read (or
// reached its end, which a read then reports), without reading it: a
// non-blocking peek. A transport that reads when the close watch says the
// socket is readable drains it until this is false. True when unknown, so
// that the caller's read finds out.
func HasInput(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	has := true
	var b [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			has = !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EWOULDBLOCK)
			return true
		}
	})
	return has
}
