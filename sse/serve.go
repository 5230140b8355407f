package sse

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Options are the per-configuration settings of the SSE endpoint.
type Options struct {
	// PingInterval between pings; 0 disables them.
	PingInterval time.Duration
	// WriteTimeout bounds one write to a client.
	WriteTimeout time.Duration
	// MaxPending bounds the bytes queued for one client.
	MaxPending int
	// PublicStreams allows unsigned stream names.
	PublicStreams bool
	// Streams verifies $pubsub signed stream names.
	Streams *protocol.Verifier
	// Turbo verifies Turbo::StreamsChannel names locally when enabled.
	Turbo *protocol.Verifier
	// RPC is the app; nil when no rpc_url is configured.
	RPC *protocol.RPCClient
	// JWT verifies identification tokens locally (anycable-rails-jwt);
	// nil or disabled when no jwt secret is configured.
	JWT *protocol.JWTVerifier
	// JWTParam names the token's query parameter; the header is "X-" + it.
	JWTParam string
	// EnforceJWT refuses connections without a token (401).
	EnforceJWT bool
	// NoAuth accepts every connection without asking the app.
	NoAuth bool
	// RPCHeaders are the lowercased request headers forwarded to the app.
	RPCHeaders []string
	// MaxPostBody bounds a POST JSONL body.
	MaxPostBody int64
	// MaxIdentifier and MaxStreamName bound identifiers and stream names.
	MaxIdentifier int
	MaxStreamName int
	// MaxURL bounds the request URL (path and query).
	MaxURL int
	// MaxStreams bounds the streams one connection subscribes to.
	MaxStreams int
	// MaxConnsPerIP bounds open connections per client address; 0: none.
	MaxConnsPerIP int
	// AllowedOrigins, when set, limits which origins get CORS headers;
	// EnforceOrigins refuses the others with 403.
	AllowedOrigins []string
	EnforceOrigins bool
	// Version is sent in X-Anycable-Version.
	Version string
}

// Server serves the SSE endpoint of one handler configuration. The hub and
// registry it points at outlive it across reloads.
type Server struct {
	Hub      *pubsub.Hub
	Registry *Registry
	Opts     Options
	Log      *zap.Logger
	Metrics  Metrics
	// Writers writes HTTP/1.1 connections taken over from net/http; nil
	// keeps every connection on the handler path.
	Writers *Writers

	mu   sync.Mutex
	own  map[*Conn]struct{}
	gone bool // CloseAfter was called: end new connections too
}

// metrics returns the configured Metrics or a no-op.
func (s *Server) metrics() Metrics {
	if s.Metrics == nil {
		return noMetrics{}
	}
	return s.Metrics
}

// CloseAfter ends, after delay, every connection this server opened (with
// disconnect reconnect:true, so clients come back to the new config and
// resume from their last id). It is for config reloads with a
// stream_close_delay; by default streams outlive reloads.
func (s *Server) CloseAfter(delay time.Duration) {
	time.AfterFunc(delay, func() {
		s.mu.Lock()
		s.gone = true
		conns := make([]*Conn, 0, len(s.own))
		for c := range s.own {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonServerRestart, Reconnect: true, ForceReconnect: true})
		}
	})
}

func (s *Server) adopt(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return false
	}
	if s.own == nil {
		s.own = make(map[*Conn]struct{})
	}
	s.own[c] = struct{}{}
	return true
}

func (s *Server) disown(c *Conn) {
	s.mu.Lock()
	delete(s.own, c)
	s.mu.Unlock()
}

// RequestInfo is what the web server knows about a request beyond
// http.Request: the absolute URL and the real client address.
type RequestInfo struct {
	URL        string
	RemoteAddr string
}

// ErrorHeader carries the short reason of a refusal.
const ErrorHeader = "X-AnyCable-Error"

