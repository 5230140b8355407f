// Package anycablesse is a Caddy module, directive anycable_sse, that
// terminates AnyCable-compatible Server-Sent Events inside the web server.
//
// A reader finds every behaviour in two hops from here: the configuration
// below, Provision (secrets, engine, RPC), ServeHTTP (routing to the SSE
// endpoint in package sse, the broadcast endpoint in broadcast.go, or the
// next handler). The hub and brokers are in package pubsub, the wire
// vocabulary in package protocol.
package anycablesse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/sse"
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
	// resolved at provision time.
	Secret string `json:"secret,omitempty"`
	// BroadcastKey is required as "Authorization: Bearer <key>" on the
	// broadcast endpoint. Default: HMAC-SHA256(secret, "broadcast-cable") in
	// hex. With no key, only loopback clients may broadcast.
	BroadcastKey string `json:"broadcast_key,omitempty"`

	// PublicStreams allows ?stream= (unsigned stream names).
	PublicStreams bool `json:"public_streams,omitempty"`
	// StreamsSecrets verify ?signed_stream= names. The first signs, any
	// verifies (rotation). Default: Secret. With none, signed streams are
	// refused.
	StreamsSecrets []string `json:"streams_secret,omitempty"`
	// TurboStreamsSecrets verify Turbo Streams signed names locally.
	// Default: the streams secrets when no RPC is configured (with RPC,
	// Turbo subscriptions then go to the app).
	TurboStreamsSecrets []string `json:"turbo_streams_secret,omitempty"`
	// TurboSecretKeyBase is the Rails app's secret_key_base; the Turbo
	// verifier key is derived from it exactly as Rails does.
	TurboSecretKeyBase string `json:"turbo_secret_key_base,omitempty"`

	// CableReadySecrets verify CableReady::Stream signed names locally
	// (AnyCable's --cable_ready with its secret). Without them, CableReady
	// subscriptions go to the app.
	CableReadySecrets []string `json:"cable_ready_secret,omitempty"`

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
	BroadcastAdapters []string `json:"broadcast_adapter,omitempty"`
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
	// RPCTimeout bounds one RPC call, retries included. Default: 3s.
	RPCTimeout caddy.Duration `json:"rpc_timeout,omitempty"`
	// RPCConcurrency bounds RPC calls in flight. Default: 28.
	RPCConcurrency int `json:"rpc_concurrency,omitempty"`
	// Headers are the request headers forwarded to the app. Default: cookie.
	Headers []string `json:"headers,omitempty"`

	// JWTSecrets verify identification tokens (anycable-rails-jwt) locally,
	// without a connect call to the app. The first signs, any verifies.
	// Default: Secret.
	JWTSecrets []string `json:"jwt_secret,omitempty"`
	// JWTParam is the token's query parameter; the header is "X-" + it.
	// Default: jid.
	JWTParam string `json:"jwt_param,omitempty"`
	// EnforceJWT refuses connections that bring no token (401).
	EnforceJWT bool `json:"enforce_jwt,omitempty"`
	// Leeway tolerates clock skew when checking a token's exp and nbf.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	// NoAuth accepts every connection without asking the app (identifiers
	// {"sid":…}); channels still go to the app when rpc_url is set.
	NoAuth bool `json:"noauth,omitempty"`
	// Public is AnyCable's --public: noauth, public streams, and a
	// broadcast endpoint without a key. That endpoint still accepts only
	// loopback clients unless PublicRemoteBroadcast confirms that anyone
	// who can reach it may publish.
	Public bool `json:"public,omitempty"`
	// PublicRemoteBroadcast opens the keyless broadcast endpoint of public
	// mode to every client address.
	PublicRemoteBroadcast bool `json:"public_remote_broadcast,omitempty"`

	// AllowedOrigins limits which origins get CORS headers ("*.example.com"
	// matches subdomains). Default: every origin (Access-Control-Allow-Origin: *).
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// EnforceOrigins refuses other origins with 403 (AnyCable only omits
	// the CORS header).
	EnforceOrigins bool `json:"enforce_origins,omitempty"`

	// WriteTimeout bounds one write to a client. Default: 10s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`
	// MaxPendingBytes bounds what is queued for one client; a client that
	// falls further behind is disconnected (it resumes with Last-Event-ID).
	// Default: 1 MiB.
	MaxPendingBytes int `json:"max_pending_bytes,omitempty"`
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
	// MaxConnectionsPerIP bounds open SSE connections per client address
	// (Caddy's client IP, which honours trusted_proxies). Default: no limit.
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

	// StreamCloseDelay: on a config reload, streams opened under the old
	// config end this long after it is replaced, with disconnect
	// reconnect:true (clients resume from their last id, nothing is lost).
	// Default: 0, streams outlive reloads and keep running.
	StreamCloseDelay caddy.Duration `json:"stream_close_delay,omitempty"`

	logger       *zap.Logger
	metrics      *promMetrics
	engine       *engine
	engineKey    string
	ingesterKeys []string
	ingesters    []pooledIngester
	broadcastKey string
	// openBroadcast: public mode confirmed that any client may publish.
	openBroadcast bool
	// httpAdapter: the broadcast endpoint is on (broadcast_adapter http).
	httpAdapter bool
	sse         *sse.Server
}

