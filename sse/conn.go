package sse

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Mode says how a connection's data messages are framed.
type Mode uint8

const (
	// ModeGET sends only the message (AnyCable's "unwrap" for EventSource).
	ModeGET Mode = iota
	// ModePOST sends the full {"identifier","message",...} JSON.
	ModePOST
)

// Frame forms cached on a pubsub.Delivery. A form whose bytes depend on the
// subscription's identifier is keyed with it; the GET data form is shared by
// every subscriber of the stream.
const (
	formGETData uint8 = iota
	formPOSTData
	formTyped
	// formOpen marks a frame left open (no id line, no final blank line) so
	// that a connection with several streams appends its own id.
	formOpen uint8 = 0x80
)

// Conn is one client connection as the hub sees it. The hub hands it
// messages; it frames them (through the shared cache) and queues references
// to the shared frames, and its writer sends the queue to the client with
// one vectored write.
type Conn struct {
	sid        string
	ip         string
	metrics    Metrics
	mode       Mode
	raw        bool
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
	// other subscriber (read-only) and the connection's few private bytes
	// (its control messages, the id lines of a multi-stream connection). A
	// slow client so costs a slice header per queued message, not a copy
	// of every byte. queued is the sum of their lengths, the figure that
	// max_pending bounds.
	queue  [][]byte
	queued int
	spare  [][]byte
	// arena is where private id lines are cut from; a slice handed to the
	// queue is never written again (a full arena is replaced, not reused).
	arena  []byte
	closed bool
	// final is written after the queue when the connection ends.
	final     []byte
	endReason string
	// keep is how many queue entries a cut during the handshake still
	// writes: the replayed history, not yet written (0 once the writer took
	// the queue). A resume so makes progress even when a live message
	// released during the handshake overflows max_pending.
	keep int
	// multi: the connection has several streams; each data event then
	// carries one id holding every stream's position.
	multi     bool
	positions []protocol.StreamPosition

	signal chan struct{}
	done   chan struct{}

	// Set when the connection was taken over from net/http (takeover.go).
	hijacked      net.Conn
	writers       *Writers
	writeTimeout  time.Duration
	scheduled     atomic.Bool
	flushMu       sync.Mutex
	finished      bool
	finalQueued   bool        // the closing bytes are in inflight or written
	inflight      net.Buffers // what a stalled write still has to send
	inflightBytes int
	stallSince    time.Time
	onEndFn       func(reason string)
	pinger        *pinger
	watchFD       int // registered in the close watch; -1 when not

	subs []*pubsub.Subscription
}

func newConn(sid, ip string, m Metrics, mode Mode, raw bool, maxPending int) *Conn {
	return &Conn{
		sid:        sid,
		ip:         ip,
		metrics:    m,
		mode:       mode,
		raw:        raw,
		maxPending: maxPending,
		watchFD:    -1,
		signal:     make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
}

// SocketID implements pubsub.Subscriber.
func (c *Conn) SocketID() string { return c.sid }

// Identifiers is the connection identifiers string from authentication.
func (c *Conn) Identifiers() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identifiers
}

// setIdentifiers records the identifiers and indexes the connection by
// them in its registry.
func (c *Conn) setIdentifiers(ids string) {
	c.mu.Lock()
	old := c.identifiers
	c.identifiers = ids
	r := c.registry
	c.mu.Unlock()
	if r != nil && old != ids {
		r.reindex(c, old, ids)
	}
}

// Deliver implements pubsub.Subscriber. It runs on the publisher's goroutine,
// under the subscription's lock, so it only frames and enqueues.
func (c *Conn) Deliver(s *pubsub.Subscription, d *pubsub.Delivery) {
	frame, open, ok := c.frameFor(s, d)
	if !ok {
		return
	}
	m := &d.Msg
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.metrics.Delivered(1)
	n := len(c.queue)
	c.pushLocked(frame)
	if open {
		c.setPositionLocked(m.Stream, m.Epoch, m.Offset)
		c.pushLocked(c.idLineLocked())
	}
	c.checkSizeLocked(n)
	c.wakeLocked()
	c.mu.Unlock()
}