// ServeEvents serves GET and POST on the SSE path.
func (s *Server) ServeEvents(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	h := w.Header()
	if !s.setCORS(h, r) && s.Opts.EnforceOrigins {
		s.refuse(w, r, http.StatusForbidden, "origin not allowed", "")
		return
	}
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodGet, http.MethodPost:
	default:
		s.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed", "")
		return
	}
	s.setStreamHeaders(h, r)
	if s.Opts.MaxURL > 0 && len(r.URL.RequestURI()) > s.Opts.MaxURL {
		s.refuse(w, r, http.StatusRequestURITooLong, "URL too long", "")
		return
	}

	req, err := s.parseRequest(r)
	if err != nil {
		var re *requestError
		if errors.As(err, &re) {
			s.refuse(w, r, re.status, re.reason, "")
			return
		}
		s.refuse(w, r, http.StatusBadRequest, err.Error(), "")
		return
	}

	sess := &session{
		srv:  s,
		conn: newConn(sessionID(r), info.RemoteAddr, s.metrics(), req.mode, req.raw, s.Opts.MaxPending),
	}
	// What the app is told about the request; only built when there is an
	// app, since it lives as long as the connection.
	if s.Opts.RPC != nil {
		sess.env = protocol.Env{URL: info.URL, Headers: s.rpcHeaders(r, info)}
	}
	if s.Opts.JWT.Enabled() {
		sess.token = r.Header.Get("X-" + s.Opts.JWTParam)
		if sess.token == "" {
			sess.token = r.URL.Query().Get(s.Opts.JWTParam)
		}
	}
	// The session ends when ServeEvents returns, unless the connection was
	// taken over: then the writer pool ends it. Metrics count the end once
	// the session is gone (registry included).
	handedOver, opened := false, false
	closeReason := ""
	finish := func(reason string) {
		sess.end()
		if !opened {
			return
		}
		s.metrics().SubscriptionsRemoved(len(sess.conn.subs))
		s.metrics().ConnectionClosed(reason)
		if ce := s.Log.Check(zapcore.DebugLevel, "sse connection closed"); ce != nil {
			ce.Write(zap.String("sid", sess.conn.sid), zap.String("reason", reason))
		}
	}
	defer func() {
		if !handedOver {
			finish(closeReason)
		}
	}()

	// Register before the handshake, so that a shutdown or a remote
	// disconnect also reaches connections still subscribing.
	if err := s.Registry.add(sess.conn, s.Opts.MaxConnsPerIP); err != nil {
		if errors.Is(err, errShuttingDown) {
			// A non-200 answer would stop EventSource for good; tell the
			// client to come back instead, as the open streams were told.
			s.restartNow(w, req.raw, 0)
			return
		}
		s.refuse(w, r, http.StatusTooManyRequests, err.Error(), sess.conn.sid)
		return
	}
	sess.registered = true
	if !s.adopt(sess.conn) {
		// This config was replaced and its streams sent away: so is this
		// one, to the new config (a 503 would stop EventSource for good).
		s.restartNow(w, req.raw, 0)
		return
	}
	if status, reason := sess.handshake(r.Context(), req); status != http.StatusOK {
		if status == http.StatusServiceUnavailable {
			// The broker is down for now: a 503 would stop EventSource for
			// good, so answer 200 and ask the client to come back shortly.
			s.Log.Warn("sse connection deferred", zap.String("sid", sess.conn.sid), zap.String("reason", reason))
			s.restartNow(w, req.raw, retryAfterOutage)
			return
		}
		s.refuse(w, r, status, reason, sess.conn.sid)
		return
	}
	s.metrics().ConnectionOpened()
	s.metrics().SubscriptionsAdded(len(sess.conn.subs))
	opened = true
	if s.canTakeOver(r) {
		switch s.takeOver(w, sess.conn, func(reason string) {
			// Off the writer pool: the app's disconnect call may take a while.
			go finish(reason)
		}) {
		case takenOver:
			handedOver = true
			return
		case headerSent:
			closeReason = s.stream(w, r, sess.conn, true)
			return
		}
	}
	closeReason = s.stream(w, r, sess.conn, false)
}

// retryAfterOutage is the reconnect hint (ms) for clients turned away while
// the broker is unavailable.
const retryAfterOutage = 2000

// restartNow answers a connection that cannot be served right now (the
// process exits, or the broker is down): 200 and the disconnect
// server_restart, reconnect:true that open streams get, with an optional
// retry hint in milliseconds. EventSource then comes back by itself.
func (s *Server) restartNow(w http.ResponseWriter, raw bool, retry int64) {
	w.WriteHeader(http.StatusOK)
	var frame []byte
	if !raw {
		r := protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonServerRestart, Reconnect: true, ForceReconnect: true}
		frame = AppendEvent(nil, r.Type, r.AppendJSON(nil), "", retry)
	} else if retry > 0 {
		frame = []byte("retry: " + strconv.FormatInt(retry, 10) + "\n\n")
	}
	_, _ = w.Write(frame)
}

