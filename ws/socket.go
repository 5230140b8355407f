package ws

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Frame forms of WebSocket messages cached on a pubsub.Delivery, beside
// SSE's (which use 0-2 and the 0x80 bit): the text frame of a data or typed
// message for one identifier, shared by every socket subscribed with it.
const (
	formData  uint8 = 0x10
	formTyped uint8 = 0x11
)

// Socket is one WebSocket client as the hub and the session see it: every
// message is one text frame, built once per identifier and shared, queued
// on its connection (package conn), which writes it.
type Socket struct {
	c   *conn.Conn
	sid string
	// welcomed: the app's first welcome was seen (it gets the sid).
	welcomed atomic.Bool
	// holding keeps replies and transmissions in held instead of the
	// queue while a subscription joins its streams (see hold); both are
	// only touched with the queue locked.
	holding bool
	held    [][]byte
}

// hold keeps what the session replies (the confirmation) from the client
// until release: a client that saw confirm_subscription must get every
// message published after it, so the streams are joined first.
func (s *Socket) hold() {
	s.c.Locked(func(conn.Queue) { s.holding = true })
}

// release queues what was held, in order, and stops holding.
func (s *Socket) release() {
	s.c.Locked(func(q conn.Queue) {
		s.holding = false
		held := s.held
		s.held = nil
		if q.Closed() {
			return
		}
		n := q.Len()
		for _, b := range held {
			q.Push(b)
		}
		q.Bound(n)
	})
}

// discardHeld drops what is held (a confirmation for a subscription that
// failed after it: the client gets the rejection alone).
func (s *Socket) discardHeld() {
	s.c.Locked(func(conn.Queue) { s.held = nil })
}

// enqueue queues one private frame, or holds it.
func (s *Socket) enqueue(frame []byte) {
	s.c.Locked(func(q conn.Queue) {
		if s.holding {
			s.held = append(s.held, frame)
			return
		}
		if q.Closed() {
			return
		}
		n := q.Len()
		q.Push(frame)
		q.Bound(n)
	})
}

func newSocket(sid, ip string, m conn.Metrics, maxPending int) *Socket {
	s := &Socket{sid: sid}
	s.c = conn.New(sid, ip, m, s, maxPending)
	return s
}

// Conn implements cable.Transport.
func (s *Socket) Conn() *conn.Conn { return s.c }

// SocketID implements pubsub.Subscriber.
func (s *Socket) SocketID() string { return s.sid }

// Deliver implements pubsub.Subscriber: it runs on the publisher's
// goroutine, so it only frames (once per identifier) and queues.
func (s *Socket) Deliver(sub *pubsub.Subscription, d *pubsub.Delivery) {
	frame := frameFor(sub, d)
	s.c.Locked(func(q conn.Queue) {
		if q.Closed() {
			return
		}
		q.Delivered(1)
		n := q.Len()
		q.Push(frame)
		q.Bound(n)
	})
}

// frameFor is the shared text frame of d for sub's identifier.
func frameFor(sub *pubsub.Subscription, d *pubsub.Delivery) []byte {
	key := pubsub.FrameKey{Form: formData, Identifier: sub.Identifier}
	if d.Msg.BroadcastType != "" {
		key.Form = formTyped
	}
	return d.Frame(key, func(m *pubsub.Message) []byte { return buildFrame(m, sub.Identifier) })
}

// buildFrame encodes a broadcast as Action Cable does: the identifier, the
// message, and its position when the broker numbered it.
func buildFrame(m *pubsub.Message, identifier string) []byte {
	r := protocol.Reply{Type: m.BroadcastType, Identifier: identifier, Message: protocol.NormalizeData(m.Data), HasMessage: true}
	if m.Offset > 0 {
		r.StreamID, r.Epoch, r.Offset = m.Stream, m.Epoch, m.Offset
	}
	payload := r.AppendJSON(nil)
	return AppendTextFrame(make([]byte, 0, TextFrameSize(len(payload))), payload)
}

