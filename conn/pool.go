package conn

import (
	"errors"
	"net"
	"os"

	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// A connection does not need net/http once its response header (or its
// WebSocket upgrade) is out: the transport takes it over
// (http.ResponseController.Hijack works through Caddy's writer wrappers) and
// hands it to a small pool of writers. The connection then has no goroutine
// and no net/http buffers of its own while idle, which is most of what an
// idle client costs. HTTP/2 and HTTP/3 streams cannot be taken over; they
// stay on the handler path of their transport.

// Pool writes taken-over connections and pings them. It lives with the
// hub across reloads.
type Pool struct {
	// ready holds connections with something to write, each at most once
	// (Conn.scheduled). A list under a mutex, not a channel: scheduling runs
	// inside the hub's fan-out and must never block it.
	readyMu sync.Mutex
	ready   []*Conn
	cond    *sync.Cond
	watch   *closeWatch

	mu      sync.Mutex
	pingers map[time.Duration]*pinger
	closed  bool

	// takenOver counts the adopted connections not yet finished.
	takenOver atomic.Int64
	// detached counts writers blocked in a TLS write of their own
	// (tlswrite.go); detachedWrites counts every such write.
	detached       atomic.Int64
	detachedWrites atomic.Int64
	maxDetached    int64
}

// NewPool starts n writer goroutines.
func NewPool(n int) *Pool {
	w := &Pool{pingers: make(map[time.Duration]*pinger), watch: newCloseWatch(), maxDetached: maxDetached}
	w.cond = sync.NewCond(&w.readyMu)
	for i := 0; i < n; i++ {
		go w.run()
	}
	return w
}

// SetLogger makes the pool log on l (the close watch's failures).
func (w *Pool) SetLogger(l *zap.Logger) { w.watch.setLogger(l) }

// WatchFailures is how many times the close watch failed and was recreated.
func (w *Pool) WatchFailures() int64 { return w.watch.failureCount() }

// TakenOver is the number of connections the pool writes now.
func (w *Pool) TakenOver() int64 { return w.takenOver.Load() }

// DetachedWriters is the number of writers blocked now in a TLS write of
// their own, outside the pool (tlswrite.go).
func (w *Pool) DetachedWriters() int64 { return w.detached.Load() }

// DetachedWrites is how many TLS writes went to a goroutine of their own
// since the pool started.
func (w *Pool) DetachedWrites() int64 { return w.detachedWrites.Load() }

// Close stops the writers, pingers and close watch, and closes every
// taken-over connection still open (the process is going away, or the
// engine was replaced and its connections were already told to leave).
func (w *Pool) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	var left []*Conn
	for _, p := range w.pingers {
		close(p.stop)
		p.mu.Lock()
		for c := range p.conns {
			left = append(left, c)
		}
		p.mu.Unlock()
	}
	w.mu.Unlock()
	left = append(left, w.watch.watched()...)
	for _, c := range left {
		c.finish("server_closed")
	}
	w.watch.close()
	w.readyMu.Lock()
	w.ready = nil
	w.cond.Broadcast()
	w.readyMu.Unlock()
}

// schedule puts a taken-over connection on the ready list unless it is
// there already. It never blocks.
func (w *Pool) schedule(c *Conn) {
	if !c.scheduled.CompareAndSwap(false, true) {
		return
	}
	w.readyMu.Lock()
	w.ready = append(w.ready, c)
	w.readyMu.Unlock()
	w.cond.Signal()
}

func (w *Pool) next() *Conn {
	w.readyMu.Lock()
	defer w.readyMu.Unlock()
	for len(w.ready) == 0 {
		w.mu.Lock()
		closed := w.closed
		w.mu.Unlock()
		if closed {
			return nil
		}
		w.cond.Wait()
	}
	c := w.ready[0]
	w.ready[0] = nil
	w.ready = w.ready[1:]
	if len(w.ready) == 0 {
		w.ready = w.ready[:0:0] // let a burst's backing array go
	}
	return c
}

func (w *Pool) run() {
	wr := w.newWriter()
	for {
		c := w.next()
		if c == nil {
			return
		}
		c.scheduled.Store(false)
		wr.bufs = c.flushTakenOver(wr, wr.bufs[:0])
		if cap(wr.bufs) > 4096 {
			wr.bufs = nil
		}
		if wr.state.Load() == writerDetached {
			// Another writer took this one's place while it wrote.
			w.detached.Add(-1)
			return
		}
	}
}

// A writer never waits long on one client: a write that stalls is cut
// after stallSlice, the rest is kept, and the connection is retried later
// (the pool stays free for everyone else). A client that stays stalled for
// the write timeout, or whose queue outgrows max_pending meanwhile, is
// dropped.
const (
	stallSlice = 5 * time.Millisecond
	stallRetry = 50 * time.Millisecond
)