// canTakeOver says whether a request's connection can leave net/http after
// its header: plain-TCP HTTP/1.1 only. HTTP/1.0 has no chunked framing, and
// a TLS connection cannot survive the short write deadlines of the pool
// (crypto/tls breaks the connection after a timed-out write).
func (s *Server) canTakeOver(r *http.Request) bool {
	return s.Writers != nil && r.ProtoMajor == 1 && r.ProtoAtLeast(1, 1) && r.TLS == nil
}

// refuse answers a request that will not stream: status, empty body, and the
// reason in a header and a log line.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, reason, sid string) {
	reason = SetReason(w.Header(), reason)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
	s.metrics().Refused(status)
	if ce := s.Log.Check(zapcore.InfoLevel, "sse request refused"); ce != nil {
		ce.Write(zap.Int("status", status), zap.String("reason", reason), zap.String("sid", sid),
			zap.String("method", r.Method), zap.String("remote", r.RemoteAddr))
	}
}

// SetReason puts a refusal's reason in the ErrorHeader, with control
// characters replaced so that no client input can split the header, and
// returns the cleaned reason.
func SetReason(h http.Header, reason string) string {
	reason = strings.Map(func(c rune) rune {
		if c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, reason)
	if len(reason) > 200 {
		reason = reason[:200]
	}
	h.Set(ErrorHeader, reason)
	return reason
}

func (s *Server) setStreamHeaders(h http.Header, r *http.Request) {
	h.Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0, no-transform")
	if r.ProtoMajor == 1 {
		h.Set("Connection", "keep-alive")
	}
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Expire", "0") // sic: AnyCable's spelling, kept for byte compatibility
	h.Set("Expires", "0")
	h.Set("Pragma", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Anycable-Version", s.Opts.Version)
	h.Set("X-Content-Type-Options", "nosniff")
}

// setCORS writes AnyCable's CORS headers and reports whether the origin is
// allowed (always true when no list is configured).
func (s *Server) setCORS(h http.Header, r *http.Request) bool {
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Headers", "Origin, X-Requested-With, X-Request-ID, Content-Type, Accept, X-CSRF-Token, Authorization")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	if len(s.Opts.AllowedOrigins) == 0 {
		h.Set("Access-Control-Allow-Origin", "*")
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a cross-origin browser request
	}
	if lower, ok := OriginAllowed(origin, s.Opts.AllowedOrigins); ok {
		h.Set("Access-Control-Allow-Origin", lower)
		h.Add("Vary", "Origin")
		return true
	}
	return false
}

func (s *Server) rpcHeaders(r *http.Request, info RequestInfo) map[string]string {
	out := make(map[string]string, len(s.Opts.RPCHeaders)+1)
	for _, name := range s.Opts.RPCHeaders {
		if v := r.Header.Get(name); v != "" {
			out[name] = v
		}
	}
	if info.RemoteAddr != "" {
		out["REMOTE_ADDR"] = info.RemoteAddr
	}
	if s.Opts.JWT.Enabled() {
		name := "x-" + strings.ToLower(s.Opts.JWTParam)
		if v := r.Header.Get(name); v != "" {
			out[name] = v
		}
	}
	return out
}

// stream writes the connection until it ends: the client leaves, the server
// ends it (shutdown, remote disconnect, slow client), or writing fails.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, c *Conn, headerSent bool) (reason string) {
	rc := http.NewResponseController(w)
	c.mu.Lock()
	c.streaming = true
	c.mu.Unlock()
	if !headerSent {
		w.WriteHeader(http.StatusOK)
	}
	// The first round writes the backlog.
	c.wake()
	if err := rc.Flush(); err != nil {
		s.Log.Error("cannot flush the SSE response; is a buffering handler in front of anycable_sse?", zap.Error(err))
		return "flush_unsupported"
	}

	var ping <-chan time.Time
	var pingTimer *time.Timer
	if s.Opts.PingInterval > 0 {
		// The first ping comes at a random point between 0.5 and 1.5
		// intervals, so connections opened together do not ping together.
		pingTimer = time.NewTimer(s.Opts.PingInterval/2 + rand.N(s.Opts.PingInterval))
		defer pingTimer.Stop()
		ping = pingTimer.C
	}

	write := func(b []byte) bool {
		if len(b) == 0 {
			return true
		}
		if s.Opts.WriteTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(s.Opts.WriteTimeout))
		}
		_, err := w.Write(b)
		if err == nil {
			err = rc.Flush()
		}
		if s.Opts.WriteTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Time{})
		}
		if err != nil {
			if ce := s.Log.Check(zapcore.DebugLevel, "sse write failed"); ce != nil {
				ce.Write(zap.String("sid", c.sid), zap.Error(err))
			}
			return false
		}
		return true
	}

	for {
		select {
		case <-c.signal:
			b := c.take()
			ok := write(b)
			c.giveBack(b)
			if !ok {
				return "write_error"
			}
		case <-ping:
			c.enqueue(c.pingFrame(time.Now()))
			pingTimer.Reset(s.Opts.PingInterval)
		case <-c.done:
			write(c.finalBytes())
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.endReason
		case <-r.Context().Done():
			return "client_gone"
		}
	}
}

