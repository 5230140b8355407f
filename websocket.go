package anycablesse

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/sse"
	"github.com/cableway/caddy-anycable-sse/ws"
)

// The WebSocket endpoint (websocket_path): the same engine, registry,
// writer pool, authentication and streams as the SSE endpoint, with the
// ws transport on top.

// newWSServer builds the WebSocket server of this handler. Its sessions
// share the SSE server's configuration (sse.Server.Cable), given at start
// once the hub exists (Handler.start).
func (h *Handler) newWSServer(a authSetup, origins *sse.Origins) *ws.Server {
	o := h.sse.Opts
	ttl := pubsub.DefaultSessionTTL
	if h.SessionsTTL != nil {
		ttl = time.Duration(*h.SessionsTTL)
	}
	var metrics ws.Metrics
	if h.metrics != nil {
		metrics = wsMetrics{h.metrics}
	}
	return &ws.Server{
		Registry: h.engine.registry,
		Writers:  h.engine.writers,
		Log:      h.logger,
		Metrics:  metrics,
		Opts: ws.Options{
			PingInterval:  o.PingInterval,
			WriteTimeout:  o.WriteTimeout,
			MaxPending:    o.MaxPending,
			MaxMessage:    ws.DefaultMaxMessageSize,
			MaxStreams:    o.MaxStreams,
			MaxConnsPerIP: o.MaxConnsPerIP,
			SendBuffer:    o.SendBuffer,
			OriginOK:      wsOriginOK(origins, a.rpc != nil && !o.NoAuth),
			RPCHeaders:    o.RPCHeaders,
			JWTParam:      o.JWTParam,
			SessionTTL:    ttl,
			Version:       Version,
		},
	}
}

// wsOriginOK is the WebSocket origin policy. Cross-site WebSocket
// hijacking is the classic hole of sockets authenticated by cookies: with
// the app authenticating (RPC), an upgrade whose Origin is neither the
// request's own host nor in allowed_origins is refused (AnyCable accepts any
// origin unless told otherwise). allowed_origins "*" opens it. Without the
// app (public, signed streams, JWT) cookies carry no authority, so any
// origin is accepted unless allowed_origins says otherwise. An upgrade
// without an Origin header comes from a native or server-side client, not
// from a browser page, and is accepted.
func wsOriginOK(origins *sse.Origins, cookieAuth bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		if origins != nil {
			if _, ok := origins.Match(origin); ok {
				return true
			}
		}
		if sameHost(origin, r.Host) {
			return true
		}
		return origins == nil && !cookieAuth
	}
}

// sameHost reports whether origin names the host (and port) the request
// was sent to.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host) || strings.EqualFold(stripDefaultPort(u), host)
}

// stripDefaultPort is the origin's host without its scheme's default port.
func stripDefaultPort(u *url.URL) string {
	h := u.Host
	if (u.Scheme == "https" && strings.HasSuffix(h, ":443")) || (u.Scheme == "http" && strings.HasSuffix(h, ":80")) {
		return h[:strings.LastIndexByte(h, ':')]
	}
	return h
}