// flushTakenOver writes what is pending, framed by the codec, with one vectored
// write (the queued frames are written where they are, never copied), and
// ends the response once the connection was closed. bufs is the writer's
// scratch list, returned for reuse.
func (c *Conn) flushTakenOver(wr *writer, bufs net.Buffers) net.Buffers {
	// One flush at a time per connection, so bytes go out in order. A
	// writer does not wait for a flush in progress (a detached TLS write
	// may block for seconds): it asks for another flush after it instead.
	c.flushAgain.Store(true)
	if !c.flushMu.TryLock() {
		return bufs
	}
	c.flushAgain.Store(false)
	defer func() {
		c.flushMu.Unlock()
		if c.flushAgain.Swap(false) {
			c.pool.schedule(c)
		}
	}()
	data, size := c.Take()
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		c.GiveBack(data)
		return bufs
	}
	var final [][]byte
	finalSize := 0
	queueFinal := c.closed && !c.finalQueued
	if queueFinal {
		c.finalQueued = true
		final, finalSize = c.queue, c.queued
		if len(c.final) > 0 {
			final = append(final, c.final)
			finalSize += len(c.final)
		}
		c.queue, c.queued, c.final = nil, 0, nil
	}
	closing := c.finalQueued
	cut := c.endReason == protocol.ReasonTooSlow
	bufs = append(bufs, c.inflight...)
	// What is being written still counts against max_pending, so that a
	// burst delivered meanwhile is measured with it.
	c.inflight = nil
	c.inflightBytes += size
	c.mu.Unlock()

	bufs = c.codec.Wrap(bufs, data, size)
	if queueFinal {
		bufs = c.codec.Wrap(bufs, final, finalSize)
		if end := c.codec.End(); len(end) > 0 {
			bufs = append(bufs, end)
		}
	}
	c.GiveBack(data)
	if len(bufs) == 0 {
		if closing {
			c.end("", true)
		}
		return bufs
	}
	scratch := bufs
	var rest net.Buffers
	var err error
	if c.tls != nil {
		rest, err = c.writeTLS(wr, bufs, cut)
	} else {
		rest, err = c.writeRaw(bufs)
	}
	if err == nil {
		c.mu.Lock()
		c.inflightBytes = 0
		c.mu.Unlock()
	}
	switch {
	case err == nil:
		c.stallSince = time.Time{}
		if closing {
			c.end("", true)
		}
	case errors.Is(err, errTLSTimedOut):
		// The tls.Conn is broken: the connection ends here.
		if cut {
			c.abort("") // counted when the queue overflowed
			break
		}
		c.metrics.SlowClientDropped()
		c.abort(protocol.ReasonTooSlow)
	case errors.Is(err, os.ErrDeadlineExceeded): // errTLSStalled too
		now := time.Now()
		if c.stallSince.IsZero() {
			c.stallSince = now
		}
		if cut {
			c.abort("") // counted when the queue overflowed
			break
		}
		if now.Sub(c.stallSince) > c.writeTimeout {
			c.metrics.SlowClientDropped()
			c.abort(protocol.ReasonTooSlow)
			break
		}
		// Keep the rest (references, not bytes) out of the scratch list.
		kept := append(net.Buffers(nil), rest...)
		n := 0
		for _, b := range kept {
			n += len(b)
		}
		c.mu.Lock()
		c.inflight, c.inflightBytes = kept, n
		over := !closing && !c.fitsLocked(0)
		c.mu.Unlock()
		if over {
			// A burst outgrew max_pending while the write was stalled.
			c.metrics.SlowClientDropped()
			c.abort(protocol.ReasonTooSlow)
			break
		}
		if errors.Is(err, errTLSPartial) {
			// At least minTLSWrite went out: the client reads, the rest
			// waits only for the other ready connections.
			c.flushAgain.Store(true)
			break
		}
		time.AfterFunc(stallRetry, func() { c.pool.schedule(c) })
	default:
		c.finish("write_error")
	}
	clear(scratch)
	return scratch[:0]
}

// abort ends a taken-over connection cut for slowness with a reset
// (SO_LINGER 0): the kernel frees the unsent backlog at once instead of
// trying to deliver stale events, and the client learns of the end now and
// resumes from its last complete event.
func (c *Conn) abort(reason string) {
	if tc, ok := c.raw.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	c.finish(reason)
}

// finish ends a taken-over connection once: it closes the socket and runs
// the session's end.
func (c *Conn) finish(reason string) { c.end(reason, false) }

// end is finish; graceful when everything was written and the response
// ended (a TLS connection then says close_notify if it can).
func (c *Conn) end(reason string, graceful bool) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	c.inflight, c.inflightBytes = nil, 0
	if reason != "" {
		c.closeLocked(nil, reason)
	}
	c.mu.Unlock()
	c.pool.watch.remove(c)
	c.closeSocket(graceful)
	c.pool.takenOver.Add(-1)
	c.onEnd()
}

// closeSocket closes a taken-over connection's socket. A TLS connection
// ended gracefully says close_notify when the socket takes it at once
// (tls.Conn.Close would otherwise wait up to 5 s to write it); any other
// end closes the TCP socket under it: the client is gone, too slow, or its
// tls.Conn is broken.
func (c *Conn) closeSocket(graceful bool) {
	if c.tls == nil {
		_ = c.nc.Close()
		return
	}
	if graceful {
		if room, ok := sendRoom(c.raw); ok && tlsFits(room, 64) {
			_ = c.tls.Close()
			return
		}
	}
	_ = c.raw.Close()
}

// closeQuietly ends a taken-over connection whose client is gone: nothing
// more is written but the codec's end (which may fail).
func (c *Conn) closeQuietly(reason string) {
	c.mu.Lock()
	c.truncateLocked(0)
	c.closeLocked(nil, reason)
	c.wakeLocked()
	c.mu.Unlock()
}

// writeRaw writes bufs with one vectored write under a short deadline and
// returns what is left unwritten.
func (c *Conn) writeRaw(bufs net.Buffers) (net.Buffers, error) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(stallSlice))
	n, err := bufs.WriteTo(c.nc)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// Nothing written may only mean that this goroutine was descheduled
		// past the deadline before the write started (a busy CPU), not that
		// the socket is full: try once more before calling it a stall.
		_ = c.nc.SetWriteDeadline(time.Now().Add(stallSlice))
		_, err = bufs.WriteTo(c.nc)
	}
	return bufs, err
}