// pingFrame is a ping event, or a comment line in raw mode.
func (c *Conn) pingFrame(now time.Time) []byte {
	if c.raw {
		return keepaliveComment
	}
	return pingEvent(now)
}

// pingEvent is `event: ping` with the Unix time in seconds.
func pingEvent(now time.Time) []byte {
	r := protocol.Reply{Type: protocol.TypePing, RawMessage: strconv.AppendInt(nil, now.Unix(), 10)}
	return AppendEvent(nil, r.Type, r.AppendJSON(nil), "", 0)
}

// OriginAllowed matches an Origin header against AnyCable's allowed-origins
// rules: an entry "*.example.com" matches any host ending in ".example.com",
// any other entry must equal the host (with its port). It returns the
// lowercased origin on a match.
func OriginAllowed(origin string, allowed []string) (string, bool) {
	lower := strings.ToLower(origin)
	host := lower
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	host = strings.TrimSuffix(host, "/")
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		if strings.HasPrefix(a, "*") {
			if strings.HasSuffix(host, a[1:]) {
				return lower, true
			}
			continue
		}
		if host == a {
			return lower, true
		}
	}
	return "", false
}

// session is one connection's handshake and authentication state: what the
// app knows about it (identifiers, cstate, istate) and its subscriptions.
type session struct {
	srv  *Server
	conn *Conn
	env  protocol.Env

	// rpcConnected: the app knows this connection (an RPC connect or
	// subscribe succeeded), so it gets exactly one disconnect call.
	rpcConnected bool
	// token is the JWT the client sent (header X-<param> or ?<param>=).
	token      string
	cstate     map[string]string
	istate     map[string]map[string]string
	subscribed []string
	registered bool
	// closeAfter ends the stream right after the backlog (the app asked to
	// disconnect while subscribing).
	closeAfter bool
}

// resolved is one confirmed subscription and its streams.
type resolved struct {
	identifier string
	streams    []string
	history    *protocol.HistoryParams
}

