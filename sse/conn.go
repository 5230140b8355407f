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
// messages; it frames them (through the shared cache) into a bounded pending
// buffer, and its writer drains the buffer to the client.
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

	mu      sync.Mutex
	pending []byte
	spare   []byte
	closed  bool
	// final is written after pending when the connection ends.
	final     []byte
	endReason string
	// multi: the connection has several streams; each data event then
	// carries one id holding every stream's position.
	multi     bool
	positions []protocol.StreamPosition

	signal chan struct{}
	done   chan struct{}
	// streaming is set once the writer runs. Until then the backlog (the
	// recovered history, bounded by history_limit) may exceed maxPending.
	streaming bool

	// Set when the connection was taken over from net/http (takeover.go).
	hijacked     net.Conn
	writers      *Writers
	writeTimeout time.Duration
	queued       atomic.Bool
	flushMu      sync.Mutex
	finished     bool
	finalQueued  bool   // the closing bytes are in inflight or written
	inflight     []byte // bytes of a stalled write still to send
	stallSince   time.Time
	onEndFn      func(reason string)
	pinger       *pinger
	watchFD      int // registered in the close watch; -1 when not

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

func (c *Conn) setIdentifiers(ids string) {
	c.mu.Lock()
	c.identifiers = ids
	c.mu.Unlock()
}

// Deliver implements pubsub.Subscriber. It runs on the publisher's goroutine,
// under the subscription's lock, so it only frames and enqueues.
func (c *Conn) Deliver(s *pubsub.Subscription, d *pubsub.Delivery) {
	m := &d.Msg
	typed := m.BroadcastType != ""
	if typed && c.raw {
		return // raw streams carry data only
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
	numbered := m.Offset > 0
	if c.multi && numbered {
		key.Form |= formOpen
	}
	frame := d.Frame(key, func(m *pubsub.Message) []byte { return buildFrame(m, key, s.Identifier) })

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.metrics.Delivered(1)
	n := len(c.pending)
	c.pending = append(c.pending, frame...)
	if key.Form&formOpen != 0 {
		c.setPositionLocked(m.Stream, m.Epoch, m.Offset)
		c.pending = append(c.pending, "id: "...)
		c.pending = protocol.AppendMultiEventID(c.pending, c.positions)
		c.pending = append(c.pending, '\n', '\n')
	}
	c.checkSizeLocked(n)
	c.wakeLocked()
	c.mu.Unlock()
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

// enqueue appends bytes to the pending buffer and wakes the writer.
func (c *Conn) enqueue(b []byte) {
	c.mu.Lock()
	if !c.closed {
		n := len(c.pending)
		c.pending = append(c.pending, b...)
		c.checkSizeLocked(n)
	}
	c.wakeLocked()
	c.mu.Unlock()
}

// checkSizeLocked drops a client whose pending bytes outgrew the limit: its
// memory is freed now, and it recovers through Last-Event-ID on reconnect.
// n is the length before the last append; those bytes are still complete
// events and are written before the disconnect.
func (c *Conn) checkSizeLocked(n int) {
	// Bytes of a stalled write still count: a stalled client must not
	// escape the limit by moving its queue into the write in progress.
	if !c.streaming || c.maxPending <= 0 || len(c.pending)+len(c.inflight) <= c.maxPending {
		return
	}
	c.pending = c.pending[:n]
	if n > c.maxPending {
		c.pending = nil
	}
	c.metrics.SlowClientDropped()
	c.closeLocked(c.disconnectFrame(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonTooSlow, Reconnect: true, ForceReconnect: true}), protocol.ReasonTooSlow)
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

// take swaps the pending buffer out for writing.
func (c *Conn) take() []byte {
	c.mu.Lock()
	out := c.pending
	c.pending = c.spare[:0]
	c.spare = nil
	c.mu.Unlock()
	return out
}

// giveBack returns a written buffer for reuse, unless it grew large during a
// burst: an idle connection should not pin a big buffer.
func (c *Conn) giveBack(b []byte) {
	if cap(b) > 64<<10 {
		return
	}
	c.mu.Lock()
	if c.spare == nil {
		c.spare = b[:0]
	}
	c.mu.Unlock()
}

// finalBytes returns what is left to write once the connection is closed.
func (c *Conn) finalBytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append(c.pending, c.final...)
	c.pending = nil
	c.final = nil
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
