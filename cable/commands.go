package cable

import (
	"context"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/rpc"
)

// The commands a client sends after its handshake over a two-way transport
// (WebSocket): unsubscribe, perform and history. SSE subscribes once, in
// its request, and never gets here.

// Subscribed reports whether identifier is subscribed.
func (s *Session) Subscribed(identifier string) bool {
	return slices.Contains(s.subscribed, identifier)
}

// local reports whether identifier is served without the app ($pubsub,
// and Turbo or CableReady streams verified locally).
func (s *Session) local(identifier string) bool {
	info, isJSON := protocol.ParseIdentifier(identifier)
	return isJSON && (info.Channel == protocol.ChannelPubSub ||
		(info.Channel == protocol.ChannelTurbo && s.cfg.Turbo.Enabled()) ||
		(info.Channel == protocol.ChannelCableReady && s.cfg.CableReady.Enabled()))
}

// Unsubscribe ends a subscription: the app's unsubscribe for a channel
// (whatever it answers, the streams stop), nothing to send for a local
// stream. Action Cable has no confirmation.
func (s *Session) Unsubscribe(ctx context.Context, identifier string) Outcome {
	if !s.Subscribed(identifier) {
		return fail(Invalid, "unknown subscription: "+identifier)
	}
	var out Outcome
	if !s.local(identifier) && s.cfg.RPC != nil {
		res, o := s.command(ctx, "unsubscribe", identifier, "")
		out = o
		if res != nil {
			for _, t := range res.Transmissions {
				s.t.Transmit(t)
			}
		}
	}
	s.leaveStreams(identifier, nil)
	s.subscribed = slices.DeleteFunc(s.subscribed, func(id string) bool { return id == identifier })
	delete(s.istate, identifier)
	return out
}

// Perform runs a channel action through the app (the RPC command
// "message" with the client's data): its transmissions are sent, its
// stream changes applied, its state merged. A perform on a local stream
// does nothing, as in AnyCable.
func (s *Session) Perform(ctx context.Context, identifier, data string) Outcome {
	if !s.Subscribed(identifier) {
		return fail(Invalid, "unknown subscription "+identifier)
	}
	if s.local(identifier) || s.cfg.RPC == nil {
		return Done
	}
	res, out := s.command(ctx, "message", identifier, data)
	if res == nil {
		return out
	}
	// The app's stream changes first, so that nothing published after a
	// transmission that announces them is missed.
	if res.Status == rpc.StatusSuccess {
		if o := s.applyStreams(ctx, identifier, res); o.Kind != OK {
			out = o
		}
	}
	for _, t := range res.Transmissions {
		s.t.Transmit(t)
	}
	if res.Disconnect {
		s.closeAfter = true
	}
	return out
}

// command makes one RPC command call for a subscribed channel with the
// connection's state and the channel's, and merges the state the app
// hands back. res is nil when the call failed.
func (s *Session) command(ctx context.Context, command, identifier, data string) (*rpc.CommandResponse, Outcome) {
	cfg := s.cfg
	env := s.Env
	env.CState = s.cstate
	env.IState = s.istate[identifier]
	start := time.Now()
	res, err := cfg.RPC.Command(ctx, s.SID(), &rpc.CommandRequest{
		Command:               command,
		Identifier:            identifier,
		ConnectionIdentifiers: s.t.Conn().Identifiers(),
		Data:                  data,
		Env:                   env,
	})
	cfg.metrics().RPC("command", time.Since(start), err)
	if err != nil {
		cfg.Log.Warn("rpc "+command+" failed", zap.String("sid", s.SID()), zap.Error(err))
		if rpc.Unavailable(err) {
			return nil, Outcome{Kind: Unavailable, Reason: "rpc unavailable", Cause: CauseRPC}
		}
		return nil, fail(Rejected, "rpc "+command+" error")
	}
	if res.Env != nil {
		s.cstate = mergeState(s.cstate, res.Env.CState)
		if res.Env.IState != nil {
			if s.istate == nil {
				s.istate = make(map[string]map[string]string)
			}
			s.istate[identifier] = mergeState(s.istate[identifier], res.Env.IState)
		}
	}
	switch res.Status {
	case rpc.StatusSuccess:
		return res, Done
	case rpc.StatusFailure:
		return res, fail(Rejected, command+" failed")
	default:
		return res, fail(Rejected, "application error: "+res.ErrorMsg)
	}
}

