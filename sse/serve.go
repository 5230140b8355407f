package sse

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/cable"
	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/rpc"
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
	// CableReady verifies CableReady::Stream names locally when enabled.
	CableReady *protocol.Verifier
	// RPC is the app; nil when no rpc_url is configured.
	RPC *rpc.Client
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
	// SendBuffer caps the kernel send buffer of taken-over sockets; 0
	// leaves the system default.
	SendBuffer int
	// Origins, when set, limits which origins get CORS headers (see
	// ParseOrigins); EnforceOrigins refuses the others with 403.
	Origins        *Origins
	EnforceOrigins bool
	// Version is sent in X-Anycable-Version.
	Version string
	// BrokerName names the broker in logs ("memory", "redis").
	BrokerName string
}

// Server serves the SSE endpoint of one handler configuration. The hub and
// registry it points at outlive it across reloads.
type Server struct {
	Hub      *pubsub.Hub
	Registry *conn.Registry
	Opts     Options
	Log      *zap.Logger
	Metrics  Metrics
	// Writers writes HTTP/1.1 connections taken over from net/http; nil
	// keeps every connection on the handler path.
	Writers *conn.Pool
	// Replays shares stored messages' frames between concurrent replays;
	// it lives with the hub. Nil: each replay frames its own.
	Replays *cable.Replays

	cableOnce sync.Once
	cableCfg  *cable.Config

	// Owned: the connections this configuration opened (CloseAfter on a
	// reload with stream_close_delay).
	conn.Owned
}

// Cable is the session configuration of this server, made once from Opts
// on first use (after the hub is set); other transports of the same
// handler share it.
func (s *Server) Cable() *cable.Config {
	s.cableOnce.Do(func() {
		o := s.Opts
		s.cableCfg = &cable.Config{
			Hub: s.Hub, Replays: s.Replays, RPC: o.RPC, JWT: o.JWT, EnforceJWT: o.EnforceJWT, NoAuth: o.NoAuth,
			PublicStreams: o.PublicStreams, Streams: o.Streams, Turbo: o.Turbo, CableReady: o.CableReady,
			MaxStreamName: o.MaxStreamName, Log: s.Log, Metrics: s.metrics(),
		}
	})
	return s.cableCfg
}

// metrics returns the configured Metrics or a no-op.
func (s *Server) metrics() Metrics {
	if s.Metrics == nil {
		return noMetrics{}
	}
	return s.Metrics
}

// RequestInfo is what the web server knows about a request beyond
// http.Request: the absolute URL, the client address and the address that
// connection limits count.
type RequestInfo struct {
	URL string
	// RemoteAddr is the client as the web server sees it (behind a trusted
	// proxy, the forwarded address); the app gets it as REMOTE_ADDR.
	RemoteAddr string
	// LimitKey is the address max_connections_per_ip counts: an address a
	// client cannot choose (the TCP peer, unless the web server parses
	// forwarded addresses strictly). Empty: RemoteAddr.
	LimitKey string
}

// ErrorHeader carries the short reason of a refusal.
const ErrorHeader = "X-AnyCable-Error"

// ServeEvents serves GET and POST on the SSE path.
func (s *Server) ServeEvents(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	if s.canTakeOver(r) {
		// This goroutine ends once the writer pool has the connection.
		if l := s.open(w, r, info); l != nil {
			l.serve(s, w, r.Context().Done())
		}
		return
	}
	// A stream on the handler path (HTTP/2, HTTP/3, HTTP/1.1 kept) parks
	// this goroutine for its whole life, and a goroutine's stack never
	// shrinks below four times what it uses: the frames of Caddy and
	// net/http above this handler use about 5.5 KiB, so a stack that grew
	// past its first 8 KiB once would stay at 16 KiB. So this goroutine
	// only waits: the handshake (parsing, the app's RPC, the broker, logs)
	// and then every write run on short-lived goroutines, whose grown
	// stacks go when they end (see stream).
	ready := make(chan opening, 1)
	go s.openAside(w, r, info, ready)
	o := <-ready
	if o.panicked != nil {
		panic(o.panicked) // where net/http (and Caddy) recover handler panics
	}
	if o.live != nil {
		o.live.serve(s, w, r.Context().Done())
	}
}

// opening is what openAside hands back to the handler goroutine.
type opening struct {
	live     *live
	panicked any
}

// openAside runs open on its own goroutine (see ServeEvents); a panic is
// handed back so that it surfaces on the handler goroutine as before.
func (s *Server) openAside(w http.ResponseWriter, r *http.Request, info RequestInfo, ready chan<- opening) {
	defer func() {
		if p := recover(); p != nil {
			ready <- opening{panicked: p}
		}
	}()
	ready <- opening{live: s.open(w, r, info)}
}

