package cable

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/rpc"
)

// Session is one client's Action Cable session: what the app knows about
// it (identifiers, cstate, istate), its subscriptions and the streams they
// joined. A transport drives it from one goroutine at a time.
type Session struct {
	cfg *Config
	t   Transport
	// Env is what the app is told about the request (URL, headers); set
	// by the transport when there is an app.
	Env rpc.Env
	// Token is the JWT the client sent, if any.
	Token string

	// rpcConnected: the app knows this connection (an RPC connect or
	// subscribe succeeded, or may have), so it gets exactly one
	// disconnect call.
	rpcConnected bool
	cstate       map[string]string
	istate       map[string]map[string]string
	// subscribed lists the identifiers the app has seen subscribe, in
	// order, for the disconnect call.
	subscribed []string
	// subs are the joined streams, for leaving them at the end.
	subs []*pubsub.Subscription
	// closeAfter: the app asked to disconnect while subscribing.
	closeAfter bool
	// saved: the session is in the recovery cache; superseded: another
	// connection restored it, this one no longer saves it.
	saved, superseded bool

	replay replayState
}

// New starts a session on a transport.
func New(cfg *Config, t Transport) *Session {
	return &Session{cfg: cfg, t: t}
}

// SID is the session id.
func (s *Session) SID() string { return s.t.Conn().SID() }

// Subscriptions is the identifiers the session subscribed to, in order.
func (s *Session) Subscriptions() []string { return s.subscribed }

// Streams is how many streams the session joined.
func (s *Session) Streams() int { return len(s.subs) }

// CloseRequested reports whether the app asked, in a subscribe or
// perform answer, to end the connection after what it sent.
func (s *Session) CloseRequested() bool { return s.closeAfter }

// Authenticate runs connect: through the app when rpc_url is set,
// otherwise every connection is accepted with a server-made welcome
// (public and signed streams need no app).
//
// The order is AnyCable's: a JWT when one is given (or required), then
// noauth, then the app.
func (s *Session) Authenticate(ctx context.Context) Outcome {
	cfg := s.cfg
	if cfg.EnforceJWT && (s.Token == "" || !cfg.JWT.Enabled()) {
		// Fail closed: no token, or (a config the module refuses anyway)
		// no key to check one with.
		return fail(Unauthorized, "token required")
	}
	if cfg.JWT.Enabled() && s.Token != "" {
		ids, err := cfg.JWT.Verify(s.Token, time.Now())
		switch {
		case errors.Is(err, protocol.ErrTokenExpired):
			return fail(Unauthorized, "token_expired")
		case errors.Is(err, protocol.ErrTokenNoIdentifiers):
			return fail(Invalid, "token has no string ext claim")
		case err != nil:
			return fail(Unauthorized, "invalid token")
		}
		s.acceptLocally(ids)
		return Done
	}
	if cfg.NoAuth || cfg.RPC == nil {
		s.acceptLocally(`{"sid":"` + s.SID() + `"}`)
		return Done
	}
	start := time.Now()
	res, err := cfg.RPC.Connect(ctx, s.SID(), &rpc.ConnectRequest{Env: s.Env})
	cfg.metrics().RPC("connect", time.Since(start), err)
	if err != nil {
		if appMayHaveRun(ctx, err) {
			// The app may have accepted the connection (its connect
			// callback ran) without our seeing the answer: it gets its
			// disconnect call.
			s.rpcConnected = true
		}
		cfg.Log.Warn("rpc connect failed", zap.String("sid", s.SID()), zap.Error(err))
		if rpc.Unavailable(err) {
			// A deploy or an outage of the app: the client comes back.
			return Outcome{Kind: Unavailable, Reason: "rpc unavailable", Cause: CauseRPC}
		}
		return fail(Invalid, "rpc connect error")
	}
	switch res.Status {
	case rpc.StatusSuccess:
	case rpc.StatusFailure:
		// The app's transmissions (its disconnect unauthorized) are
		// queued: a WebSocket writes them before closing, SSE refuses
		// with 401 and writes nothing.
		for _, t := range res.Transmissions {
			s.t.Transmit(t)
		}
		return fail(Unauthorized, ReasonAppRefused)
	default:
		return fail(Invalid, "application error: "+res.ErrorMsg)
	}
	s.rpcConnected = true
	s.t.Conn().SetIdentifiers(res.Identifiers)
	if res.Env != nil {
		s.cstate = mergeState(s.cstate, res.Env.CState)
	}
	for _, t := range res.Transmissions {
		s.t.Transmit(t)
	}
	return Done
}

// ReasonAppRefused is the reason of an Unauthorized outcome decided by the
// app (its transmissions say so to the client).
const ReasonAppRefused = "unauthorized"

// acceptLocally authenticates without the app: the server writes the
// welcome, with the sid as AnyCable does.
func (s *Session) acceptLocally(identifiers string) {
	s.t.Conn().SetIdentifiers(identifiers)
	s.t.Reply(protocol.Reply{Type: protocol.TypeWelcome, Sid: s.SID()})
}

// appMayHaveRun says whether a failed RPC call may still have run in the
// app: the client left while it was in flight, or its answer did not come
// within rpc_timeout (the client is then deferred, and comes back).
func appMayHaveRun(ctx context.Context, err error) bool {
	var re *rpc.Error
	return ctx.Err() != nil || (errors.As(err, &re) && re.Kind == rpc.KindTimeout)
}

// mergeState merges an app's state update: an empty value deletes the key.
func mergeState(dst, upd map[string]string) map[string]string {
	if len(upd) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]string, len(upd))
	}
	for k, v := range upd {
		if v == "" {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// Leave leaves every joined stream. The transport calls it once the
// connection stopped taking messages, before End.
func (s *Session) Leave() {
	for _, sub := range s.subs {
		s.cfg.Hub.Leave(sub)
	}
}

// End tells the app, exactly once, that a connection it accepted is gone.
// It may take a while (an RPC call with its own timeout): transports call
// it off their writers.
func (s *Session) End() {
	if !s.rpcConnected {
		return
	}
	s.rpcConnected = false
	cfg := s.cfg
	env := s.Env
	env.CState = s.cstate
	if len(s.istate) > 0 {
		env.IState = make(map[string]string, len(s.istate))
		for id, st := range s.istate {
			b, _ := json.Marshal(st)
			env.IState[id] = string(b)
		}
	}
	// The request context is gone by now; the disconnect call gets its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subs := s.subscribed
	if subs == nil {
		subs = []string{}
	}
	start := time.Now()
	_, err := cfg.RPC.Disconnect(ctx, s.SID(), &rpc.DisconnectRequest{Identifiers: s.t.Conn().Identifiers(), Subscriptions: subs, Env: env})
	cfg.metrics().RPC("disconnect", time.Since(start), err)
	if err != nil {
		cfg.Log.Warn("rpc disconnect failed", zap.String("sid", s.SID()), zap.Error(err))
	}
}

// KnownToApp reports whether the app will get a disconnect call.
func (s *Session) KnownToApp() bool { return s.rpcConnected }
