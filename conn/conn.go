// Package conn is the connection writer that every transport shares: one
// client's bounded queue of shared frames (conn.go), the pool that writes
// connections taken over from net/http with its pingers (pool.go,
// takeover.go, pinger.go), the close watch (closewatch_*.go, peek_*.go) and
// the registry of open connections for shutdown, remote disconnects and
// per-address limits (registry.go).
//
// A transport (sse, ws) decides what goes into the queue and how it is
// framed (Codec); this package decides when and how it is written, and
// when a client is too slow to keep. It imports protocol only.
package conn

import (
	"crypto/tls"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Metrics receives what the writer counts. Nil-safe through NoMetrics.
type Metrics interface {
	// Delivered counts messages written into client queues.
	Delivered(n int)
	SlowClientDropped()
}

// NoMetrics counts nothing.
type NoMetrics struct{}

func (NoMetrics) Delivered(int)      {}
func (NoMetrics) SlowClientDropped() {}

// Codec is what a transport tells the writer about its wire format.
type Codec interface {
	// Disconnect frames a server-made disconnect message; nil writes
	// nothing (an SSE raw stream ends without one).
	Disconnect(r protocol.Reply) []byte
	// Ping frames a keepalive for now; frames may be shared between
	// connections.
	Ping(now time.Time) []byte
	// Wrap adds data (size bytes in all) to dst as it goes on the wire of a
	// taken-over connection: SSE wraps one flush in an HTTP chunk, a
	// WebSocket writes its frames as they are.
	Wrap(dst net.Buffers, data [][]byte, size int) net.Buffers
	// End is written once after the final frames of a taken-over
	// connection (the chunked terminator of an SSE response); may be nil.
	End() []byte
}

// Conn is one client connection as the writer sees it: its queue of
// frames, shared with every other subscriber where they can be (read-only),
// and, once taken over from net/http, its socket.
type Conn struct {
	sid        string
	ip         string
	metrics    Metrics
	codec      Codec
	maxPending int

	// identifiers is the connection identifiers string from authentication,
	// used by remote disconnect commands.
	identifiers string
	registry    *Registry // set when registered; guarded by mu
	// ipCounted: the connection counts in its registry's per-address
	// count; guarded by the registry's mu.
	ipCounted bool

	mu sync.Mutex
	// queue holds what is pending, in order: frames shared with every
	// other subscriber and the connection's few private bytes. A slow
	// client so costs a slice header per queued message, not a copy of
	// every byte. queued is the sum of their lengths, the figure that
	// max_pending bounds.
	queue  [][]byte
	queued int
	spare  [][]byte
	closed bool
	// final is written after the queue when the connection ends.
	final     []byte
	endReason string
	// keep is how many queue entries a cut during the handshake still
	// writes: the replayed history, not yet written (0 once the writer took
	// the queue). A resume so makes progress even when a live message
	// released during the handshake overflows max_pending.
	keep int

	signal chan struct{}
	done   chan struct{}

	// Set when the connection was taken over from net/http (takeover.go).
	nc net.Conn
	// raw is the TCP socket: nc, or the one under a TLS connection (tls),
	// which the close watch, the peek and the send-room check work on.
	raw           net.Conn
	tls           *tls.Conn
	flushAgain    atomic.Bool // a writer found the flush busy (pool.go)
	pool          *Pool
	writeTimeout  time.Duration
	scheduled     atomic.Bool
	flushMu       sync.Mutex
	finished      bool
	finalQueued   bool        // the closing bytes are in inflight or written
	inflight      net.Buffers // what a stalled write still has to send
	inflightBytes int
	stallSince    time.Time
	onEndFn       func(reason string)
	onReadable    func()
	pinger        *pinger
	watchFD       int // registered in the close watch; -1 when not
}

// New returns a connection with an empty queue bounded by maxPending bytes
// (0: unbounded).
func New(sid, ip string, m Metrics, codec Codec, maxPending int) *Conn {
	if m == nil {
		m = NoMetrics{}
	}
	return &Conn{
		sid:        sid,
		ip:         ip,
		metrics:    m,
		codec:      codec,
		maxPending: maxPending,
		watchFD:    -1,
		signal:     make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
}

// SID is the connection's session id.
func (c *Conn) SID() string { return c.sid }

// IP is the address that per-address limits count the connection under.
func (c *Conn) IP() string { return c.ip }

// Identifiers is the connection identifiers string from authentication.
func (c *Conn) Identifiers() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identifiers
}

// SetIdentifiers records the identifiers and indexes the connection by
// them in its registry.
func (c *Conn) SetIdentifiers(ids string) {
	c.mu.Lock()
	old := c.identifiers
	c.identifiers = ids
	r := c.registry
	c.mu.Unlock()
	if r != nil && old != ids {
		r.reindex(c, old, ids)
	}
}

// Queue is a connection's pending frames, seen with the connection locked:
// it is only valid inside the function given to Conn.Locked.
type Queue struct{ c *Conn }

// Locked runs fn with the queue locked, then wakes the writer. It runs on
// the publisher's goroutine during a fan-out, so fn only frames and queues.
func (c *Conn) Locked(fn func(q Queue)) {
	c.mu.Lock()
	fn(Queue{c})
	c.wakeLocked()
	c.mu.Unlock()
}

// Closed reports whether the connection is ending: nothing more is queued.
func (q Queue) Closed() bool { return q.c.closed }

// Len is the number of queued entries.
func (q Queue) Len() int { return len(q.c.queue) }

// Push queues b by reference; b must never be written again.
func (q Queue) Push(b []byte) {
	c := q.c
	if len(b) == 0 {
		return
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
}

// Fits reports whether n more bytes stay within max_pending.
func (q Queue) Fits(n int) bool { return q.c.fitsLocked(n) }

// Room is how many more bytes max_pending lets the queue hold.
func (q Queue) Room() int {
	c := q.c
	if c.maxPending <= 0 {
		return math.MaxInt
	}
	return c.maxPending - c.queued - c.inflightBytes
}

// Truncate drops the entries from n on.
func (q Queue) Truncate(n int) { q.c.truncateLocked(n) }

// Bound cuts a client whose queue outgrew max_pending after the entries
// from n on were pushed (see checkSizeLocked).
func (q Queue) Bound(n int) { q.c.checkSizeLocked(n) }

// Delivered counts n messages queued.
func (q Queue) Delivered(n int) { q.c.metrics.Delivered(n) }

// KeepAll marks everything queued as replayed history that a cut before
// the first write still writes.
func (q Queue) KeepAll() { q.c.keep = len(q.c.queue) }

// Enqueue queues private bytes (a control message, a shared ping) and wakes
// the writer. b must never be written again.
func (c *Conn) Enqueue(b []byte) {
	c.Locked(func(q Queue) {
		if q.Closed() {
			return
		}
		n := q.Len()
		q.Push(b)
		q.Bound(n)
	})
}

func (c *Conn) fitsLocked(n int) bool {
	return c.maxPending <= 0 || c.queued+c.inflightBytes+n <= c.maxPending
}

// checkSizeLocked drops a client whose pending bytes outgrew the limit: its
// memory is freed now, and it recovers its missed messages on reconnect.
// n is the queue's length before the last push; those entries are still
// complete messages and are written before the disconnect. Every byte
// counts from the first one, the handshake's backlog included.
func (c *Conn) checkSizeLocked(n int) {
	// Bytes of a stalled write still count: a stalled client must not
	// escape the limit by moving its queue into the write in progress.
	if c.fitsLocked(0) {
		return
	}
	c.truncateLocked(n)
	if !c.fitsLocked(0) {
		// Never below the replayed history: its first message may alone
		// exceed max_pending (so that a resume makes progress).
		c.truncateLocked(min(c.keep, len(c.queue)))
	}
	c.metrics.SlowClientDropped()
	reason := protocol.ReasonTooSlow
	if c.keep > 0 {
		// Cut before anything was written: the replayed history still
		// goes out, then the client resumes after it (a partial replay).
		reason = ReasonReplayPartial
	}
	c.closeLocked(c.codec.Disconnect(TooSlow), reason)
}

// TooSlow is the disconnect a cut client gets (a partial replay's too).
var TooSlow = protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonTooSlow, Reconnect: true, ForceReconnect: true}

// ReasonReplayPartial ends a connection whose replay was cut to fit
// max_pending. On the wire it is the too_slow disconnect (reconnect:true),
// but unlike a cut for slowness the queue and that frame are written and
// the connection ends cleanly: the client is not slow, and it must get the
// replayed messages to resume after them.
const ReasonReplayPartial = "replay_partial"

// truncateLocked drops the queue's entries from n on.
func (c *Conn) truncateLocked(n int) {
	for i := n; i < len(c.queue); i++ {
		c.queued -= len(c.queue[i])
		c.queue[i] = nil
	}
	c.queue = c.queue[:n]
	c.keep = min(c.keep, n)
	if n == 0 {
		c.queue = nil // let a big backing array go with the frames it held
	}
}

// Wake tells the connection's writer that there is something to write: the
// handler goroutine, or the writer pool for a taken-over connection.
func (c *Conn) Wake() {
	c.mu.Lock()
	c.wakeLocked()
	c.mu.Unlock()
}

// wakeLocked is Wake with c.mu held (the delivery path already holds it).
// Neither signal blocks: the channel send has a default, and the pool's
// ready list takes only its own short lock, never c.mu.
func (c *Conn) wakeLocked() {
	if c.pool != nil {
		c.pool.schedule(c)
		return
	}
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// CloseWith ends the connection after writing what is pending and then the
// given disconnect message.
func (c *Conn) CloseWith(r protocol.Reply) {
	c.Close(c.codec.Disconnect(r), r.Reason)
}

// Close ends the connection after writing what is pending and then final;
// reason is what metrics and logs record.
func (c *Conn) Close(final []byte, reason string) {
	c.mu.Lock()
	c.closeLocked(final, reason)
	c.wakeLocked()
	c.mu.Unlock()
}

func (c *Conn) closeLocked(final []byte, reason string) {
	if c.closed {
		return
	}
	c.closed = true
	c.final = final
	c.endReason = reason
	close(c.done)
}

// Signal fires when there is something to write (handler path only).
func (c *Conn) Signal() <-chan struct{} { return c.signal }

// Done is closed once the connection is ending.
func (c *Conn) Done() <-chan struct{} { return c.done }

// EndReason is why the connection ended ("" while open).
func (c *Conn) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}

// Take swaps the queue out for writing and returns it with its size.
func (c *Conn) Take() ([][]byte, int) {
	c.mu.Lock()
	out, n := c.queue, c.queued
	c.queue, c.queued = c.spare[:0], 0
	c.spare = nil
	c.keep = 0
	c.mu.Unlock()
	return out, n
}

// GiveBack returns a written queue for reuse, unless it grew large during a
// burst: an idle connection should not pin a big array. The references it
// held are cleared so that written frames can be collected.
func (c *Conn) GiveBack(q [][]byte) {
	if cap(q) > 1024 {
		return
	}
	clear(q)
	c.mu.Lock()
	if c.spare == nil {
		c.spare = q[:0]
	}
	c.mu.Unlock()
}

// FinalBytes returns what is left to write once the connection is closed.
func (c *Conn) FinalBytes() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.queue
	if len(c.final) > 0 {
		out = append(out, c.final)
	}
	c.queue, c.queued = nil, 0
	c.final = nil
	c.keep = 0
	return out
}

// EndPartialReplay ends the connection after its queued replay, see
// ReasonReplayPartial.
func (c *Conn) EndPartialReplay() {
	c.Close(c.codec.Disconnect(TooSlow), ReasonReplayPartial)
}

// ClientGone ends a connection whose client went away: nothing more is
// written to it.
func (c *Conn) ClientGone() { c.closeQuietly("client_gone") }