// live is a stream past its handshake, on the handler path: all that its
// handler goroutine keeps while it waits. Nothing of the request is in it
// (the session keeps the app's env, which the disconnect call needs).
type live struct {
	st         *Stream
	headerSent bool
	finish     func(reason string)
}

// serve writes the stream until it ends, then ends the session.
func (l *live) serve(s *Server, w http.ResponseWriter, gone <-chan struct{}) {
	var reason string
	defer func() { l.finish(reason) }()
	reason = s.stream(w, gone, l.st, l.headerSent)
	abortIfCut(reason)
}

// open answers a request that will not stream, or hands the connection to
// the writer pool, and returns nil; or, past the handshake, returns the
// stream for its handler to write.
func (s *Server) open(w http.ResponseWriter, r *http.Request, info RequestInfo) *live {
	h := w.Header()
	if !s.setCORS(h, r) && s.Opts.EnforceOrigins {
		s.refuse(w, r, http.StatusForbidden, "origin not allowed", "")
		return nil
	}
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodGet, http.MethodPost:
	default:
		s.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed", "")
		return nil
	}
	s.setStreamHeaders(h, r)
	if s.Opts.MaxURL > 0 && len(r.URL.RequestURI()) > s.Opts.MaxURL {
		s.refuse(w, r, http.StatusRequestURITooLong, "URL too long", "")
		return nil
	}

	req, held, err := s.readRequest(w, r, info)
	if !held {
		s.refuse(w, r, http.StatusTooManyRequests, conn.ErrTooManyPerIP.Error(), "")
		return nil
	}
	if err != nil {
		var re *requestError
		if errors.As(err, &re) {
			s.refuse(w, r, re.status, re.reason, "")
			return nil
		}
		s.refuse(w, r, http.StatusBadRequest, err.Error(), "")
		return nil
	}

	st := newStream(cable.NewSID(), limitKey(info), s.Log, s.metrics(), req.mode, req.raw, s.Opts.MaxPending)
	c := st.c
	sess := cable.New(s.Cable(), st)
	reqID := requestID(r)
	// What the app is told about the request; only built when there is an
	// app, since it lives as long as the connection.
	if s.Opts.RPC != nil {
		sess.Env = rpc.Env{URL: info.URL, Headers: s.Cable().EnvHeaders(r.Header, s.Opts.RPCHeaders, info.RemoteAddr, s.Opts.JWTParam)}
	}
	if s.Opts.JWT.Enabled() {
		sess.Token = r.Header.Get("X-" + s.Opts.JWTParam)
		if sess.Token == "" {
			sess.Token = r.URL.Query().Get(s.Opts.JWTParam)
		}
	}
	// The session ends when open returns, unless it hands the stream on:
	// to the writer pool (taken over) or to its handler (live.serve).
	// Metrics count the end once the session is gone (registry included).
	handedOver, opened, registered := false, false, false
	finish := func(reason string) {
		s.end(sess, c, registered)
		if !opened {
			return
		}
		s.metrics().SubscriptionsRemoved(sess.Streams())
		s.metrics().ConnectionClosed(reason)
		if ce := s.Log.Check(zapcore.DebugLevel, "sse connection closed"); ce != nil {
			ce.Write(zap.String("sid", c.SID()), zap.String("reason", reason))
		}
	}
	defer func() {
		if !handedOver {
			finish("")
		}
	}()

	// Register before the handshake, so that a shutdown or a remote
	// disconnect also reaches connections still subscribing.
	if err := s.Registry.Add(c, s.Opts.MaxConnsPerIP); err != nil {
		if errors.Is(err, conn.ErrShuttingDown) {
			// A non-200 answer would stop EventSource for good; tell the
			// client to come back instead, as the open streams were told.
			s.restartNow(w, req.raw, 0)
			return nil
		}
		s.refuse(w, r, http.StatusTooManyRequests, err.Error(), c.SID())
		return nil
	}
	registered = true
	if !s.Own(c) {
		// This config was replaced and its streams sent away: so is this
		// one, to the new config (a 503 would stop EventSource for good).
		s.restartNow(w, req.raw, 0)
		return nil
	}
	if out := s.handshake(r.Context(), sess, st, req, reqID); out.Kind != cable.OK {
		if out.Kind == cable.Unavailable {
			// The broker or the app is down for now: a 503 would stop
			// EventSource for good, so answer 200 and ask the client to
			// come back shortly, at a jittered time so that clients
			// turned away together do not return together.
			cause := out.Cause
			if cause == "" {
				cause = cable.CauseBroker
			}
			retry := outageRetry()
			s.metrics().Deferred(cause)
			what := "the app (RPC)"
			if cause == cable.CauseBroker {
				what = "the " + s.Opts.BrokerName + " broker"
			}
			s.Log.Warn("sse connection deferred: "+what+" is unavailable, client told to reconnect",
				zap.String("sid", c.SID()), zap.String("cause", cause), zap.String("reason", out.Reason), zap.Int64("retry_ms", retry))
			s.restartNow(w, req.raw, retry)
			return nil
		}
		s.refuse(w, r, httpStatus(out.Kind), out.Reason, c.SID())
		return nil
	}
	s.metrics().ConnectionOpened()
	s.metrics().SubscriptionsAdded(sess.Streams())
	opened = true
	// The token was checked; the disconnect call does not carry it.
	sess.Token = ""
	l := &live{st: st, finish: finish}
	if s.canTakeOver(r) {
		switch s.takeOver(w, st, func(reason string) {
			// Off the writer pool: the app's disconnect call may take a while.
			go finish(reason)
		}) {
		case takenOver:
			handedOver = true
			return nil
		case headerSent:
			l.headerSent = true
		}
	}
	// From here the stream's handler ends the session (live.serve).
	handedOver = true
	return l
}

