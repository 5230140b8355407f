package cable

import (
	"context"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/rpc"
)

// Subscribe resolves one identifier to its streams: $pubsub (public or
// signed), Turbo and CableReady streams locally, anything else through the
// app. On success the confirmation is queued (locally made, or among the
// app's transmissions) and the identifier counts as subscribed; the
// streams are joined with Join.
func (s *Session) Subscribe(ctx context.Context, identifier string) ([]string, Outcome) {
	if slices.Contains(s.subscribed, identifier) {
		return nil, fail(Invalid, "already subscribed: "+identifier)
	}
	cfg := s.cfg
	info, isJSON := protocol.ParseIdentifier(identifier)
	local := isJSON && (info.Channel == protocol.ChannelPubSub ||
		(info.Channel == protocol.ChannelTurbo && cfg.Turbo.Enabled()) ||
		(info.Channel == protocol.ChannelCableReady && cfg.CableReady.Enabled()))
	if !local {
		streams, out := s.subscribeRPC(ctx, identifier)
		if out.Kind == OK {
			s.subscribed = append(s.subscribed, identifier)
		}
		return streams, out
	}
	var stream string
	switch {
	case info.Channel == protocol.ChannelCableReady:
		// CableReady::Stream carries its signed name under "identifier".
		name, err := cfg.CableReady.Verify(info.CableReadyIdentifier)
		if err != nil {
			return nil, fail(Invalid, "signed stream rejected: "+err.Error())
		}
		stream = name
	case info.SignedStreamName != "":
		v := cfg.Streams
		if info.Channel == protocol.ChannelTurbo {
			v = cfg.Turbo
		}
		if v == nil || !v.Enabled() {
			return nil, fail(Invalid, "signed streams need streams_secrets (or secret)")
		}
		name, err := v.Verify(info.SignedStreamName)
		if err != nil {
			return nil, fail(Invalid, "signed stream rejected: "+err.Error())
		}
		stream = name
	case info.Channel == protocol.ChannelPubSub && info.StreamName != "":
		if !cfg.PublicStreams {
			return nil, fail(Invalid, "public streams are disabled")
		}
		stream = info.StreamName
	default:
		return nil, fail(Invalid, "no stream in identifier")
	}
	if err := protocol.ValidStreamName(stream, cfg.MaxStreamName); err != nil {
		return nil, fail(Invalid, err.Error())
	}
	s.t.Reply(protocol.Reply{Type: protocol.TypeConfirmSubscription, Identifier: identifier})
	s.subscribed = append(s.subscribed, identifier)
	return []string{stream}, Done
}

// ErrNoRPC is the reason given for a channel subscription without an app.
const ErrNoRPC = "channel subscriptions need rpc_url"

func (s *Session) subscribeRPC(ctx context.Context, identifier string) ([]string, Outcome) {
	cfg := s.cfg
	if cfg.RPC == nil {
		return nil, fail(Invalid, ErrNoRPC)
	}
	env := s.Env
	env.CState = s.cstate
	start := time.Now()
	res, err := cfg.RPC.Command(ctx, s.SID(), &rpc.CommandRequest{
		Command:               "subscribe",
		Identifier:            identifier,
		ConnectionIdentifiers: s.t.Conn().Identifiers(),
		Env:                   env,
	})
	cfg.metrics().RPC("command", time.Since(start), err)
	if err != nil {
		if appMayHaveRun(ctx, err) {
			// The client left, or the answer came too late, while the app
			// was subscribing: its subscribed callback may have run, so
			// the disconnect call names this channel too (its
			// unsubscribed then runs).
			s.rpcConnected = true
			s.subscribed = append(s.subscribed, identifier)
		}
		cfg.Log.Warn("rpc subscribe failed", zap.String("sid", s.SID()), zap.Error(err))
		if rpc.Unavailable(err) {
			return nil, Outcome{Kind: Unavailable, Reason: "rpc unavailable", Cause: CauseRPC}
		}
		return nil, fail(Invalid, "rpc subscribe error")
	}
	// Any answer means the app has seen the connection: it gets a
	// disconnect call at the end, and its state updates count, whatever
	// the status (as AnyCable does).
	s.rpcConnected = true
	if res.Env != nil {
		s.cstate = mergeState(s.cstate, res.Env.CState)
	}
	switch res.Status {
	case rpc.StatusSuccess:
	case rpc.StatusFailure:
		for _, t := range res.Transmissions {
			s.t.Transmit(t) // the app's reject_subscription
		}
		return nil, fail(Rejected, "subscription rejected")
	default:
		return nil, fail(Rejected, "application error: "+res.ErrorMsg)
	}
	if res.Env != nil && res.Env.IState != nil {
		if s.istate == nil {
			s.istate = make(map[string]map[string]string)
		}
		s.istate[identifier] = mergeState(s.istate[identifier], res.Env.IState)
	}
	for _, t := range res.Transmissions {
		s.t.Transmit(t)
	}
	// AnyCable applies stop_streams / stopped_streams before streams; at
	// subscribe time there is nothing earlier to stop, so every stream the
	// app names is followed ("stop_all_streams; stream_for user" included).
	var streams []string
	for _, st := range res.Streams {
		if err := protocol.ValidStreamName(st, cfg.MaxStreamName); err != nil {
			cfg.Log.Warn("app returned an invalid stream name", zap.String("sid", s.SID()), zap.Error(err))
			return nil, fail(Invalid, "invalid stream from app")
		}
		if !slices.Contains(streams, st) {
			streams = append(streams, st)
		}
	}
	if res.Disconnect {
		s.closeAfter = true
	}
	return streams, Done
}