// BrokerConfig chooses the broker.
type BrokerConfig struct {
	// Type is "memory" (default, one node) or "redis" (Redis Streams,
	// shared by every node).
	Type string `json:"type,omitempty"`
	// URL of Redis: redis://, rediss:// (TLS), a comma list or
	// redis+cluster:// for Cluster, redis+sentinel://host1,host2/master for
	// Sentinel; password and TLS come from the URL. Default: RedisURL.
	URL string `json:"url,omitempty"`
	// Prefix of the keys the broker writes. Default: acs.
	Prefix string `json:"prefix,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.anycable_sse",
		New: func() caddy.Module { return new(Handler) },
	}
}

// defaultMaxStreamName bounds stream names (and the AnyCable ids built
// from them).
const defaultMaxStreamName = 1 << 10

// Provision resolves secrets and defaults and takes a reference on the
// shared engine. It starts nothing that outlives a `caddy validate` run.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.applyDefaults()

	repl := caddy.NewReplacer()
	resolve := func(v string) string { return repl.ReplaceKnown(v, "") }
	resolveAll := func(vs []string) []string {
		out := make([]string, 0, len(vs))
		for _, v := range vs {
			if v = resolve(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	secret := resolve(h.Secret)

	h.broadcastKey = resolve(h.BroadcastKey)
	if h.broadcastKey == "" && secret != "" && !h.Public {
		h.broadcastKey = protocol.DeriveKey(secret, protocol.PurposeBroadcast)
	}
	if h.broadcastKey == "none" {
		h.broadcastKey = ""
	}
	h.openBroadcast = h.broadcastKey == "" && h.Public && h.PublicRemoteBroadcast

	jwtKeys := resolveAll(h.JWTSecrets)
	if len(jwtKeys) == 0 && secret != "" {
		jwtKeys = []string{secret}
	}
	jwt := protocol.NewJWTVerifier(toKeys(jwtKeys), time.Duration(h.Leeway))

	streamsKeys := resolveAll(h.StreamsSecrets)
	if len(streamsKeys) == 0 && secret != "" {
		streamsKeys = []string{secret}
	}
	streams := protocol.NewVerifier(toKeys(streamsKeys)...)

	var turbo *protocol.Verifier
	turboKeys := toKeys(resolveAll(h.TurboStreamsSecrets))
	if skb := resolve(h.TurboSecretKeyBase); skb != "" {
		turboKeys = append(turboKeys, protocol.TurboKeyFromSecretKeyBase(skb))
	}
	if len(turboKeys) == 0 && h.RPCURL == "" {
		turboKeys = toKeys(streamsKeys)
	}
	if len(turboKeys) > 0 {
		turbo = protocol.NewVerifier(turboKeys...)
	}

	var cableReady *protocol.Verifier
	if keys := resolveAll(h.CableReadySecrets); len(keys) > 0 {
		cableReady = protocol.NewVerifier(toKeys(keys)...)
	}

	var rpc *protocol.RPCClient
	if h.RPCURL != "" {
		rpcSecret := resolve(h.RPCSecret)
		if rpcSecret == "" && secret != "" {
			rpcSecret = protocol.DeriveKey(secret, protocol.PurposeRPC)
		}
		if rpcSecret == "none" {
			rpcSecret = ""
		}
		var err error
		rpc, err = protocol.NewRPCClient(protocol.RPCConfig{
			URL:         resolve(h.RPCURL),
			Secret:      rpcSecret,
			Timeout:     time.Duration(h.RPCTimeout),
			Concurrency: h.RPCConcurrency,
		})
		if err != nil {
			return fmt.Errorf("rpc_url: %w", err)
		}
	}

	h.RedisURL = resolve(h.RedisURL)
	h.Broker.URL = resolve(h.Broker.URL)
	if err := h.validateAdapters(); err != nil {
		return err
	}
	for _, a := range h.BroadcastAdapters {
		h.httpAdapter = h.httpAdapter || a == adapterHTTP
	}
	m := initMetrics()
	if err := m.register(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	h.metrics = m
	eng, err := h.loadEngine()
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	h.engine = eng
	h.engineKey = h.Broker.engineKey()
	if err := h.loadIngesters(); err != nil {
		return err
	}

	headers := make([]string, len(h.Headers))
	for i, name := range h.Headers {
		headers[i] = strings.ToLower(name)
	}
	h.sse = &sse.Server{
		Hub:      eng.hub,
		Registry: eng.registry,
		Log:      h.logger,
		Metrics:  m,
		Writers:  h.takeoverWriters(),
		Opts: sse.Options{
			PingInterval:   time.Duration(*h.PingInterval),
			WriteTimeout:   time.Duration(h.WriteTimeout),
			MaxPending:     h.MaxPendingBytes,
			PublicStreams:  h.PublicStreams || h.Public,
			JWT:            jwt,
			JWTParam:       h.JWTParam,
			EnforceJWT:     h.EnforceJWT,
			NoAuth:         h.NoAuth || h.Public,
			Streams:        streams,
			Turbo:          turbo,
			CableReady:     cableReady,
			RPC:            rpc,
			RPCHeaders:     headers,
			MaxPostBody:    h.MaxPostBody,
			MaxIdentifier:  h.MaxIdentifierLength,
			MaxStreamName:  defaultMaxStreamName,
			MaxURL:         h.MaxURLLength,
			MaxStreams:     h.MaxStreamsPerConnection,
			MaxConnsPerIP:  h.MaxConnectionsPerIP,
			SendBuffer:     int(h.SendBuffer),
			AllowedOrigins: h.AllowedOrigins,
			EnforceOrigins: h.EnforceOrigins,
			Version:        Version,
		},
	}

	if err := h.hookShutdown(ctx); err != nil {
		return err
	}
	h.logStartup(streams, turbo)
	return nil
}

func (h *Handler) takeoverWriters() *sse.Writers {
	if h.HTTP1Takeover != nil && !*h.HTTP1Takeover {
		return nil
	}
	return h.engine.writers
}

func toKeys(vs []string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

func (h *Handler) applyDefaults() {
	if h.Path == "" {
		h.Path = "/events"
	}
	if h.BroadcastPath == "" {
		h.BroadcastPath = "/_broadcast"
	}
	if h.PingInterval == nil {
		d := caddy.Duration(3 * time.Second)
		h.PingInterval = &d
	}
	if h.Broker == nil {
		h.Broker = &BrokerConfig{Type: "memory"}
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
	if h.MaxPendingBytes == 0 {
		h.MaxPendingBytes = 1 << 20
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
	if h.Broker.Type == "redis" && h.Broker.URL == "" {
		h.Broker.URL = h.RedisURL
	}
	if h.Broker.Type == "redis" && h.Broker.Prefix == "" {
		h.Broker.Prefix = "acs"
	}
}

// hookShutdown ends every open stream when the process exits (not on a
// reload: streams then stay open and keep their hub). Caddy's default grace
// period is eternal, so without this `caddy stop` would wait for clients.
func (h *Handler) hookShutdown(ctx caddy.Context) error {
	appIface, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("events app: %w", err)
	}
	events := appIface.(*caddyevents.App)
	registry := h.engine.registry
	if err := events.On("stopping", eventHandler(func() {
		if caddy.Exiting() {
			registry.Shutdown(shutdownWait)
		}
	})); err != nil {
		return err
	}
	// Redis adapters start only when the config really runs.
	return events.On("started", eventHandler(h.started))
}

type eventHandler func()

func (f eventHandler) Handle(context.Context, caddy.Event) error {
	f()
	return nil
}

func (h *Handler) logStartup(streams, turbo *protocol.Verifier) {
	fields := []zap.Field{
		zap.String("path", h.Path),
		zap.String("broadcast_path", h.BroadcastPath),
		zap.String("broker", h.Broker.logName()),
		zap.Bool("public_streams", h.PublicStreams || h.Public),
		zap.Bool("jwt", len(h.JWTSecrets) > 0 || h.Secret != ""),
		zap.Bool("noauth", h.NoAuth || h.Public),
		zap.Bool("signed_streams", streams.Enabled()),
		zap.Bool("turbo_streams_local", turbo != nil && turbo.Enabled()),
		zap.Bool("rpc", h.RPCURL != ""),
		zap.Strings("broadcast_adapter", h.BroadcastAdapters),
	}
	h.logger.Info("anycable_sse ready", fields...)
	for _, a := range h.BroadcastAdapters {
		if a == adapterRedis {
			h.logger.Warn("broadcast_adapter redis is Redis pub/sub: at-most-once, every node numbers messages on its own, " +
				"so a broadcast published while a node is disconnected is lost and ids do not carry across nodes; use redisx for reliable history")
		}
	}
	switch {
	case !h.httpAdapter:
	case h.openBroadcast:
		h.logger.Warn("public mode with public_remote_broadcast: ANY client can publish to the broadcast endpoint",
			zap.String("broadcast_path", h.BroadcastPath))
	case h.broadcastKey == "":
		h.logger.Warn("no broadcast_key or secret: the broadcast endpoint accepts loopback clients only",
			zap.String("broadcast_path", h.BroadcastPath))
	}
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if !strings.HasPrefix(h.Path, "/") {
		return fmt.Errorf("path must start with /: %q", h.Path)
	}
	if !strings.HasPrefix(h.BroadcastPath, "/") {
		return fmt.Errorf("broadcast_path must start with /: %q", h.BroadcastPath)
	}
	if h.Path == h.BroadcastPath {
		return errors.New("path and broadcast_path must differ")
	}
	if h.PublicRemoteBroadcast && !h.Public {
		return errors.New("public_remote_broadcast only applies to public mode")
	}
	if h.JWTParam == "" || strings.ContainsAny(h.JWTParam, " \t\r\n:") {
		return fmt.Errorf("jwt_param: invalid name %q", h.JWTParam)
	}
	if h.PingInterval != nil && *h.PingInterval < 0 {
		return errors.New("ping_interval must not be negative")
	}
	for name, v := range map[string]int64{
		"history_limit": int64(h.HistoryLimit), "rpc_concurrency": int64(h.RPCConcurrency),
		"max_pending_bytes": int64(h.MaxPendingBytes), "max_broadcast_body": h.MaxBroadcastBody,
		"max_broadcast_batch": int64(h.MaxBroadcastBatch), "max_post_body": h.MaxPostBody,
		"max_url_length": int64(h.MaxURLLength), "max_identifier_length": int64(h.MaxIdentifierLength),
		"max_streams_per_connection": int64(h.MaxStreamsPerConnection), "max_connections_per_ip": int64(h.MaxConnectionsPerIP),
		"history_ttl": int64(h.HistoryTTL), "rpc_timeout": int64(h.RPCTimeout), "write_timeout": int64(h.WriteTimeout),
		"stream_close_delay": int64(h.StreamCloseDelay),
		"max_live_streams":   int64(h.MaxLiveStreams), "max_subscriptions": int64(h.MaxSubscriptions), "send_buffer": h.SendBuffer,
	} {
		if v < 0 {
			return fmt.Errorf("%s must not be negative", name)
		}
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
	if h.StreamCloseDelay > 0 && !caddy.Exiting() && h.sse != nil {
		h.sse.CloseAfter(time.Duration(h.StreamCloseDelay))
	}
	h.releaseIngesters()
	if h.sse != nil && h.sse.Opts.RPC != nil {
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
	switch r.URL.Path {
	case h.Path:
		h.sse.ServeEvents(w, r, requestInfo(r))
		return nil
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
