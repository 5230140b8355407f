// Package anycablesse is a Caddy module, directive anycable_sse, that
// terminates AnyCable-compatible Server-Sent Events inside the web server.
//
// A reader finds every behaviour in two hops from here: the configuration
// below, Provision (secrets, engine, RPC), ServeHTTP (routing to the SSE
// endpoint in package sse, the broadcast endpoint in broadcast.go, or the
// next handler). The hub and brokers are in package pubsub, the wire
// vocabulary in package protocol, the app's HTTP RPC client in package rpc;
// ARCHITECTURE.md follows a message and a connection through them.
package anycablesse

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/rpc"
	"github.com/cableway/caddy-anycable-sse/sse"
	"github.com/cableway/caddy-anycable-sse/ws"
)

// Version is sent in the X-Anycable-Version header.
const Version = "caddy-anycable-sse/0.1"

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves AnyCable-compatible Server-Sent Events at Path and accepts
// AnyCable broadcasts at BroadcastPath; every other request goes to the next
// handler.
type Handler struct {
	// Path of the SSE endpoint (exact match). Default: /events.
	Path string `json:"path,omitempty"`
	// BroadcastPath of the HTTP broadcast endpoint (exact match). Default:
	// /_broadcast.
	BroadcastPath string `json:"broadcast_path,omitempty"`

	// Secret is AnyCable's --secret: when set, the broadcast key, the RPC
	// secret and the streams secret are derived from it as AnyCable derives
	// them, so one anycable-rails secret configures both sides. An explicit
	// per-purpose value wins. Placeholders such as {env.ANYCABLE_SECRET} are
	// resolved at provision time; a secret (this one or any below) that is
	// set but resolves to nothing is an error, and "none" means "no key".
	Secret string `json:"secret,omitempty"`
	// BroadcastKey is required as "Authorization: Bearer <key>" on the
	// broadcast endpoint. Default: HMAC-SHA256(secret, "broadcast-cable") in
	// hex. With no key ("none"), only loopback clients may broadcast.
	BroadcastKey string `json:"broadcast_key,omitempty"`

	// PublicStreams allows ?stream= (unsigned stream names).
	PublicStreams bool `json:"public_streams,omitempty"`
	// StreamsSecrets verify ?signed_stream= names. The first signs, any
	// verifies (rotation). Default: Secret. With none, signed streams are
	// refused.
	StreamsSecrets []string `json:"streams_secrets,omitempty"`
	// TurboStreamsSecrets verify Turbo Streams signed names locally.
	// Default: the streams secrets when no RPC is configured (with RPC,
	// Turbo subscriptions then go to the app).
	TurboStreamsSecrets []string `json:"turbo_streams_secrets,omitempty"`
	// TurboSecretKeyBase is the Rails app's secret_key_base; the Turbo
	// verifier key is derived from it exactly as Rails does.
	TurboSecretKeyBase string `json:"turbo_secret_key_base,omitempty"`

	// CableReadySecrets verify CableReady::Stream signed names locally
	// (AnyCable's --cable_ready with its secret). Without them, CableReady
	// subscriptions go to the app.
	CableReadySecrets []string `json:"cable_ready_secrets,omitempty"`

	// PingInterval between pings. Default: 3s. 0 disables pings.
	PingInterval *caddy.Duration `json:"ping_interval,omitempty"`

	// Broker keeps ids and history. Default: the in-memory broker (one
	// node). Several nodes share a "redis" broker.
	Broker *BrokerConfig `json:"broker,omitempty"`
	// RedisURL is the Redis of the redisx and redis broadcast adapters, and
	// of the redis broker when it names none (AnyCable's --redis_url).
	// Default: redis://localhost:6379.
	RedisURL string `json:"redis_url,omitempty"`
	// BroadcastAdapters are the ways broadcasts arrive: "http" (the
	// broadcast endpoint), "redisx" (the Redis Stream RedisxStream read
	// through a consumer group: each entry handled once across the fleet),
	// "redis" (the legacy pub/sub channel RedisChannel). Default: http.
	BroadcastAdapters []string `json:"broadcast_adapters,omitempty"`
	// RedisxStream is the Redis Stream of the redisx adapter. Default:
	// __anycable__.
	RedisxStream string `json:"redisx_stream,omitempty"`
	// RedisChannel is the pub/sub channel of the redis adapter. Default:
	// __anycable__.
	RedisChannel string `json:"redis_channel,omitempty"`
	// HistoryLimit is how many messages each stream keeps. Default: 100.
	HistoryLimit int `json:"history_limit,omitempty"`
	// HistoryTTL is how long messages are kept. Default: 300s.
	HistoryTTL caddy.Duration `json:"history_ttl,omitempty"`

	// RPCURL is the app's AnyCable HTTP RPC endpoint, e.g.
	// http://127.0.0.1:3000/_anycable. Without it, only $pubsub and Turbo
	// streams can be subscribed and every connection is accepted.
	RPCURL string `json:"rpc_url,omitempty"`
	// RPCSecret is sent as "Authorization: Bearer <secret>" to the app.
	// Default: HMAC-SHA256(secret, "rpc-cable") in hex.
	RPCSecret string `json:"rpc_secret,omitempty"`
	// RPCTimeout bounds one RPC call, retries included, and the wait for a
	// free slot (RPCConcurrency). An app that does not answer in time, is
	// unreachable or answers 5xx gets the client a disconnect with
	// reconnect:true, not a refusal. Default: 3s.
	RPCTimeout caddy.Duration `json:"rpc_timeout,omitempty"`
	// RPCConcurrency bounds RPC calls in flight. Default: 28.
	RPCConcurrency int `json:"rpc_concurrency,omitempty"`
	// Headers are the request headers forwarded to the app. Default: cookie.
	Headers []string `json:"headers,omitempty"`

	// JWTSecrets verify identification tokens (anycable-rails-jwt) locally,
	// without a connect call to the app. The first signs, any verifies.
	// Default: Secret.
	JWTSecrets []string `json:"jwt_secrets,omitempty"`
	// JWTParam is the token's query parameter; the header is "X-" + it.
	// Default: jid.
	JWTParam string `json:"jwt_param,omitempty"`
	// EnforceJWT refuses connections without a valid token (401). It needs
	// a JWT key: without one the config is refused.
	EnforceJWT bool `json:"enforce_jwt,omitempty"`
	// Leeway tolerates clock skew when checking a token's exp and nbf.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	// NoAuth accepts every connection without asking the app (identifiers
	// {"sid":…}); channels still go to the app when rpc_url is set.
	NoAuth bool `json:"noauth,omitempty"`
	// Public is AnyCable's --public: noauth, public streams, and a
	// broadcast endpoint without a key. That endpoint still accepts only
	// loopback clients unless AllowRemoteBroadcast confirms that anyone
	// who can reach it may publish.
	Public bool `json:"public,omitempty"`
	// AllowRemoteBroadcast opens the keyless broadcast endpoint of public
	// mode to every client address.
	AllowRemoteBroadcast bool `json:"allow_remote_broadcast,omitempty"`

	// AllowedOrigins limits which origins get CORS headers: full origins
	// as browsers send them ("https://example.com", "http://localhost:3000",
	// "https://*.example.com") or host patterns that match any scheme
	// ("example.com", "*.example.com" for subdomains, "localhost:3000"); a
	// pattern without a port matches the scheme's default port. The Origin
	// header is parsed (scheme, host, port; anything else is refused)
	// before it is compared. Entries that can never match are refused.
	// Default: every origin (Access-Control-Allow-Origin: *).
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// EnforceOrigins refuses other origins with 403 (AnyCable only omits
	// the CORS header). It needs AllowedOrigins.
	EnforceOrigins bool `json:"enforce_origins,omitempty"`

	// WriteTimeout bounds one write to a client. Default: 10s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`
	// MaxPending bounds what is queued for one client; a client that
	// falls further behind is disconnected (it resumes with Last-Event-ID).
	// Default: 1 MiB.
	MaxPending int `json:"max_pending,omitempty"`
	// MaxBroadcastBody bounds a broadcast request body. Default: 1 MiB.
	MaxBroadcastBody int64 `json:"max_broadcast_body,omitempty"`
	// MaxBroadcastBatch bounds the publications in one batch. Default: 1000.
	MaxBroadcastBatch int `json:"max_broadcast_batch,omitempty"`
	// MaxPostBody bounds a POST /events JSONL body. Default: 64 KiB.
	MaxPostBody int64 `json:"max_post_body,omitempty"`
	// MaxURLLength bounds the SSE request URL (path and query). Default: 16 KiB.
	MaxURLLength int `json:"max_url_length,omitempty"`
	// MaxIdentifierLength bounds a channel identifier. Default: 4 KiB.
	MaxIdentifierLength int `json:"max_identifier_length,omitempty"`
	// MaxStreamsPerConnection bounds the streams one connection follows.
	// Default: 100.
	MaxStreamsPerConnection int `json:"max_streams_per_connection,omitempty"`
	// MaxConnectionsPerIP bounds open SSE connections per client address:
	// Caddy's client IP when the server sets trusted_proxies_strict, else
	// the TCP peer (behind a proxy without strict mode, the proxy: a
	// forwarded address the client can write itself is not counted).
	// Default: no limit.
	MaxConnectionsPerIP int `json:"max_connections_per_ip,omitempty"`
	// MaxLiveStreams caps the streams with at least one subscriber on this
	// server (every config sharing the broker), and MaxSubscriptions the
	// subscriptions: a connection that would pass either is refused with
	// 429 (counted in requests_refused_total). Default: no cap.
	MaxLiveStreams   int `json:"max_live_streams,omitempty"`
	MaxSubscriptions int `json:"max_subscriptions,omitempty"`
	// SendBuffer caps the kernel send buffer of a streaming socket taken
	// over from net/http, so that a client that stops reading pins at most
	// this much kernel memory (Linux doubles the value set). Default:
	// 256 KiB.
	SendBuffer int64 `json:"send_buffer,omitempty"`

	// HTTP1Takeover takes HTTP/1.1 streams over from net/http once their
	// header is out and writes them from a shared pool, which makes an idle
	// connection cost a fraction of the memory. Default: on. HTTP/2 and
	// HTTP/3 streams are always served on the handler path.
	HTTP1Takeover *bool `json:"http1_takeover,omitempty"`

	// WebSocketPath serves Action Cable over WebSocket at this path (exact
	// match; AnyCable's and Rails' default is /cable), on the same engine,
	// authentication and streams as SSE: actioncable-v1-json and AnyCable's
	// actioncable-v1-ext-json (history, session recovery). Default: off, so
	// that an existing config never starts answering a path the app serves.
	WebSocketPath string `json:"websocket_path,omitempty"`
	// SessionsTTL is how long an actioncable-v1-ext-json session can be
	// recovered (without the app) after its connection ends: AnyCable's
	// --sessions_ttl. Default: 5m; 0 turns recovery off.
	SessionsTTL *caddy.Duration `json:"sessions_ttl,omitempty"`

	// StreamCloseDelay: on a config reload, streams opened under the old
	// config end this long after it is replaced, with disconnect
	// reconnect:true (clients resume from their last id, nothing is lost).
	// The value of the config being loaded decides, so adding it and
	// reloading applies it at once. Default: 0, streams outlive reloads.
	StreamCloseDelay caddy.Duration `json:"stream_close_delay,omitempty"`

	logger       *zap.Logger
	metrics      *promMetrics
	engine       *engine
	engineKey    string
	site         string // siteScope: keeps default memory engines per site
	ingesterKeys []string
	ingesters    []pooledIngester
	broadcastKey string
	// openBroadcast: public mode confirmed that any client may publish.
	openBroadcast bool
	// httpAdapter: the broadcast endpoint is on (broadcast_adapters http).
	httpAdapter bool
	sse         *sse.Server
	ws          *ws.Server // nil unless websocket_path is set
	// urls are the URLs with placeholders resolved (resolveURLs): kept
	// here, never written back into the exported config.
	urls *resolvedURLs

	// life: the handler starts once (lifecycle.go).
	life *handlerLife

	// trust is how the server treats forwarded addresses (trust.go).
	trust serverTrust
}