// handshake authenticates, subscribes and queues the backlog. It returns 200
// or the refusal status and reason.
func (ss *session) handshake(ctx context.Context, req *parsedRequest) (int, string) {
	s, c := ss.srv, ss.conn

	// Every subscription has at least one stream: refuse an oversized POST
	// before it costs the app one RPC per line.
	if s.Opts.MaxStreams > 0 && len(req.commands) > s.Opts.MaxStreams {
		return http.StatusBadRequest, "too many streams for one connection"
	}
	if status, reason := ss.authenticate(ctx); status != http.StatusOK {
		return status, reason
	}

	var subs []resolved
	for _, cmd := range req.commands {
		streams, status, reason := ss.subscribe(ctx, cmd.identifier)
		if status != http.StatusOK {
			return status, reason
		}
		ss.subscribed = append(ss.subscribed, cmd.identifier)
		subs = append(subs, resolved{identifier: cmd.identifier, streams: streams, history: cmd.history})
	}

	var known []string
	for _, sub := range subs {
		known = append(known, sub.streams...)
	}
	if s.Opts.MaxStreams > 0 && len(known) > s.Opts.MaxStreams {
		return http.StatusBadRequest, "too many streams for one connection"
	}
	c.multi = len(known) > 1
	var positions []protocol.StreamPosition
	if req.lastID != "" {
		var err error
		positions, err = protocol.ParseLastEventID(req.lastID, known)
		if err != nil {
			return http.StatusBadRequest, "bad Last-Event-ID: " + err.Error()
		}
	}

	for _, sub := range subs {
		since := req.since
		var subPositions []protocol.StreamPosition
		if sub.history != nil {
			since = sub.history.Since
			for stream, p := range sub.history.Streams {
				subPositions = append(subPositions, protocol.StreamPosition{Stream: stream, Epoch: p.Epoch, Offset: p.Offset})
			}
		} else {
			subPositions = positions
		}
		// A history request that names no stream of this subscription is
		// still answered with confirm_history, as AnyCable does.
		requested := since > 0 || len(subPositions) > 0
		if status, reason := ss.join(ctx, sub, subPositions, since, requested); status != http.StatusOK {
			return status, reason
		}
	}
	if ss.closeAfter {
		c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonUnauthorized, Reconnect: false, ForceReconnect: true})
	}
	if ce := s.Log.Check(zapcore.DebugLevel, "sse connection opened"); ce != nil {
		ce.Write(zap.String("sid", c.sid), zap.Strings("subscriptions", ss.subscribed), zap.Strings("streams", known))
	}
	return http.StatusOK, ""
}

// join joins every stream of one subscription at the position asked, queues
// the recovered history, then confirm_history or reject_history.
func (ss *session) join(ctx context.Context, sub resolved, positions []protocol.StreamPosition, since int64, asked bool) (int, string) {
	s, c := ss.srv, ss.conn
	rejected := false
	for _, stream := range sub.streams {
		hreq := pubsub.HistoryRequest{Since: since}
		for _, p := range positions {
			if p.Stream == stream {
				hreq.From = &pubsub.Position{Epoch: p.Epoch, Offset: p.Offset}
			}
		}
		subscription, snap, err := s.Hub.Join(ctx, c, sub.identifier, stream, hreq)
		if err != nil {
			s.Log.Warn("joining a stream failed", zap.String("sid", c.sid), zap.String("stream", stream), zap.Error(err))
			return http.StatusServiceUnavailable, "broker unavailable"
		}
		c.subs = append(c.subs, subscription)
		if c.multi {
			c.mu.Lock()
			c.setPositionLocked(stream, snap.Top.Epoch, snap.Top.Offset)
			c.mu.Unlock()
		}
		switch snap.Status {
		case pubsub.Recovered:
			s.metrics().History("recovered")
			for i := range snap.Messages {
				c.Deliver(subscription, &pubsub.Delivery{Msg: snap.Messages[i]})
			}
		case pubsub.NotRecovered:
			s.metrics().History("not_recovered")
			rejected = true
			if ce := s.Log.Check(zapcore.DebugLevel, "history not recovered"); ce != nil {
				ce.Write(zap.String("sid", c.sid), zap.String("stream", stream), zap.String("reason", snap.Reason))
			}
		}
		subscription.Release()
	}
	if asked && !c.raw {
		t := protocol.TypeConfirmHistory
		if rejected {
			t = protocol.TypeRejectHistory
		}
		r := protocol.Reply{Type: t, Identifier: sub.identifier}
		c.enqueue(AppendEvent(nil, t, r.AppendJSON(nil), "", 0))
	}
	return http.StatusOK, ""
}