// end releases everything the connection held and tells the app, exactly
// once, that a connection it accepted is gone.
func (s *Server) end(sess *cable.Session, c *conn.Conn, registered bool) {
	c.Close(nil, "ended")
	sess.Leave()
	// Leave the registry last: process exit waits for it to empty, and
	// the app's disconnect call must be made by then.
	if registered {
		defer func() {
			s.Registry.Remove(c)
			s.Disown(c)
		}()
		if sess.KnownToApp() {
			// The stream is over: its address may open another one while
			// the app is told (the registry entry stays until then).
			s.Registry.Uncount(c)
		}
	}
	sess.End()
}

// readRequest parses the request. A POST body still being read holds a
// connection like a stream does: it counts against max_connections_per_ip
// under the same key as the stream (limitKey, which a client behind a
// non-strict proxy cannot choose), and it has a deadline. held is false
// when the address is at its limit.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, info RequestInfo) (req *parsedRequest, held bool, err error) {
	if r.Method != http.MethodPost {
		req, err = s.parseRequest(r)
		return req, true, err
	}
	key := limitKey(info)
	if !s.Registry.HoldIP(key, s.Opts.MaxConnsPerIP) {
		return nil, false, nil
	}
	rc := http.NewResponseController(w)
	defer func() {
		s.Registry.ReleaseIP(key)
		_ = rc.SetReadDeadline(time.Time{})
	}()
	_ = rc.SetReadDeadline(time.Now().Add(s.bodyTimeout()))
	req, err = s.parseRequest(r)
	return req, true, err
}

// reasonWriteError ends a stream whose write failed or timed out.
const reasonWriteError = "write_error"

// abortIfCut resets a stream cut for slowness instead of ending it: over
// HTTP/2 and HTTP/3 the stream is reset (RST_STREAM) and its unsent data
// dropped while the connection's other streams go on; over HTTP/1.1 the
// connection is closed. The client sees the end now, not after the stale
// backlog, and resumes from its last complete event. net/http (and Caddy)
// treat http.ErrAbortHandler as this request, not as a crash; the session
// has ended by then (the deferred finish runs first).
func abortIfCut(reason string) {
	if reason == protocol.ReasonTooSlow || reason == reasonWriteError {
		panic(http.ErrAbortHandler)
	}
}

// bodyTimeout bounds the reading of a POST body: the write timeout, or 10 s.
func (s *Server) bodyTimeout() time.Duration {
	if s.Opts.WriteTimeout > 0 {
		return s.Opts.WriteTimeout
	}
	return 10 * time.Second
}

// retryAfterOutage is the mean reconnect hint (ms) for clients turned away
// while the broker or the app is unavailable; outageRetry spreads it.
const retryAfterOutage = 2000

// outageRetry is retryAfterOutage ± 50 %, uniformly.
func outageRetry() int64 {
	return retryAfterOutage/2 + rand.Int64N(retryAfterOutage+1)
}

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
	// Out now: the session's end (the app's disconnect call) runs before
	// the handler returns, and the client must not wait for it.
	_ = http.NewResponseController(w).Flush()
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
			zap.String("request_id", requestID(r)), zap.String("method", r.Method), zap.String("remote", r.RemoteAddr))
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
	if s.Opts.Origins == nil {
		h.Set("Access-Control-Allow-Origin", "*")
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a cross-origin browser request
	}
	h.Add("Vary", "Origin")
	if canonical, ok := s.Opts.Origins.Match(origin); ok {
		h.Set("Access-Control-Allow-Origin", canonical)
		return true
	}
	return false
}