// BrokerConfig chooses the broker.
type BrokerConfig struct {
	// Type is "memory" (default, one node), "file" (one node, history and
	// epochs kept on disk across restarts) or "redis" (Redis Streams,
	// shared by every node).
	Type string `json:"type,omitempty"`
	// URL of Redis: redis://, rediss:// (TLS), a comma list or
	// redis+cluster:// for Cluster, redis+sentinel://host1,host2/master for
	// Sentinel; password and TLS come from the URL. Default: RedisURL.
	URL string `json:"url,omitempty"`
	// Prefix of the keys the broker writes. Default: acs.
	Prefix string `json:"prefix,omitempty"`
	// Path of the file broker's store (a directory). Default:
	// {caddy data dir}/anycable_sse/{prefix}.
	Path string `json:"path,omitempty"`
	// SyncInterval (file broker): 0, the default, acknowledges a broadcast
	// once it is fsync'd; a positive interval acknowledges at once and
	// commits every interval (a machine crash loses at most that window,
	// and moves every stream to a new epoch).
	SyncInterval caddy.Duration `json:"sync_interval,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.anycable_sse",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Default endpoints.
const (
	defaultPath          = "/events"
	defaultBroadcastPath = "/_broadcast"
)

// defaultMaxStreamName bounds stream names (and the AnyCable ids built
// from them).
const defaultMaxStreamName = 1 << 10

// Provision resolves secrets and defaults and takes a reference on the
// shared engine. It does no I/O and starts no goroutine: the engine starts
// with the config (lifecycle.go).
// The steps, in order: resolveURLs and check (no I/O), provisionAuth
// (secrets, verifiers, RPC client), provisionBroadcast (the endpoint and its
// trust), provisionEngine (metrics, engine, ingesters), newSSEServer, hookLifecycle.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.life = new(handlerLife)
	h.applyDefaults()
	// go-redis's own lines go through zap, rate-limited, not to stderr.
	pubsub.RouteRedisLogs(func() *zap.Logger { return caddy.Log().Named("http.handlers.anycable_sse.go_redis") })

	// URLs resolve first, so that everything checkable is checked before
	// anything is built.
	if err := h.resolveURLs(); err != nil {
		return err
	}
	if err := h.check(); err != nil {
		return err
	}
	h.warnAdapters()
	auth, err := h.provisionAuth()
	if err != nil {
		return err
	}
	if err := h.provisionBroadcast(ctx); err != nil {
		return err
	}
	origins, err := sse.ParseOrigins(h.AllowedOrigins)
	if err != nil {
		return err
	}
	if err := h.provisionEngine(ctx); err != nil {
		return err
	}
	h.sse = h.newSSEServer(auth, origins)
	if h.WebSocketPath != "" {
		h.ws = h.newWSServer(auth, origins)
	}
	if err := h.hookLifecycle(ctx); err != nil {
		return err
	}
	if auth.rpc != nil {
		rpcClients.Store(auth.rpc, struct{}{}) // until Cleanup
	}
	h.logStartup(auth.jwt, auth.streams, auth.turbo, auth.rpc != nil)
	return nil
}

// resolvedURLs are a config's URLs once placeholders are replaced.
type resolvedURLs struct {
	rpc, redis, broker string
}

// resolveURLs replaces placeholders in the URLs, into h.urls: the exported
// fields keep what the config says ({env.X}), so that the config as Caddy
// shows it never holds a resolved password. A URL that resolves to nothing
// is an error like an empty secret: an rpc_url gone empty would accept
// every connection without the app.
func (h *Handler) resolveURLs() error {
	r := secretResolver{repl: caddy.NewReplacer()}
	var u resolvedURLs
	for _, f := range []struct {
		name string
		v    string
		dst  *string
	}{{"rpc_url", h.RPCURL, &u.rpc}, {"redis_url", h.RedisURL, &u.redis}, {"broker url", h.Broker.URL, &u.broker}} {
		resolved, off, err := r.one(f.name, f.v)
		if err != nil {
			return err
		}
		if off {
			return fmt.Errorf("%s: %q is not a URL", f.name, noKey)
		}
		*f.dst = resolved
	}
	if h.Broker.Type == "redis" && u.broker == "" {
		u.broker = u.redis // the redis broker defaults to redis_url
	}
	h.urls = &u
	return nil
}

// resolved is h.urls, or before Provision (Validate called on its own) the
// configured values.
func (h *Handler) resolved() resolvedURLs {
	if h.urls != nil {
		return *h.urls
	}
	u := resolvedURLs{rpc: h.RPCURL, redis: h.RedisURL, broker: h.Broker.URL}
	if h.Broker.Type == "redis" && u.broker == "" {
		u.broker = u.redis
	}
	return u
}

// authSetup is what decides who may connect and subscribe: the verifiers
// built from the resolved secrets and the app's RPC client (nil without
// rpc_url).
type authSetup struct {
	jwt                        *protocol.JWTVerifier
	streams, turbo, cableReady *protocol.Verifier
	rpc                        *rpc.Client
}

// provisionAuth resolves the secrets (the broadcast key is kept on h) and
// builds the verifiers and the RPC client.
func (h *Handler) provisionAuth() (authSetup, error) {
	k, err := h.resolveKeys()
	if err != nil {
		return authSetup{}, err
	}
	h.broadcastKey = k.broadcastKey
	h.openBroadcast = h.broadcastKey == "" && h.Public && h.AllowRemoteBroadcast
	var a authSetup
	rpcURL := h.urls.rpc
	a.jwt, a.streams, a.turbo, a.cableReady = k.verifiers(h.Leeway, rpcURL != "")
	if h.EnforceJWT && !a.jwt.Enabled() {
		// Without a key every request would be accepted: fail closed.
		return authSetup{}, errors.New("enforce_jwt: no JWT key (set jwt_secrets or secret)")
	}
	if rpcURL != "" {
		a.rpc, err = rpc.NewClient(rpc.Config{
			URL:         rpcURL,
			Secret:      k.rpcSecret,
			Timeout:     time.Duration(h.RPCTimeout),
			Concurrency: h.RPCConcurrency,
		})
		if err != nil {
			return authSetup{}, fmt.Errorf("rpc_url: %w", err)
		}
	}
	return a, nil
}

// provisionBroadcast decides whether the HTTP broadcast endpoint is on and
// refuses a keyless one behind trusted proxies (every request would look
// local).
func (h *Handler) provisionBroadcast(ctx caddy.Context) error {
	for _, a := range h.BroadcastAdapters {
		h.httpAdapter = h.httpAdapter || a == adapterHTTP
	}
	h.trust = trustOf(ctx)
	if h.httpAdapter && h.broadcastKey == "" && !h.openBroadcast && h.trust.proxies {
		return errKeylessBehindProxies
	}
	return nil
}

// provisionEngine registers the metrics, takes the engine (shared across
// reloads, see engine.go) and the broadcast ingesters.
func (h *Handler) provisionEngine(ctx caddy.Context) error {
	m := initMetrics()
	if err := m.register(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	h.metrics = m
	h.site = siteScope(ctx)
	eng, err := h.loadEngine()
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	h.engine = eng
	h.engineKey = h.brokerKey()
	return h.loadIngesters()
}

// newSSEServer is the SSE endpoint of this handler on its engine.
func (h *Handler) newSSEServer(a authSetup, origins *sse.Origins) *sse.Server {
	headers := make([]string, len(h.Headers))
	for i, name := range h.Headers {
		headers[i] = strings.ToLower(name)
	}
	return &sse.Server{
		Hub:      h.engine.hub,
		Registry: h.engine.registry,
		Log:      h.logger,
		Metrics:  h.metrics,
		Writers:  h.takeoverWriters(),
		Replays:  h.engine.replays,
		Opts: sse.Options{
			PingInterval:   time.Duration(*h.PingInterval),
			WriteTimeout:   time.Duration(h.WriteTimeout),
			MaxPending:     h.MaxPending,
			PublicStreams:  h.PublicStreams || h.Public,
			JWT:            a.jwt,
			JWTParam:       h.JWTParam,
			EnforceJWT:     h.EnforceJWT,
			NoAuth:         h.NoAuth || h.Public,
			Streams:        a.streams,
			Turbo:          a.turbo,
			CableReady:     a.cableReady,
			RPC:            a.rpc,
			RPCHeaders:     headers,
			MaxPostBody:    h.MaxPostBody,
			MaxIdentifier:  h.MaxIdentifierLength,
			MaxStreamName:  defaultMaxStreamName,
			MaxURL:         h.MaxURLLength,
			MaxStreams:     h.MaxStreamsPerConnection,
			MaxConnsPerIP:  h.MaxConnectionsPerIP,
			SendBuffer:     int(h.SendBuffer),
			Origins:        origins,
			EnforceOrigins: h.EnforceOrigins,
			Version:        Version,
			BrokerName:     h.Broker.Type,
		},
	}
}

func (h *Handler) takeoverWriters() *conn.Pool {
	if h.HTTP1Takeover != nil && !*h.HTTP1Takeover {
		return nil
	}
	return h.engine.writers
}

func (h *Handler) applyDefaults() {
	if h.Path == "" {
		h.Path = defaultPath
	}
	if h.BroadcastPath == "" {
		h.BroadcastPath = defaultBroadcastPath
	}
	if h.PingInterval == nil {
		d := caddy.Duration(3 * time.Second)
		h.PingInterval = &d
	}
	if h.Broker == nil {
		h.Broker = &BrokerConfig{}
	}
	if h.Broker.Type == "" {
		h.Broker.Type = "memory"
	}
	if h.HistoryLimit == 0 {
		h.HistoryLimit = 100
	}
	if h.HistoryTTL == 0 {
		h.HistoryTTL = caddy.Duration(300 * time.Second)
	}
	if h.RPCTimeout == 0 {
		h.RPCTimeout = caddy.Duration(3 * time.Second)
	}
	if h.RPCConcurrency == 0 {
		h.RPCConcurrency = 28
	}
	if h.Headers == nil {
		h.Headers = []string{"cookie"}
	}
	if h.WriteTimeout == 0 {
		h.WriteTimeout = caddy.Duration(10 * time.Second)
	}
	if h.MaxPending == 0 {
		h.MaxPending = 1 << 20
	}
	if h.MaxBroadcastBody == 0 {
		h.MaxBroadcastBody = 1 << 20
	}
	if h.MaxBroadcastBatch == 0 {
		h.MaxBroadcastBatch = 1000
	}
	if h.MaxPostBody == 0 {
		h.MaxPostBody = 64 << 10
	}
	if h.MaxURLLength == 0 {
		h.MaxURLLength = 16 << 10
	}
	if h.MaxIdentifierLength == 0 {
		h.MaxIdentifierLength = 4 << 10
	}
	if h.MaxStreamsPerConnection == 0 {
		h.MaxStreamsPerConnection = 100
	}
	if h.SendBuffer == 0 {
		h.SendBuffer = 256 << 10
	}
	if h.JWTParam == "" {
		h.JWTParam = "jid"
	}
	if h.RedisURL == "" {
		h.RedisURL = "redis://localhost:6379"
	}
	if len(h.BroadcastAdapters) == 0 {
		h.BroadcastAdapters = []string{adapterHTTP}
	}
	if h.RedisxStream == "" {
		h.RedisxStream = pubsub.DefaultIngestStream
	}
	if h.RedisChannel == "" {
		h.RedisChannel = pubsub.DefaultIngestChannel
	}
	if h.Broker.Type == "redis" && h.Broker.Prefix == "" {
		h.Broker.Prefix = "acs"
	}
}

// logStartup reports what the resolved config does: the presence of
// resolved keys, never the configured (possibly unresolved) values.
func (h *Handler) logStartup(jwt *protocol.JWTVerifier, streams, turbo *protocol.Verifier, withRPC bool) {
	fields := []zap.Field{
		zap.String("path", h.Path),
		zap.String("broadcast_path", h.BroadcastPath),
		zap.String("broker", h.Broker.logName(h.resolved().broker)),
		zap.Bool("public_streams", h.PublicStreams || h.Public),
		zap.Bool("jwt", jwt.Enabled()),
		zap.Bool("enforce_jwt", h.EnforceJWT),
		zap.Bool("broadcast_key", h.broadcastKey != ""),
		zap.Bool("noauth", h.NoAuth || h.Public),
		zap.Bool("signed_streams", streams.Enabled()),
		zap.Bool("turbo_streams_local", turbo != nil && turbo.Enabled()),
		zap.Bool("rpc", withRPC),
		zap.Strings("broadcast_adapters", h.BroadcastAdapters),
	}
	h.logger.Info("anycable_sse ready", fields...)
	for _, a := range h.BroadcastAdapters {
		if a == adapterRedis {
			h.logger.Warn("broadcast_adapters redis is Redis pub/sub: at-most-once, every node numbers messages on its own, " +
				"so a broadcast published while a node is disconnected is lost and ids do not carry across nodes; use redisx for reliable history")
		}
	}
	switch {
	case !h.httpAdapter:
	case h.openBroadcast:
		h.logger.Warn("public mode with allow_remote_broadcast: ANY client can publish to the broadcast endpoint",
			zap.String("broadcast_path", h.BroadcastPath))
	case h.broadcastKey == "":
		h.logger.Warn("no broadcast_key or secret: the broadcast endpoint accepts loopback clients only",
			zap.String("broadcast_path", h.BroadcastPath))
	}
}

// Validate checks the configuration; every error names its subdirective
// (and JSON field). The Caddyfile adapter checks most of this already, with
// the file and line.
func (h *Handler) Validate() error { return h.check() }

// check is Validate, also run by Provision before anything is built.
func (h *Handler) check() error {
	if !strings.HasPrefix(h.Path, "/") {
		return fmt.Errorf("path: must start with /, got %q", h.Path)
	}
	if !strings.HasPrefix(h.BroadcastPath, "/") {
		return fmt.Errorf("broadcast_path: must start with /, got %q", h.BroadcastPath)
	}
	if h.Path == h.BroadcastPath {
		return fmt.Errorf("path and broadcast_path are both %q: they must differ", h.Path)
	}
	if h.WebSocketPath != "" {
		if !strings.HasPrefix(h.WebSocketPath, "/") {
			return fmt.Errorf("websocket_path: must start with /, got %q", h.WebSocketPath)
		}
		if h.WebSocketPath == h.Path || h.WebSocketPath == h.BroadcastPath {
			return fmt.Errorf("websocket_path %q: must differ from path and broadcast_path", h.WebSocketPath)
		}
	}
	if h.SessionsTTL != nil && *h.SessionsTTL < 0 {
		return errors.New("sessions_ttl: must not be negative")
	}
	if h.EnforceOrigins && len(h.AllowedOrigins) == 0 {
		return errors.New("enforce_origins needs allowed_origins (with no list every origin is allowed)")
	}
	if h.AllowRemoteBroadcast && !h.Public {
		return errors.New("allow_remote_broadcast: only applies to public mode")
	}
	if err := checkJWTParam(h.JWTParam); err != nil {
		return err
	}
	if h.PingInterval != nil && *h.PingInterval < 0 {
		return errors.New("ping_interval: must not be negative")
	}
	for name, v := range map[string]int64{
		"history_limit": int64(h.HistoryLimit), "rpc_concurrency": int64(h.RPCConcurrency),
		"max_pending": int64(h.MaxPending), "max_broadcast_body": h.MaxBroadcastBody,
		"max_broadcast_batch": int64(h.MaxBroadcastBatch), "max_post_body": h.MaxPostBody,
		"max_url_length": int64(h.MaxURLLength), "max_identifier_length": int64(h.MaxIdentifierLength),
		"max_streams_per_connection": int64(h.MaxStreamsPerConnection), "max_connections_per_ip": int64(h.MaxConnectionsPerIP),
		"history_ttl": int64(h.HistoryTTL), "rpc_timeout": int64(h.RPCTimeout), "write_timeout": int64(h.WriteTimeout),
		"stream_close_delay": int64(h.StreamCloseDelay), "leeway": int64(h.Leeway),
		"max_live_streams": int64(h.MaxLiveStreams), "max_subscriptions": int64(h.MaxSubscriptions), "send_buffer": h.SendBuffer,
	} {
		if v < 0 {
			return fmt.Errorf("%s: must not be negative", name)
		}
	}
	urls := h.resolved()
	if urls.rpc != "" {
		if err := rpc.CheckURL(urls.rpc); err != nil {
			return fmt.Errorf("rpc_url: %w", err)
		}
	}
	if _, err := pubsub.CheckRedisURL(urls.redis); err != nil {
		return fmt.Errorf("redis_url: %w", err)
	}
	switch h.Broker.Type {
	case "memory", "":
		if h.Broker.URL != "" {
			return errors.New("broker: the memory broker takes no url")
		}
	case "redis":
		if _, err := pubsub.CheckRedisURL(urls.broker); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	case "file":
		if h.Broker.URL != "" {
			return errors.New("broker: the file broker takes no url (its store is path)")
		}
		if h.Broker.Prefix != "" {
			if err := checkFilePrefix(h.Broker.Prefix); err != nil {
				return fmt.Errorf("broker: %w", err)
			}
		}
		if h.Broker.SyncInterval < 0 {
			return errors.New("broker: sync_interval must not be negative")
		}
	default:
		return fmt.Errorf("broker: unknown type %q (known: memory, file, redis)", h.Broker.Type)
	}
	return h.checkAdaptersWithBroker()
}

// checkJWTParam: the token's query parameter, also sent as header X-<name>.
func checkJWTParam(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return fmt.Errorf("jwt_param: invalid name %q", name)
	}
	return nil
}

// Cleanup drops this instance's reference on the shared engine. Streams that
// this instance opened keep running on the engine until they end, or until
// stream_close_delay on a reload.
func (h *Handler) Cleanup() error {
	if h.engine == nil {
		return nil
	}
	// The config that replaces this one has started by now and set the
	// delay: its value decides (0 keeps the streams).
	if d := time.Duration(h.engine.closeDelay.Load()); d > 0 && !caddy.Exiting() && h.sse != nil && h.life.running.Load() {
		h.sse.CloseAfter(d)
		if h.ws != nil {
			h.ws.CloseAfter(d)
		}
	}
	h.releaseIngesters()
	if h.sse != nil && h.sse.Opts.RPC != nil {
		rpcClients.Delete(h.sse.Opts.RPC)
		// Streams of this config may still call the app (disconnects);
		// only the idle keep-alive connections go.
		h.sse.Opts.RPC.CloseIdleConnections()
	}
	_, err := engines.Delete(h.engineKey)
	return err
}

// ServeHTTP routes the SSE path and the broadcast path, and hands everything
// else to the next handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if p := r.URL.Path; p == h.Path || p == h.BroadcastPath || (h.ws != nil && p == h.WebSocketPath) {
		if err := h.ensureStarted(); err != nil {
			h.logStartErr(err)
			return caddyhttp.Error(http.StatusServiceUnavailable, err)
		}
	}
	switch r.URL.Path {
	case h.Path:
		info := requestInfo(r)
		info.LimitKey = limitKey(r.RemoteAddr, info.RemoteAddr, h.trust.strict)
		h.sse.ServeEvents(w, r, info)
		return nil
	case h.WebSocketPath:
		if h.ws != nil {
			info := requestInfo(r)
			h.ws.ServeWebSocket(w, r, ws.RequestInfo{URL: info.URL, RemoteAddr: info.RemoteAddr,
				LimitKey: limitKey(r.RemoteAddr, info.RemoteAddr, h.trust.strict)})
			return nil
		}
	case h.BroadcastPath:
		if h.httpAdapter {
			h.serveBroadcast(w, r)
			return nil
		}
	}
	return next.ServeHTTP(w, r)
}

// requestInfo is the absolute URL (sent to the app as env.url) and the real
// client address (honouring Caddy's trusted_proxies).
func requestInfo(r *http.Request) sse.RequestInfo {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return sse.RequestInfo{URL: scheme + "://" + r.Host + r.URL.RequestURI(), RemoteAddr: ip}
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