// authenticate runs connect: through the app when rpc_url is set, otherwise
// every connection is accepted with a server-generated welcome (public and
// signed streams need no app).
//
// The order is AnyCable's: a JWT when one is given (or required), then
// noauth, then the app. Without rpc_url, connections are accepted as with
// noauth.
func (ss *session) authenticate(ctx context.Context) (int, string) {
	s, c := ss.srv, ss.conn
	if s.Opts.JWT.Enabled() {
		if ss.token != "" {
			ids, err := s.Opts.JWT.Verify(ss.token, time.Now())
			switch {
			case errors.Is(err, protocol.ErrTokenExpired):
				return http.StatusUnauthorized, "token_expired"
			case errors.Is(err, protocol.ErrTokenNoIdentifiers):
				return http.StatusBadRequest, "token has no string ext claim"
			case err != nil:
				return http.StatusUnauthorized, "invalid token"
			}
			ss.acceptLocally(ids)
			return http.StatusOK, ""
		}
		if s.Opts.EnforceJWT {
			return http.StatusUnauthorized, "token required"
		}
	}
	if s.Opts.NoAuth || s.Opts.RPC == nil {
		ss.acceptLocally(`{"sid":"` + c.sid + `"}`)
		return http.StatusOK, ""
	}
	start := time.Now()
	res, err := s.Opts.RPC.Connect(ctx, c.sid, &protocol.ConnectRequest{Env: ss.env})
	s.metrics().RPC("connect", time.Since(start), err)
	if err != nil {
		s.Log.Warn("rpc connect failed", zap.String("sid", c.sid), zap.Error(err))
		return http.StatusBadRequest, "rpc connect error"
	}
	switch res.Status {
	case protocol.StatusSuccess:
	case protocol.StatusFailure:
		return http.StatusUnauthorized, "unauthorized"
	default:
		return http.StatusBadRequest, "application error: " + res.ErrorMsg
	}
	ss.rpcConnected = true
	c.setIdentifiers(res.Identifiers)
	if res.Env != nil {
		ss.cstate = mergeState(ss.cstate, res.Env.CState)
	}
	for _, t := range res.Transmissions {
		ss.queueTransmission(t)
	}
	return http.StatusOK, ""
}

// acceptLocally authenticates without the app: the server writes the
// welcome, with the sid as AnyCable does.
func (ss *session) acceptLocally(identifiers string) {
	ss.conn.setIdentifiers(identifiers)
	ss.queueTyped(protocol.Reply{Type: protocol.TypeWelcome, Sid: ss.conn.sid})
}

// subscribe resolves one identifier to its streams: $pubsub (public or
// signed) and Turbo streams locally, anything else through the app.
func (ss *session) subscribe(ctx context.Context, identifier string) ([]string, int, string) {
	s := ss.srv
	for _, done := range ss.subscribed {
		if done == identifier {
			return nil, http.StatusBadRequest, "already subscribed: " + identifier
		}
	}
	info, isJSON := protocol.ParseIdentifier(identifier)
	local := isJSON && (info.Channel == protocol.ChannelPubSub ||
		(info.Channel == protocol.ChannelTurbo && s.Opts.Turbo != nil && s.Opts.Turbo.Enabled()))
	if !local {
		return ss.subscribeRPC(ctx, identifier)
	}
	var stream string
	switch {
	case info.SignedStreamName != "":
		v := s.Opts.Streams
		if info.Channel == protocol.ChannelTurbo {
			v = s.Opts.Turbo
		}
		if v == nil || !v.Enabled() {
			return nil, http.StatusBadRequest, "signed streams need streams_secret"
		}
		name, err := v.Verify(info.SignedStreamName)
		if err != nil {
			return nil, http.StatusBadRequest, "signed stream rejected: " + err.Error()
		}
		stream = name
	case info.Channel == protocol.ChannelPubSub && info.StreamName != "":
		if !s.Opts.PublicStreams {
			return nil, http.StatusBadRequest, "public streams are disabled"
		}
		stream = info.StreamName
	default:
		return nil, http.StatusBadRequest, "no stream in identifier"
	}
	if err := protocol.ValidStreamName(stream, s.Opts.MaxStreamName); err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	ss.queueTyped(protocol.Reply{Type: protocol.TypeConfirmSubscription, Identifier: identifier})
	return []string{stream}, http.StatusOK, ""
}