// applyStreams applies a command answer's stream changes to identifier:
// stop_streams, then stopped_streams, then the new streams (joined live,
// without history), as AnyCable orders them.
func (s *Session) applyStreams(ctx context.Context, identifier string, res *rpc.CommandResponse) Outcome {
	if res.StopStreams {
		s.leaveStreams(identifier, nil)
	} else if len(res.StoppedStreams) > 0 {
		s.leaveStreams(identifier, res.StoppedStreams)
	}
	var streams []string
	for _, st := range res.Streams {
		if err := protocol.ValidStreamName(st, s.cfg.MaxStreamName); err != nil {
			s.cfg.Log.Warn("app returned an invalid stream name", zap.String("sid", s.SID()), zap.Error(err))
			continue
		}
		if !s.following(identifier, st) && !slices.Contains(streams, st) {
			streams = append(streams, st)
		}
	}
	if len(streams) == 0 {
		return Done
	}
	j, out := s.Join(ctx, identifier, streams, nil, 0)
	s.Release(j)
	return out
}

// following reports whether identifier already follows stream.
func (s *Session) following(identifier, stream string) bool {
	for _, sub := range s.subs {
		if sub.Identifier == identifier && sub.Stream == stream {
			return true
		}
	}
	return false
}

// leaveStreams leaves identifier's streams: those named, or all of them
// when streams is nil.
func (s *Session) leaveStreams(identifier string, streams []string) {
	s.subs = slices.DeleteFunc(s.subs, func(sub *pubsub.Subscription) bool {
		if sub.Identifier != identifier || (streams != nil && !slices.Contains(streams, sub.Stream)) {
			return false
		}
		s.cfg.Hub.Leave(sub)
		return true
	})
}

// History answers a history command for a subscribed identifier: for each
// of its streams, the stored messages after the client's position (or
// since a time) that this connection has not had live, then
// confirm_history; reject_history when any stream cannot be recovered.
// Messages published after the stream was joined came live already, so
// they are not sent twice.
func (s *Session) History(ctx context.Context, identifier string, h *protocol.HistoryParams) Outcome {
	if !s.Subscribed(identifier) {
		return fail(Invalid, "unknown subscription "+identifier)
	}
	if h == nil || !h.Requested() {
		return fail(Invalid, "history request is missing")
	}
	// A restored subscription's live messages come after its history.
	defer s.releaseRestored(identifier)
	// The replayed deliveries go with the answer, whichever it is.
	defer func() { s.replay = replayState{} }()
	var batches [][]*pubsub.Delivery
	var subs []*pubsub.Subscription
	for _, sub := range s.subs {
		if sub.Identifier != identifier {
			continue
		}
		req := pubsub.HistoryRequest{}
		if p, ok := h.Streams[sub.Stream]; ok {
			req.From = &pubsub.Position{Epoch: p.Epoch, Offset: p.Offset}
		} else if h.Since > 0 {
			req.Since = clampSince(h.Since)
		} else {
			continue
		}
		snap, err := s.cfg.Hub.History(ctx, sub.Stream, req)
		if err != nil {
			s.cfg.Log.Warn("reading history failed", zap.String("sid", s.SID()), zap.String("stream", sub.Stream), zap.Error(err))
			snap.Status = pubsub.NotRecovered
		}
		joined := sub.Joined()
		if snap.Status != pubsub.Recovered || (req.From != nil && joined.Epoch != "" && snap.Top.Epoch != joined.Epoch) {
			s.cfg.metrics().History("not_recovered")
			s.t.Reply(protocol.Reply{Type: protocol.TypeRejectHistory, Identifier: identifier})
			return Done
		}
		s.cfg.metrics().History("recovered")
		msgs := snap.Messages
		// What came after the join was delivered live.
		for len(msgs) > 0 && msgs[len(msgs)-1].Offset > joined.Offset {
			msgs = msgs[:len(msgs)-1]
		}
		batches = append(batches, s.deliveries(sub.Stream, msgs))
		subs = append(subs, sub)
	}
	for i, ds := range batches {
		if n := s.t.Replay(subs[i], ds, i == 0); n < len(ds) {
			s.endReplay(subs[i].Stream)
			s.replay = replayState{}
			return Done
		}
	}
	s.replay = replayState{}
	s.t.Reply(protocol.Reply{Type: protocol.TypeConfirmHistory, Identifier: identifier})
	return Done
}
