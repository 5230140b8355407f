package conn

import (
	"crypto/tls"
	"net"
	"time"
)

// TakeOver settings of one connection.
type TakeOver struct {
	// PingInterval between keepalives (Codec.Ping); 0: none.
	PingInterval time.Duration
	// WriteTimeout is how long a client may stall a write before it is cut
	// as too_slow.
	WriteTimeout time.Duration
	// SendBuffer caps the kernel send buffer of the socket; 0 leaves the
	// system default.
	SendBuffer int
	// OnEnd runs once, off the pool, when the connection is finished, with
	// the reason it ended.
	OnEnd func(reason string)
	// OnReadable, when set, runs when the client sent something (a
	// WebSocket's commands); the connection is then never peeked, since a
	// peek would eat its input. Nil: the client is not expected to send
	// anything, and what it sends is dropped.
	OnReadable func()
}

// Adopt hands a connection whose socket left net/http to the pool: from now
// on the pool writes its queue, pings it and notices the client leave. The
// socket must have nothing of net/http's left to write. A *tls.Conn is
// taken over too where TLSTakeoverSupported (its writes never time out
// half-way, see tlswrite.go); elsewhere the transport keeps it.
//
// watched reports whether the close watch watches the socket, so that
// OnReadable will run when the client sends something; when it does not (no
// epoll, a socket a listener wrapper hides), a transport that reads needs a
// reader of its own.
func (w *Pool) Adopt(c *Conn, nc net.Conn, o TakeOver) (watched bool) {
	_ = nc.SetDeadline(time.Time{})
	raw := nc
	tc, isTLS := nc.(*tls.Conn)
	if isTLS {
		raw = tc.NetConn()
	}
	if o.SendBuffer > 0 {
		// What a client that stops reading pins in the kernel; the rest
		// waits in the queue, where max_pending bounds it.
		if tc, ok := raw.(interface{ SetWriteBuffer(int) error }); ok {
			_ = tc.SetWriteBuffer(o.SendBuffer)
		}
	}
	// On the pinger and the close watch before any writer can see the
	// connection, so that its end always finds it there.
	w.takenOver.Add(1)
	c.mu.Lock()
	c.nc, c.raw, c.tls = nc, raw, tc
	c.onReadable = o.OnReadable
	c.mu.Unlock()
	var p *pinger
	if o.PingInterval > 0 {
		p = w.addPing(c, o.PingInterval)
	}
	watched = w.watch.add(c)
	c.mu.Lock()
	c.pinger = p
	c.pool = w
	c.writeTimeout = o.WriteTimeout
	c.onEndFn = o.OnEnd
	pending := len(c.queue) > 0 || c.closed
	c.mu.Unlock()
	if pending {
		w.schedule(c)
	}
	return watched
}

// onEnd runs once when a taken-over connection is finished.
func (c *Conn) onEnd() {
	c.mu.Lock()
	fn, reason, p := c.onEndFn, c.endReason, c.pinger
	c.onEndFn = nil
	c.mu.Unlock()
	if p != nil {
		p.remove(c)
	}
	if fn != nil {
		fn(reason)
	}
}

// WatchesReads reports whether the pool's close watch tells a connection
// when its client sent something (TakeOver.OnReadable): Linux's epoll.
// Elsewhere a transport that reads needs a goroutine of its own.
func (w *Pool) WatchesReads() bool { return w.watch != nil }
