package sse

import (
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/conn"
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

// Stream is one SSE client as the hub and the session see it: it frames
// messages as SSE events (through the delivery's shared cache) and queues
// them on its connection (package conn), which writes them.
type Stream struct {
	c    *conn.Conn
	log  *zap.Logger
	mode Mode
	raw  bool
	// multi: the connection has several streams; each data event then
	// carries one id holding every stream's position. positions and arena
	// are only touched with the queue locked (conn.Conn.Locked).
	multi     bool
	positions []protocol.StreamPosition
	// arena is where private id lines are cut from; a slice handed to the
	// queue is never written again (a full arena is replaced, not reused).
	arena []byte
}

func newStream(sid, ip string, log *zap.Logger, m conn.Metrics, mode Mode, raw bool, maxPending int) *Stream {
	if log == nil {
		log = zap.NewNop()
	}
	st := &Stream{log: log, mode: mode, raw: raw}
	st.c = conn.New(sid, ip, m, st, maxPending)
	return st
}

// Conn implements cable.Transport.
func (st *Stream) Conn() *conn.Conn { return st.c }

// SocketID implements pubsub.Subscriber.
func (st *Stream) SocketID() string { return st.c.SID() }

// Deliver implements pubsub.Subscriber. It runs on the publisher's
// goroutine, under the subscription's lock, so it only frames and queues.
func (st *Stream) Deliver(s *pubsub.Subscription, d *pubsub.Delivery) {
	frame, open, ok := st.frameFor(s, d)
	if !ok {
		return
	}
	m := &d.Msg
	st.c.Locked(func(q conn.Queue) {
		if q.Closed() {
			return
		}
		q.Delivered(1)
		n := q.Len()
		q.Push(frame)
		if open {
			st.setPosition(m.Stream, m.Epoch, m.Offset)
			q.Push(st.idLine())
		}
		q.Bound(n)
	})
}

// frameFor returns the shared frame of d for this connection and
// subscription, and whether the connection appends its own id line to it;
// ok is false when the connection does not take the message.
func (st *Stream) frameFor(s *pubsub.Subscription, d *pubsub.Delivery) (frame []byte, open, ok bool) {
	m := &d.Msg
	typed := m.BroadcastType != ""
	if typed && st.raw {
		return nil, false, false // raw streams carry data only
	}
	var key pubsub.FrameKey
	switch {
	case typed:
		key = pubsub.FrameKey{Form: formTyped, Identifier: s.Identifier}
	case st.mode == ModePOST:
		key = pubsub.FrameKey{Form: formPOSTData, Identifier: s.Identifier}
	default:
		key = pubsub.FrameKey{Form: formGETData}
	}
	if st.multi && m.Offset > 0 {
		key.Form |= formOpen
	}
	frame = d.Frame(key, func(m *pubsub.Message) []byte { return buildFrame(m, key, s.Identifier) })
	return frame, key.Form&formOpen != 0, true
}

// Replay implements cable.Transport: it queues recovered history for s, as
// much of it as fits within max_pending (the first message always when
// first is set, so that a resume makes progress), and returns how many
// deliveries it took. The frames are the deliveries' shared ones.
func (st *Stream) Replay(s *pubsub.Subscription, ds []*pubsub.Delivery, first bool) int {
	taken := 0
	st.c.Locked(func(q conn.Queue) {
		if q.Closed() {
			taken = len(ds)
			return
		}
		queued := 0
		for i, d := range ds {
			// Framed with the queue locked: a replay runs before the
			// writer starts, so nothing waits on the lock meanwhile.
			frame, open, ok := st.frameFor(s, d)
			if !ok {
				taken++
				continue
			}
			n := q.Len()
			var prev protocol.StreamPosition
			q.Push(frame)
			if open {
				prev = st.position(d.Msg.Stream)
				st.setPosition(d.Msg.Stream, d.Msg.Epoch, d.Msg.Offset)
				q.Push(st.idLine())
			}
			if !q.Fits(0) && !(first && i == 0) {
				q.Truncate(n)
				if open {
					st.setPosition(prev.Stream, prev.Epoch, prev.Offset)
				}
				break
			}
			queued++
			taken++
		}
		q.Delivered(queued)
		if queued > 0 {
			q.KeepAll()
		}
	})
	return taken
}

// startPositions records, before any history is written, where each
// stream of a multi-stream connection starts: its first id must carry
// every stream's position.
func (st *Stream) startPositions(subs []*pubsub.Subscription, snaps []pubsub.Snapshot, starts []uint64) {
	st.c.Locked(func(conn.Queue) {
		for i, sn := range snaps {
			st.setPosition(subs[i].Stream, sn.Top.Epoch, starts[i])
		}
	})
}

// idLine cuts the id line (and the blank line ending the event) of a
// multi-stream connection from its arena.
func (st *Stream) idLine() []byte {
	const arenaSize = 1 << 10
	need := 8 + 64*len(st.positions)
	if cap(st.arena)-len(st.arena) < need {
		st.arena = make([]byte, 0, max(arenaSize, need))
	}
	start := len(st.arena)
	st.arena = append(st.arena, "id: "...)
	st.arena = protocol.AppendMultiEventID(st.arena, st.positions)
	st.arena = append(st.arena, '\n', '\n')
	return st.arena[start:len(st.arena):len(st.arena)]
}

// position is the connection's position in stream.
func (st *Stream) position(stream string) protocol.StreamPosition {
	for _, p := range st.positions {
		if p.Stream == stream {
			return p
		}
	}
	return protocol.StreamPosition{Stream: stream}
}

func (st *Stream) setPosition(stream, epoch string, offset uint64) {
	for i := range st.positions {
		if st.positions[i].Stream == stream {
			st.positions[i].Epoch = epoch
			st.positions[i].Offset = offset
			return
		}
	}
	st.positions = append(st.positions, protocol.StreamPosition{Stream: stream, Epoch: epoch, Offset: offset})
}

// Reset implements pubsub.Subscriber: the stream of s jumped. An epoch
// change is announced with reject_history and delivery goes on in the new
// epoch; a gap that cannot be filled ends the connection so the client
// resumes from its last id.
func (st *Stream) Reset(s *pubsub.Subscription, reason string) {
	if reason == pubsub.ResetEpochChanged {
		st.Reply(protocol.Reply{Type: protocol.TypeRejectHistory, Identifier: s.Identifier})
		return
	}
	st.c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: "resync", Reconnect: true, ForceReconnect: true})
}

