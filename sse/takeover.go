package sse

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
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
	// (Conn.scheduled). A list under a mutex, not a channel: scheduling runs
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

// SetLogger makes the pool log on l (the close watch's failures).
func (w *Writers) SetLogger(l *zap.Logger) { w.watch.setLogger(l) }

// WatchFailures is how many times the close watch failed and was recreated.
func (w *Writers) WatchFailures() int64 { return w.watch.failureCount() }

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
	if !c.scheduled.CompareAndSwap(false, true) {
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
	var bufs net.Buffers
	for {
		c := w.next()
		if c == nil {
			return
		}
		c.scheduled.Store(false)
		bufs = c.flushTakenOver(bufs[:0])
		if cap(bufs) > 4096 {
			bufs = nil
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

// flushTakenOver writes what is pending as one HTTP chunk with one vectored
// write (the queued frames are written where they are, never copied), and
// ends the response once the connection was closed. bufs is the writer's
// scratch list, returned for reuse.
func (c *Conn) flushTakenOver(bufs net.Buffers) net.Buffers {
	// One flush at a time per connection, so bytes go out in order.
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	data, size := c.take()
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		c.giveBack(data)
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

	bufs = appendChunk(bufs, data, size)
	if queueFinal {
		bufs = appendChunk(bufs, final, finalSize)
		bufs = append(bufs, chunkEnd)
	}
	c.giveBack(data)
	if len(bufs) == 0 {
		if closing {
			c.finish("")
		}
		return bufs
	}
	scratch := bufs
	rest, err := c.writeRaw(bufs)
	if err == nil {
		c.mu.Lock()
		c.inflightBytes = 0
		c.mu.Unlock()
	}
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
		time.AfterFunc(stallRetry, func() { c.writers.schedule(c) })
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
	if tc, ok := c.hijacked.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	c.finish(reason)
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
	c.inflight, c.inflightBytes = nil, 0
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
	c.truncateLocked(0)
	c.closeLocked(nil, reason)
	c.mu.Unlock()
	c.wake()
}

// chunkEnd ends a chunked response; crlf ends one chunk.
var (
	chunkEnd = []byte("0\r\n\r\n")
	crlf     = []byte("\r\n")
)

// appendChunk adds data (size bytes in all) as one HTTP chunk.
func appendChunk(dst net.Buffers, data [][]byte, size int) net.Buffers {
	if size == 0 {
		return dst
	}
	hdr := strconv.AppendInt(make([]byte, 0, 18), int64(size), 16)
	dst = append(dst, append(hdr, '\r', '\n'))
	dst = append(dst, data...)
	return append(dst, crlf)
}

// writeRaw writes bufs with one vectored write under a short deadline and
// returns what is left unwritten.
func (c *Conn) writeRaw(bufs net.Buffers) (net.Buffers, error) {
	_ = c.hijacked.SetWriteDeadline(time.Now().Add(stallSlice))
	n, err := bufs.WriteTo(c.hijacked)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// Nothing written may only mean that this goroutine was descheduled
		// past the deadline before the write started (a busy CPU), not that
		// the socket is full: try once more before calling it a stall.
		_ = c.hijacked.SetWriteDeadline(time.Now().Add(stallSlice))
		_, err = bufs.WriteTo(c.hijacked)
	}
	return bufs, err
}

// pinger pings every taken-over connection with one interval from one
// goroutine and one timer, and notices clients that went away.
type pinger struct {
	w        *Writers
	interval time.Duration
	stop     chan struct{}
	mu       sync.Mutex
	conns    map[*Conn]struct{}
}

// addPing puts a connection on the pinger for its interval and returns it
// (nil when the pool is closed).
func (w *Writers) addPing(c *Conn, interval time.Duration) *pinger {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pingers[interval]
	if p == nil && !w.closed {
		p = &pinger{w: w, interval: interval, stop: make(chan struct{}), conns: make(map[*Conn]struct{})}
		w.pingers[interval] = p
		go p.run(w)
	}
	if p != nil {
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
	}
	return p
}

// remove takes a connection off its pinger; the last one retires the
// pinger (its goroutine and timer), so that reloads with changing
// ping_interval values do not pile pingers up. Adding and retiring both
// run under the pool's lock, so no connection joins a retired pinger.
func (p *pinger) remove(c *Conn) {
	w := p.w
	w.mu.Lock()
	defer w.mu.Unlock()
	p.mu.Lock()
	delete(p.conns, c)
	empty := len(p.conns) == 0
	p.mu.Unlock()
	if empty && !w.closed && w.pingers[p.interval] == p {
		delete(w.pingers, p.interval)
		close(p.stop)
	}
}

// pingerCount is the number of live pingers.
func (w *Writers) pingerCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pingers)
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
	// The header and the backlog (bounded by max_pending) go out through
	// net/http under the write timeout: a client that reads nothing must
	// not hold this goroutine.
	if s.Opts.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(s.Opts.WriteTimeout))
	}
	w.WriteHeader(http.StatusOK)
	backlog, _ := c.take()
	for _, b := range backlog {
		if _, err := w.Write(b); err != nil {
			return headerSent
		}
	}
	c.giveBack(backlog)
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
	if s.Opts.SendBuffer > 0 {
		// What a client that stops reading pins in the kernel; the rest
		// waits in the queue, where max_pending bounds it.
		if tc, ok := conn.(interface{ SetWriteBuffer(int) error }); ok {
			_ = tc.SetWriteBuffer(s.Opts.SendBuffer)
		}
	}

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
	c.onEndFn = onEnd
	pending := len(c.queue) > 0 || c.closed
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
