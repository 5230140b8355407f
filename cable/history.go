package cable

import (
	"context"
	"errors"
	"math"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// replayState is what one round of joins knows about the history it
// replays, so that a request cannot hold more recovered history than
// max_pending lets it write.
type replayState struct {
	// reserved is what the joined snapshots' history will take at least
	// (their data bytes).
	reserved int
	// cut: a snapshot was trimmed to fit; ended: the replay stopped there
	// and the connection is ending. any: some history is queued.
	cut, ended, any bool
	// replayed holds the deliveries being replayed, so that the shared
	// cache keeps them (and their frames) for the concurrent replays.
	replayed []*pubsub.Delivery
}

// Joined is one subscription whose streams are joined (their live messages
// parked until Release) with the history snapshot of each.
type Joined struct {
	Identifier string
	Subs       []*pubsub.Subscription
	Snaps      []pubsub.Snapshot
	// Starts is where each stream's replay starts (the offset before its
	// first recovered message), taken before the budget trims: a stream
	// whose history was cut away is recorded there, not at its top, so
	// that a resume from the first id still replays it.
	Starts []uint64
	// Asked: the client asked for history, so it gets confirm_history or
	// reject_history.
	Asked   bool
	partial []bool // the snapshot's messages were trimmed to fit
}

// Join joins every stream of one subscription at the positions asked (or
// since a Unix time). The subscriptions park live messages until Release:
// history goes out first.
func (s *Session) Join(ctx context.Context, identifier string, streams []string, positions []protocol.StreamPosition, since int64) (*Joined, Outcome) {
	cfg := s.cfg
	j := &Joined{Identifier: identifier}
	for _, stream := range streams {
		hreq := pubsub.HistoryRequest{Since: clampSince(since)}
		for _, p := range positions {
			if p.Stream == stream {
				hreq.From = &pubsub.Position{Epoch: p.Epoch, Offset: p.Offset}
			}
		}
		sub, snap, err := cfg.Hub.Join(ctx, s.t, identifier, stream, hreq)
		if errors.Is(err, pubsub.ErrHubFull) {
			// A cap of the server, not an outage.
			return j, fail(Full, "server stream or subscription limit reached")
		}
		if err != nil {
			cfg.Log.Warn("joining a stream failed", zap.String("sid", s.SID()), zap.String("stream", stream), zap.Error(err))
			return j, Outcome{Kind: Unavailable, Reason: "broker unavailable", Cause: CauseBroker}
		}
		s.subs = append(s.subs, sub)
		j.Subs = append(j.Subs, sub)
		j.Starts = append(j.Starts, replayStart(snap, hreq.From))
		snap, partial := s.budget(snap)
		j.Snaps = append(j.Snaps, snap)
		j.partial = append(j.partial, partial)
	}
	return j, Done
}

// replayStart is the position a stream's replay starts from, before any of
// its history is written: the offset before the first recovered message,
// else the client's own position in the same epoch, else the top.
func replayStart(snap pubsub.Snapshot, from *pubsub.Position) uint64 {
	if snap.Status == pubsub.Recovered {
		if len(snap.Messages) > 0 && snap.Messages[0].Offset > 0 {
			return snap.Messages[0].Offset - 1
		}
		if from != nil && from.Epoch == snap.Top.Epoch && from.Offset <= snap.Top.Offset {
			return from.Offset
		}
	}
	return snap.Top.Offset
}

// A replay is bounded by max_pending from its first byte, like the live
// queue. History that does not fit is not refused: the connection replays
// the oldest messages that fit (at least one, so every attempt makes
// progress), then ends with disconnect reconnect:true, and the client
// resumes from the last message it got, on the next connection. A resume
// after a too_slow cut, whose missing history is larger than max_pending
// by definition, so stays lossless, while one request (many identifiers
// each asking for the whole history) costs at most max_pending. Answering
// reject_history instead would lose those messages; refusing the
// connection would stop EventSource for good.

// budget trims a snapshot to the messages whose data alone fits beside what
// the connection holds and the earlier snapshots reserved, and lets the
// rest go now rather than after every stream is joined. partial reports a
// trimmed snapshot (the connection then ends after its replay).
func (s *Session) budget(snap pubsub.Snapshot) (out pubsub.Snapshot, partial bool) {
	rs := &s.replay
	if snap.Status != pubsub.Recovered || len(snap.Messages) == 0 {
		return snap, false
	}
	if rs.cut {
		snap.Messages = nil // never replayed: the connection ends first
		return snap, true
	}
	var room int
	s.t.Conn().Locked(func(q conn.Queue) { room = q.Room() })
	if room == math.MaxInt {
		return snap, false
	}
	room -= rs.reserved
	k, least := 0, 0
	for k < len(snap.Messages) && (k == 0 || least+len(snap.Messages[k].Data) <= room) {
		least += len(snap.Messages[k].Data)
		k++
	}
	rs.reserved += least
	if k < len(snap.Messages) {
		rs.cut = true
		snap.Messages = snap.Messages[:k:k]
		return snap, true
	}
	return snap, false
}

// WriteHistory queues a subscription's recovered messages, then
// confirm_history or reject_history when the client asked. Once a replay
// was cut short, nothing more is written: the connection ends and the
// client resumes.
func (s *Session) WriteHistory(j *Joined) {
	cfg, rs := s.cfg, &s.replay
	if rs.ended {
		return
	}
	rejected := false
	for i, snap := range j.Snaps {
		switch snap.Status {
		case pubsub.Recovered:
			cfg.metrics().History("recovered")
			if len(snap.Messages) == 0 && !j.partial[i] {
				continue
			}
			ds := s.deliveries(j.Subs[i].Stream, snap.Messages)
			if n := s.t.Replay(j.Subs[i], ds, !rs.any); n < len(ds) || j.partial[i] {
				s.endReplay(j.Subs[i].Stream)
				return
			}
			rs.any = true
		case pubsub.NotRecovered:
			cfg.metrics().History("not_recovered")
			rejected = true
			if ce := cfg.Log.Check(zapcore.DebugLevel, "history not recovered"); ce != nil {
				ce.Write(zap.String("sid", s.SID()), zap.String("stream", j.Subs[i].Stream), zap.String("reason", snap.Reason))
			}
		}
	}
	if j.Asked {
		t := protocol.TypeConfirmHistory
		if rejected {
			t = protocol.TypeRejectHistory
		}
		s.t.Reply(protocol.Reply{Type: t, Identifier: j.Identifier})
	}
}

// Release lets the joined streams' parked live messages through, after
// their history, and forgets the replayed deliveries: the queue holds the
// frames it needs, the session must not keep them (and every form built on
// them) for its lifetime.
func (s *Session) Release(js ...*Joined) {
	s.replay = replayState{}
	for _, j := range js {
		for _, sub := range j.Subs {
			sub.Release()
		}
	}
}

// endReplay ends a connection whose replay did not fit within max_pending,
// after what was queued: the client comes back at once and resumes from its
// last message.
func (s *Session) endReplay(stream string) {
	s.replay.ended = true
	s.cfg.metrics().History("partial")
	if ce := s.cfg.Log.Check(zapcore.DebugLevel, "history replay over max_pending; the client resumes on a new connection"); ce != nil {
		ce.Write(zap.String("sid", s.SID()), zap.String("stream", stream))
	}
	s.t.Conn().EndPartialReplay()
}

// deliveries wraps stored messages for replay through the shared cache.
func (s *Session) deliveries(stream string, msgs []pubsub.Message) []*pubsub.Delivery {
	out := make([]*pubsub.Delivery, len(msgs))
	for i := range msgs {
		if s.cfg.Replays != nil {
			out[i] = s.cfg.Replays.delivery(stream, &msgs[i])
		} else {
			out[i] = &pubsub.Delivery{Msg: msgs[i]}
		}
	}
	s.replay.replayed = append(s.replay.replayed, out...)
	return out
}

// clampSince keeps a history_since far in the future (or in milliseconds)
// from overflowing when a broker turns it into milliseconds: it then asks
// for nothing, as AnyCable answers it.
func clampSince(since int64) int64 {
	const max = math.MaxInt64 / 1000
	if since > max {
		return max
	}
	return since
}
