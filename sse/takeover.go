package sse

import (
	"errors"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// An HTTP/1.1 stream does not need net/http once its header is out: the
// module takes the connection over (http.ResponseController.Hijack works
// through Caddy's writer wrappers) and writes it from a small pool of
// writers. The connection then has no goroutine and no net/http buffers of
// its own while idle, which is most of what an idle SSE client costs.
// HTTP/2 and HTTP/3 streams cannot be taken over; they stay on the handler
// path (Server.stream).

// Writers is the pool that writes taken-over connections and pings them.
// It lives with the hub across reloads.
type Writers struct {
	// ready holds connections with something to write, each at most once
	// (Conn.queued). A list under a mutex, not a channel: scheduling runs
	// inside the hub's fan-out and must never block it.
	readyMu sync.Mutex
	ready   []*Conn
	cond    *sync.Cond
	watch   *closeWatch

	mu      sync.Mutex
	pingers map[time.Duration]*pinger
	closed  bool
}

// NewWriters starts n writer goroutines.
func NewWriters(n int) *Writers {
	w := &Writers{pingers: make(map[time.Duration]*pinger), watch: newCloseWatch()}
	w.cond = sync.NewCond(&w.readyMu)
	for i := 0; i < n; i++ {
		go w.run()
	}
	return w
}

// Close stops the writers, pingers and close watch, and closes every
// taken-over connection still open (the process is going away, or the
// engine was replaced and its connections were already told to leave).
func (w *Writers) Close() {
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
func (w *Writers) schedule(c *Conn) {
	if !c.queued.CompareAndSwap(false, true) {
		return
	}
	w.readyMu.Lock()
	w.ready = append(w.ready, c)
	w.readyMu.Unlock()
	w.cond.Signal()
}

func (w *Writers) next() *Conn {
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

func (w *Writers) run() {
	buf := make([]byte, 0, 16<<10)
	for {
		c := w.next()
		if c == nil {
			return
		}
		c.queued.Store(false)
		buf = c.flushTakenOver(buf[:0])
		if cap(buf) > 1<<20 {
			buf = make([]byte, 0, 16<<10)
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

// flushTakenOver writes what is pending as one HTTP chunk, and ends the
// response once the connection was closed. buf is the writer's scratch
// space, returned for reuse.
func (c *Conn) flushTakenOver(buf []byte) []byte {
	// One flush at a time per connection, so bytes go out in order.
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	data := c.take()
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		c.giveBack(data)
		return buf
	}
	var final []byte
	queueFinal := c.closed && !c.finalQueued
	if queueFinal {
		c.finalQueued = true
		final = append(c.pending, c.final...)
		c.pending, c.final = nil, nil
	}
	closing := c.finalQueued
	dropped := c.endReason == protocol.ReasonTooSlow
	buf = append(buf, c.inflight...)
	c.inflight = nil
	c.mu.Unlock()

	buf = appendChunk(buf, data)
	c.giveBack(data)
	if queueFinal {
		buf = appendChunk(buf, final)
		buf = append(buf, "0\r\n\r\n"...)
	}
	if len(buf) == 0 {
		if closing {
			c.finish("")
		}
		return buf
	}
	n, err := c.writeRaw(buf)
	switch {
	case err == nil:
		c.stallSince = time.Time{}
		if closing {
			c.finish("")
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		now := time.Now()
		if c.stallSince.IsZero() {
			c.stallSince = now
		}
		if dropped {
			c.finish("") // counted when the queue overflowed
			break
		}
		if now.Sub(c.stallSince) > c.writeTimeout {
			c.metrics.SlowClientDropped()
			c.finish(protocol.ReasonTooSlow)
			break
		}
		rest := append([]byte(nil), buf[n:]...)
		c.mu.Lock()
		c.inflight = rest
		c.mu.Unlock()
		time.AfterFunc(stallRetry, func() { c.writers.schedule(c) })
	default:
		c.finish("write_error")
	}
	return buf
}

// finish ends a taken-over connection once: it closes the socket and runs
// the session's end.
func (c *Conn) finish(reason string) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	c.inflight = nil
	if reason != "" {
		c.closeLocked(nil, reason)
	}
	c.mu.Unlock()
	c.writers.watch.remove(c)
	_ = c.hijacked.Close()
	c.onEnd()
}

// closeQuietly ends a taken-over connection whose client is gone: nothing
// more is written but the chunked terminator (which may fail).
func (c *Conn) closeQuietly(reason string) {
	c.mu.Lock()
	c.pending = nil
	c.closeLocked(nil, reason)
	c.mu.Unlock()
	c.wake()
}

func appendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = strconv.AppendInt(dst, int64(len(data)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, data...)
	return append(dst, '\r', '\n')
}

func (c *Conn) writeRaw(b []byte) (int, error) {
	_ = c.hijacked.SetWriteDeadline(time.Now().Add(stallSlice))
	n, err := c.hijacked.Write(b)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// Nothing written may only mean that this goroutine was descheduled
		// past the deadline before the write started (a busy CPU), not that
		// the socket is full: try once more before calling it a stall.
		_ = c.hijacked.SetWriteDeadline(time.Now().Add(stallSlice))
		n, err = c.hijacked.Write(b)
	}
	return n, err
}

// peerClosed reports whether the client closed its side, without a read
// goroutine: a non-blocking peek on the socket. False when unknown.
func (c *Conn) peerClosed() bool {
	sc, ok := c.hijacked.(syscall.Conn)
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

// pinger pings every taken-over connection with one interval from one
// goroutine and one timer, and notices clients that went away.
type pinger struct {
	interval time.Duration
	stop     chan struct{}
	mu       sync.Mutex
	conns    map[*Conn]struct{}
}

// addPing puts a connection on the pinger for its interval and returns it
// (nil when the pool is closed).
func (w *Writers) addPing(c *Conn, interval time.Duration) *pinger {
	w.mu.Lock()
	p := w.pingers[interval]
	if p == nil && !w.closed {
		p = &pinger{interval: interval, stop: make(chan struct{}), conns: make(map[*Conn]struct{})}
		w.pingers[interval] = p
		go p.run(w)
	}
	w.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
	}
	return p
}

func (p *pinger) remove(c *Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *pinger) run(w *Writers) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	var batch []*Conn
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			batch = batch[:0]
			for c := range p.conns {
				batch = append(batch, c)
			}
			p.mu.Unlock()
			// One ping frame for everyone this round.
			frame := pingEvent(now)
			for _, c := range batch {
				if c.peerClosed() {
					c.closeQuietly("client_gone")
					continue
				}
				if c.raw {
					c.enqueue(keepaliveComment)
				} else {
					c.enqueue(frame)
				}
			}
		}
	}
}

type takeOverResult int

const (
	notTakenOver takeOverResult = iota // nothing written: serve on the handler path
	headerSent                         // header and backlog written, hijack refused
	takenOver
)

// takeOver hands an HTTP/1.1 stream to the writer pool after its header and
// backlog went out through net/http. When the connection cannot be taken
// over, the caller serves it on the handler path.
func (s *Server) takeOver(w http.ResponseWriter, c *Conn, onEnd func(reason string)) takeOverResult {
	rc := http.NewResponseController(w)
	c.mu.Lock()
	c.streaming = true // live messages that pile up meanwhile count against max_pending
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	backlog := c.take()
	if len(backlog) > 0 {
		if _, err := w.Write(backlog); err != nil {
			return headerSent
		}
	}
	if err := rc.Flush(); err != nil {
		return headerSent
	}
	conn, brw, err := rc.Hijack()
	if err != nil {
		if ce := s.Log.Check(zapcore.DebugLevel, "connection cannot be taken over; serving it on the handler path"); ce != nil {
			ce.Write(zap.Error(err))
		}
		return headerSent
	}
	// Everything went through the flush; the buffers net/http hands over
	// are not used (dropping them is the point).
	if brw != nil && brw.Writer.Buffered() > 0 {
		_ = brw.Writer.Flush()
	}
	_ = conn.SetDeadline(time.Time{})

	// On the pinger and the close watch before any writer can see the
	// connection, so that its end always finds it there.
	c.mu.Lock()
	c.hijacked = conn
	c.mu.Unlock()
	var p *pinger
	if s.Opts.PingInterval > 0 {
		p = s.Writers.addPing(c, s.Opts.PingInterval)
	}
	s.Writers.watch.add(c)
	c.mu.Lock()
	c.pinger = p
	c.writers = s.Writers
	c.writeTimeout = s.Opts.WriteTimeout
	c.streaming = true
	c.onEndFn = onEnd
	pending := len(c.pending) > 0 || c.closed
	c.mu.Unlock()
	if pending {
		s.Writers.schedule(c)
	}
	return takenOver
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