// Replay implements cable.Transport: recovered history, as much as fits
// within max_pending (the first always when first is set).
func (s *Socket) Replay(sub *pubsub.Subscription, ds []*pubsub.Delivery, first bool) int {
	taken := 0
	s.c.Locked(func(q conn.Queue) {
		if q.Closed() {
			taken = len(ds)
			return
		}
		for i, d := range ds {
			frame := frameFor(sub, d)
			if !q.Fits(len(frame)) && !(first && i == 0) {
				break
			}
			q.Push(frame)
			taken++
		}
		q.Delivered(taken)
		if taken > 0 {
			q.KeepAll()
		}
	})
	return taken
}

// Reset implements pubsub.Subscriber: an epoch change is announced with
// reject_history and delivery goes on; a gap that cannot be filled ends
// the connection (the client reconnects and asks for history).
func (s *Socket) Reset(sub *pubsub.Subscription, reason string) {
	if reason == pubsub.ResetEpochChanged {
		s.Reply(protocol.Reply{Type: protocol.TypeRejectHistory, Identifier: sub.Identifier})
		return
	}
	s.c.CloseWith(protocol.DisconnectReply("resync", true))
}

// Reply implements cable.Transport.
func (s *Socket) Reply(r protocol.Reply) {
	s.enqueue(textFrame(r.AppendJSON(nil)))
}

// Transmit implements cable.Transport: the app's message as it sent it,
// except that its first welcome gets the sid when it has none (recovery
// needs it; anycable-rails may leave it out).
func (s *Socket) Transmit(msg string) {
	if !s.welcomed.Load() {
		if w := protocol.WelcomeWithSid(msg, s.sid); w != msg || isWelcome(msg) {
			s.welcomed.Store(true)
			msg = w
		}
	}
	s.enqueue(textFrame([]byte(msg)))
}

func isWelcome(msg string) bool {
	r, ok := protocol.ParseTransmission(msg)
	return ok && r.Type == protocol.TypeWelcome
}

func textFrame(payload []byte) []byte {
	return AppendTextFrame(make([]byte, 0, TextFrameSize(len(payload))), payload)
}

// The conn.Codec of WebSocket connections.

// Disconnect implements conn.Codec: the disconnect message, then the close
// frame its reason calls for (spec §4.6, with 1000 where anycable-go sends
// the illegal 1006).
func (s *Socket) Disconnect(r protocol.Reply) []byte {
	out := textFrame(r.AppendJSON(nil))
	c := protocol.Close{Code: protocol.CloseNormal}
	switch r.Reason {
	case protocol.ReasonServerRestart:
		c = protocol.CloseServerRestart
	case protocol.ReasonRemote:
		c = protocol.CloseRemote
	case protocol.ReasonTooSlow:
		c = protocol.CloseTooSlow
	case protocol.ReasonUnauthorized, protocol.ReasonTokenExpired:
		c = protocol.CloseAuthFailed
	case protocol.ReasonNoPong:
		c = protocol.CloseNoPong
	}
	return AppendCloseFrame(out, c.Code, c.Reason)
}

// Ping implements conn.Codec: {"type":"ping","message":<unix seconds>},
// one frame per second shared by every socket.
func (s *Socket) Ping(now time.Time) []byte {
	sec := now.Unix()
	if p := lastPing.Load(); p != nil && p.unix == sec {
		return p.frame
	}
	r := protocol.PingReply(sec)
	p := &pingFrame{unix: sec, frame: textFrame(r.AppendJSON(nil))}
	lastPing.Store(p)
	return p.frame
}

var lastPing atomic.Pointer[pingFrame]

type pingFrame struct {
	unix  int64
	frame []byte
}

// Wrap implements conn.Codec: frames go on the wire as they are.
func (s *Socket) Wrap(dst net.Buffers, data [][]byte, size int) net.Buffers {
	return append(dst, data...)
}

// End implements conn.Codec: the close frame is part of the final frames.
func (s *Socket) End() []byte { return nil }

// closeFrame is a close frame alone.
func closeFrame(c protocol.Close) []byte { return AppendCloseFrame(nil, c.Code, c.Reason) }