// frameFor returns the shared frame of d for this connection and
// subscription, and whether the connection appends its own id line to it;
// ok is false when the connection does not take the message.
func (c *Conn) frameFor(s *pubsub.Subscription, d *pubsub.Delivery) (frame []byte, open, ok bool) {
	m := &d.Msg
	typed := m.BroadcastType != ""
	if typed && c.raw {
		return nil, false, false // raw streams carry data only
	}
	var key pubsub.FrameKey
	switch {
	case typed:
		key = pubsub.FrameKey{Form: formTyped, Identifier: s.Identifier}
	case c.mode == ModePOST:
		key = pubsub.FrameKey{Form: formPOSTData, Identifier: s.Identifier}
	default:
		key = pubsub.FrameKey{Form: formGETData}
	}
	if c.multi && m.Offset > 0 {
		key.Form |= formOpen
	}
	frame = d.Frame(key, func(m *pubsub.Message) []byte { return buildFrame(m, key, s.Identifier) })
	return frame, key.Form&formOpen != 0, true
}

// replay queues recovered history for s, as much of it as fits within
// max_pending (the first message always when first is set, so that a
// resume makes progress), and returns how many deliveries it took. The
// frames are the deliveries' shared ones.
func (c *Conn) replay(s *pubsub.Subscription, ds []*pubsub.Delivery, first bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return len(ds)
	}
	queued := 0
	taken := 0
	for i, d := range ds {
		// Framed under c.mu: a replay runs before the writer starts, so
		// nothing waits on the lock meanwhile.
		frame, open, ok := c.frameFor(s, d)
		if !ok {
			taken++
			continue
		}
		n := len(c.queue)
		var prev protocol.StreamPosition
		c.pushLocked(frame)
		if open {
			prev = c.positionLocked(d.Msg.Stream)
			c.setPositionLocked(d.Msg.Stream, d.Msg.Epoch, d.Msg.Offset)
			c.pushLocked(c.idLineLocked())
		}
		if !c.fitsLocked(0) && !(first && i == 0) {
			c.truncateLocked(n)
			if open {
				c.setPositionLocked(prev.Stream, prev.Epoch, prev.Offset)
			}
			break
		}
		queued++
		taken++
	}
	c.metrics.Delivered(queued)
	if queued > 0 {
		c.keep = len(c.queue)
	}
	c.wakeLocked()
	return taken
}

// pushLocked queues b by reference; b must never be written again.
func (c *Conn) pushLocked(b []byte) {
	if len(b) == 0 {
		return
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
}

// idLineLocked cuts the id line (and the blank line ending the event) of a
// multi-stream connection from its arena.
func (c *Conn) idLineLocked() []byte {
	const arenaSize = 1 << 10
	need := 8 + 64*len(c.positions)
	if cap(c.arena)-len(c.arena) < need {
		c.arena = make([]byte, 0, max(arenaSize, need))
	}
	start := len(c.arena)
	c.arena = append(c.arena, "id: "...)
	c.arena = protocol.AppendMultiEventID(c.arena, c.positions)
	c.arena = append(c.arena, '\n', '\n')
	return c.arena[start:len(c.arena):len(c.arena)]
}

// Reset implements pubsub.Subscriber: the stream of s jumped. An epoch change
// is announced with reject_history and delivery goes on in the new epoch; a
// gap that cannot be filled ends the connection so the client resumes from
// its last id.
func (c *Conn) Reset(s *pubsub.Subscription, reason string) {
	if reason == pubsub.ResetEpochChanged {
		if !c.raw {
			r := protocol.Reply{Type: protocol.TypeRejectHistory, Identifier: s.Identifier}
			c.enqueue(AppendEvent(nil, r.Type, r.AppendJSON(nil), "", 0))
		}
		return
	}
	c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: "resync", Reconnect: true, ForceReconnect: true})
}

// enqueue queues private bytes (a control message, a ping shared by the
// pinger) and wakes the writer. b must never be written again.
func (c *Conn) enqueue(b []byte) {
	c.mu.Lock()
	if !c.closed {
		n := len(c.queue)
		c.pushLocked(b)
		c.checkSizeLocked(n)
	}
	c.wakeLocked()
	c.mu.Unlock()
}

// fits reports whether n more bytes stay within max_pending.
func (c *Conn) fitsLocked(n int) bool {
	return c.maxPending <= 0 || c.queued+c.inflightBytes+n <= c.maxPending
}

// checkSizeLocked drops a client whose pending bytes outgrew the limit: its
// memory is freed now, and it recovers through Last-Event-ID on reconnect.
// n is the queue's length before the last push; those entries are still
// complete events and are written before the disconnect. Every byte counts
// from the first one, the handshake's backlog included: the history that a
// join queues is kept within the limit beforehand (session.go).
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
		reason = reasonReplayPartial
	}
	c.closeLocked(c.disconnectFrame(tooSlow), reason)
}

// tooSlow is the disconnect a cut client gets (a partial replay's too).
var tooSlow = protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonTooSlow, Reconnect: true, ForceReconnect: true}