func (ss *session) subscribeRPC(ctx context.Context, identifier string) ([]string, int, string) {
	s, c := ss.srv, ss.conn
	if s.Opts.RPC == nil {
		return nil, http.StatusBadRequest, errNoRPC.Error()
	}
	env := ss.env
	env.CState = ss.cstate
	start := time.Now()
	res, err := s.Opts.RPC.Command(ctx, c.sid, &protocol.CommandRequest{
		Command:               "subscribe",
		Identifier:            identifier,
		ConnectionIdentifiers: c.Identifiers(),
		Env:                   env,
	})
	s.metrics().RPC("command", time.Since(start), err)
	if err != nil {
		s.Log.Warn("rpc subscribe failed", zap.String("sid", c.sid), zap.Error(err))
		return nil, http.StatusBadRequest, "rpc subscribe error"
	}
	switch res.Status {
	case protocol.StatusSuccess:
	case protocol.StatusFailure:
		return nil, http.StatusBadRequest, "subscription rejected"
	default:
		return nil, http.StatusBadRequest, "application error: " + res.ErrorMsg
	}
	ss.rpcConnected = true
	if res.Env != nil {
		ss.cstate = mergeState(ss.cstate, res.Env.CState)
		if res.Env.IState != nil {
			if ss.istate == nil {
				ss.istate = make(map[string]map[string]string)
			}
			ss.istate[identifier] = mergeState(ss.istate[identifier], res.Env.IState)
		}
	}
	for _, t := range res.Transmissions {
		ss.queueTransmission(t)
	}
	var streams []string
	if !res.StopStreams {
		for _, st := range res.Streams {
			if err := protocol.ValidStreamName(st, s.Opts.MaxStreamName); err != nil {
				s.Log.Warn("app returned an invalid stream name", zap.String("sid", c.sid), zap.Error(err))
				return nil, http.StatusBadRequest, "invalid stream from app"
			}
			if !contains(res.StoppedStreams, st) && !contains(streams, st) {
				streams = append(streams, st)
			}
		}
	}
	if res.Disconnect {
		ss.closeAfter = true
	}
	return streams, http.StatusOK, ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
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

// queueTyped queues a server-generated typed message (suppressed in raw mode).
func (ss *session) queueTyped(r protocol.Reply) {
	if ss.conn.raw {
		return
	}
	ss.conn.enqueue(AppendEvent(nil, r.Type, r.AppendJSON(nil), "", 0))
}

// queueTransmission queues a message the app sent: typed ones as events,
// data ones in the connection's data format. Anything that is not a JSON
// object is dropped, as AnyCable does.
func (ss *session) queueTransmission(t string) {
	r, ok := protocol.ParseTransmission(t)
	if !ok {
		ss.srv.Log.Warn("dropping a transmission that is not a JSON object", zap.String("sid", ss.conn.sid))
		return
	}
	if r.Type != "" {
		ss.queueTyped(r)
		return
	}
	var payload []byte
	if ss.conn.mode == ModeGET {
		payload = r.Message.AppendUnwrapped(nil)
	} else {
		payload = r.AppendJSON(nil)
	}
	ss.conn.enqueue(AppendEvent(nil, "", payload, "", 0))
}

// end releases everything the connection held and tells the app, exactly
// once, that a connection it accepted is gone.
func (ss *session) end() {
	s, c := ss.srv, ss.conn
	c.mu.Lock()
	c.closeLocked(nil, "ended")
	c.mu.Unlock()
	for _, sub := range c.subs {
		s.Hub.Leave(sub)
	}
	// Leave the registry last: process exit waits for it to empty, and
	// the app's disconnect call must be made by then.
	defer func() {
		if ss.registered {
			s.Registry.remove(c)
			s.disown(c)
		}
	}()
	if !ss.rpcConnected {
		return
	}
	env := ss.env
	env.CState = ss.cstate
	if len(ss.istate) > 0 {
		env.IState = make(map[string]string, len(ss.istate))
		for id, st := range ss.istate {
			b, _ := json.Marshal(st)
			env.IState[id] = string(b)
		}
	}
	// The request context is gone by now; the disconnect call gets its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subs := ss.subscribed
	if subs == nil {
		subs = []string{}
	}
	start := time.Now()
	_, err := s.Opts.RPC.Disconnect(ctx, c.sid, &protocol.DisconnectRequest{Identifiers: c.Identifiers(), Subscriptions: subs, Env: env})
	s.metrics().RPC("disconnect", time.Since(start), err)
	if err != nil {
		s.Log.Warn("rpc disconnect failed", zap.String("sid", c.sid), zap.Error(err))
	}
}