// stream writes the connection until it ends: the client leaves, the server
// ends it (shutdown, remote disconnect, slow client), or writing fails.
// gone is closed when the client leaves (the request's context): nothing
// of the request is kept. This goroutine only waits and hands each step
// that goes deep (writes, pings) to a short-lived goroutine (see
// ServeEvents and aside).
func (s *Server) stream(w http.ResponseWriter, gone <-chan struct{}, st *Stream, headerSent bool) (reason string) {
	a := &aside{s: s, w: w, rc: http.NewResponseController(w), st: st, headerSent: headerSent, done: make(chan string, 1)}
	if reason := a.run(startStep); reason != "" {
		return reason
	}
	var ping <-chan time.Time
	if s.Opts.PingInterval > 0 {
		// The first ping comes at a random point between 0.5 and 1.5
		// intervals, so connections opened together do not ping together.
		a.ping = time.NewTimer(s.Opts.PingInterval/2 + rand.N(s.Opts.PingInterval))
		defer a.ping.Stop()
		ping = a.ping.C
	}
	c := st.c
	for {
		select {
		case <-c.Signal():
			if reason := a.run(writeStep); reason != "" {
				return reason
			}
		case <-ping:
			a.run(pingStep)
		case <-c.Done():
			return a.run(endStep)
		case <-gone:
			return "client_gone"
		}
	}
}

// aside runs the steps of a stream that go deep (net/http's and quic-go's
// write paths, logging) on a goroutine of their own while the stream's
// handler goroutine waits, so that the latter keeps its first 8 KiB of
// stack for the life of the stream: about 8 KiB less per HTTP/2 or HTTP/3
// stream, for a goroutine start per write round (see README "Behind
// TLS"). One step runs at a time: the handler goroutine waits for each.
type aside struct {
	s          *Server
	w          http.ResponseWriter
	rc         *http.ResponseController
	st         *Stream
	headerSent bool
	ping       *time.Timer
	done       chan string
}

// run runs step on a new goroutine and returns its result.
func (a *aside) run(step func(*aside) string) string {
	go a.do(step)
	return <-a.done
}

func (a *aside) do(step func(*aside) string) {
	defer func() {
		if p := recover(); p != nil {
			// Off the handler goroutine, net/http cannot recover it: end
			// the stream instead of the process.
			a.s.Log.Error("sse stream write panicked", zap.Any("panic", p), zap.Stack("stack"))
			a.done <- reasonWriteError
		}
	}()
	a.done <- step(a)
}

// startStep writes the header and the backlog; it returns why the stream
// ends already, or "".
func startStep(a *aside) string {
	s, rc, c := a.s, a.rc, a.st.c
	if s.Opts.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(s.Opts.WriteTimeout))
	}
	if !a.headerSent {
		a.w.WriteHeader(http.StatusOK)
	}
	// The first round writes the backlog.
	c.Wake()
	if err := rc.Flush(); err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			s.Log.Error("cannot flush the SSE response; is a buffering handler in front of anycable_sse?", zap.Error(err))
			return "flush_unsupported"
		}
		// The client left while its header and backlog were written.
		if ce := s.Log.Check(zapcore.DebugLevel, "client gone"); ce != nil {
			ce.Write(zap.String("sid", c.SID()), zap.Error(err))
		}
		return "client_gone"
	}
	if s.Opts.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	return ""
}

// writeStep writes what the connection has queued; it returns
// reasonWriteError when writing failed, or "".
func writeStep(a *aside) string {
	c := a.st.c
	b, _ := c.Take()
	ok := a.s.write(a.w, a.rc, c, b)
	c.GiveBack(b)
	if !ok {
		return reasonWriteError
	}
	return ""
}

// pingStep queues a ping and sets the next one.
func pingStep(a *aside) string {
	a.st.c.Enqueue(a.st.Ping(time.Now()))
	a.ping.Reset(a.s.Opts.PingInterval)
	return ""
}

// endStep writes the final bytes of a connection the server ended and
// returns why it ended.
func endStep(a *aside) string {
	c := a.st.c
	reason := c.EndReason()
	if reason == protocol.ReasonTooSlow {
		// Cut: nothing more is written to a client that does not read;
		// the caller resets the stream.
		return reason
	}
	a.s.write(a.w, a.rc, c, c.FinalBytes())
	return reason
}

// write writes bufs and flushes them within the write timeout; false when
// writing failed.
func (s *Server) write(w http.ResponseWriter, rc *http.ResponseController, c *conn.Conn, bufs [][]byte) bool {
	if len(bufs) == 0 {
		return true
	}
	if s.Opts.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(s.Opts.WriteTimeout))
	}
	var err error
	for _, b := range bufs {
		if _, err = w.Write(b); err != nil {
			break
		}
	}
	if err == nil {
		err = rc.Flush()
	}
	if s.Opts.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		if ce := s.Log.Check(zapcore.DebugLevel, "sse write failed"); ce != nil {
			ce.Write(zap.String("sid", c.SID()), zap.Error(err))
		}
		return false
	}
	return true
}