// Reply implements cable.Transport: a server-made message as an event
// named by its type (nothing in raw mode).
func (st *Stream) Reply(r protocol.Reply) {
	if st.raw {
		return
	}
	st.c.Enqueue(AppendEvent(nil, r.Type, r.AppendJSON(nil), "", 0))
}

// Transmit implements cable.Transport: a message the app sent, typed ones
// as events, data ones in the connection's data format. Anything that is
// not a JSON object is dropped, as AnyCable does.
func (st *Stream) Transmit(t string) {
	r, ok := protocol.ParseTransmission(t)
	if !ok {
		st.log.Warn("dropping a transmission that is not a JSON object", zap.String("sid", st.c.SID()))
		return
	}
	if r.Type != "" {
		st.Reply(r)
		return
	}
	var payload []byte
	if st.mode == ModeGET {
		if r.HasMessage {
			payload = r.Message.AppendUnwrapped(nil)
		} else {
			payload = []byte("null") // what AnyCable writes for a data message without one
		}
	} else {
		payload = r.AppendJSON(nil)
	}
	st.c.Enqueue(AppendEvent(nil, "", payload, "", 0))
}

// The conn.Codec of SSE streams.

// Disconnect implements conn.Codec: a server-made disconnect (nothing in
// raw mode), with a retry hint that keeps EventSource away when the client
// must not come back.
func (st *Stream) Disconnect(r protocol.Reply) []byte {
	if st.raw {
		return nil
	}
	var retry int64
	if !r.Reconnect {
		retry = RetryNever
	}
	return AppendEvent(nil, r.Type, r.AppendJSON(nil), "", retry)
}

// Ping implements conn.Codec: a ping event with the Unix time, or a
// comment line in raw mode. One frame per second is shared by every stream.
func (st *Stream) Ping(now time.Time) []byte {
	if st.raw {
		return keepaliveComment
	}
	return sharedPing(now)
}

var lastPing atomic.Pointer[pingFrame]

type pingFrame struct {
	unix  int64
	frame []byte
}

func sharedPing(now time.Time) []byte {
	sec := now.Unix()
	if p := lastPing.Load(); p != nil && p.unix == sec {
		return p.frame
	}
	p := &pingFrame{unix: sec, frame: pingEvent(now)}
	lastPing.Store(p)
	return p.frame
}

// pingEvent is `event: ping` with the Unix time in seconds.
func pingEvent(now time.Time) []byte {
	r := protocol.Reply{Type: protocol.TypePing, RawMessage: strconv.AppendInt(nil, now.Unix(), 10)}
	return AppendEvent(nil, r.Type, r.AppendJSON(nil), "", 0)
}

// Wrap implements conn.Codec: one flush is one HTTP chunk.
func (st *Stream) Wrap(dst net.Buffers, data [][]byte, size int) net.Buffers {
	if size == 0 {
		return dst
	}
	hdr := strconv.AppendInt(make([]byte, 0, 18), int64(size), 16)
	dst = append(dst, append(hdr, '\r', '\n'))
	dst = append(dst, data...)
	return append(dst, crlf)
}

// End implements conn.Codec: the chunked terminator.
func (st *Stream) End() []byte { return chunkEnd }

// chunkEnd ends a chunked response; crlf ends one chunk.
var (
	chunkEnd = []byte("0\r\n\r\n")
	crlf     = []byte("\r\n")
)

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