// reasonReplayPartial ends a connection whose replay was cut to fit
// max_pending. On the wire it is the too_slow disconnect (reconnect:true),
// but unlike a cut for slowness the queue and that frame are written and
// the stream ends cleanly: the client is not slow, and it must get the
// replayed events to resume after them.
const reasonReplayPartial = "replay_partial"

// closePartialReplay ends the connection after its queued replay, see
// reasonReplayPartial.
func (c *Conn) closePartialReplay() {
	frame := c.disconnectFrame(tooSlow)
	c.mu.Lock()
	c.closeLocked(frame, reasonReplayPartial)
	c.mu.Unlock()
	c.wake()
}

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

// wake tells the connection's writer that there is something to write: the
// handler goroutine, or the writer pool for a taken-over connection.
func (c *Conn) wake() {
	c.mu.Lock()
	c.wakeLocked()
	c.mu.Unlock()
}

// wakeLocked is wake with c.mu held (the delivery path already holds it).
// Neither signal blocks: the channel send has a default, and the pool's
// ready list takes only its own short lock, never c.mu.
func (c *Conn) wakeLocked() {
	if c.writers != nil {
		c.writers.schedule(c)
		return
	}
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// positionLocked is the connection's position in stream.
func (c *Conn) positionLocked(stream string) protocol.StreamPosition {
	for _, p := range c.positions {
		if p.Stream == stream {
			return p
		}
	}
	return protocol.StreamPosition{Stream: stream}
}

func (c *Conn) setPositionLocked(stream, epoch string, offset uint64) {
	for i := range c.positions {
		if c.positions[i].Stream == stream {
			c.positions[i].Epoch = epoch
			c.positions[i].Offset = offset
			return
		}
	}
	c.positions = append(c.positions, protocol.StreamPosition{Stream: stream, Epoch: epoch, Offset: offset})
}

// disconnectFrame frames a server-generated disconnect (nothing in raw mode).
func (c *Conn) disconnectFrame(r protocol.Reply) []byte {
	if c.raw {
		return nil
	}
	var retry int64
	if !r.Reconnect {
		retry = RetryNever
	}
	return AppendEvent(nil, r.Type, r.AppendJSON(nil), "", retry)
}

// CloseWith ends the connection after writing what is pending and then the
// given disconnect message.
func (c *Conn) CloseWith(r protocol.Reply) {
	frame := c.disconnectFrame(r)
	c.mu.Lock()
	c.closeLocked(frame, r.Reason)
	c.mu.Unlock()
	c.wake()
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

// take swaps the queue out for writing and returns it with its size.
func (c *Conn) take() ([][]byte, int) {
	c.mu.Lock()
	out, n := c.queue, c.queued
	c.queue, c.queued = c.spare[:0], 0
	c.spare = nil
	c.keep = 0
	c.mu.Unlock()
	return out, n
}

// giveBack returns a written queue for reuse, unless it grew large during a
// burst: an idle connection should not pin a big array. The references it
// held are cleared so that written frames can be collected.
func (c *Conn) giveBack(q [][]byte) {
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

// finalBytes returns what is left to write once the connection is closed.
func (c *Conn) finalBytes() [][]byte {
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

// buildFrame encodes one message in one form.
func buildFrame(m *pubsub.Message, key pubsub.FrameKey, identifier string) []byte {
	data := protocol.NormalizeData(m.Data)
	form := key.Form &^ formOpen
	open := key.Form&formOpen != 0
	var event string
	var payload []byte
	switch form {
	case formTyped:
		event = m.BroadcastType
		r := protocol.Reply{Type: m.BroadcastType, Identifier: identifier, Message: data, HasMessage: true}
		if m.Offset > 0 {
			// The full message, as AnyCable sends typed broadcasts.
			r.StreamID, r.Epoch, r.Offset = m.Stream, m.Epoch, m.Offset
		}
		payload = r.AppendJSON(nil)
	case formPOSTData:
		r := protocol.Reply{Identifier: identifier, Message: data, HasMessage: true}
		if m.Offset > 0 {
			r.StreamID, r.Epoch, r.Offset = m.Stream, m.Epoch, m.Offset
		}
		payload = r.AppendJSON(nil)
	default:
		payload = data.AppendUnwrapped(nil)
	}
	var id string
	if m.Offset > 0 && !open {
		id = protocol.FormatEventID(protocol.StreamPosition{Stream: m.Stream, Epoch: m.Epoch, Offset: m.Offset})
	}
	frame := AppendEvent(make([]byte, 0, len(payload)+len(id)+32), event, payload, id, 0)
	if open {
		frame = frame[:len(frame)-1] // the connection appends its id and the blank line
	}
	return frame
}
