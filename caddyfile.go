package anycablesse

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("anycable_sse", parseCaddyfile)
	// Before encode: the SSE endpoint answers before encode could wrap the
	// writer, so streams are never compressed or buffered (a compressed
	// stream would also pin megabytes of encoder state per client).
	httpcaddyfile.RegisterDirectiveOrder("anycable_sse", httpcaddyfile.Before, "encode")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	anycable_sse [<matcher>] {
//	    path                  <path>          # default /events
//	    broadcast_path        <path>          # default /_broadcast
//	    secret                <secret>        # AnyCable --secret; derives the keys below
//	    broadcast_key         <key>
//	    public_streams
//	    streams_secret        <secret...>     # first signs, any verifies
//	    turbo_streams_secret  <secret...>
//	    turbo_secret_key_base <secret_key_base>
//	    cable_ready_secret    <secret...>     # CableReady::Stream names verified locally
//	    ping_interval         <duration>      # default 3s; 0 disables
//	    broker                memory | redis [<url>] { prefix <prefix> }  # same broker and prefix: shared streams
//	    redis_url             <url>           # default redis://localhost:6379
//	    broadcast_adapter     <http|redisx|redis...> # default http
//	    redisx_stream         <key>           # default __anycable__
//	    redis_channel         <channel>       # default __anycable__
//	    history_limit         <n>             # default 100
//	    history_ttl           <duration>      # default 300s
//	    rpc_url               <url>
//	    rpc_secret            <secret>
//	    rpc_timeout           <duration>      # default 3s
//	    rpc_concurrency       <n>             # default 28
//	    headers               <name...>       # default cookie
//	    jwt_secret            <secret...>     # default secret; first signs, any verifies
//	    jwt_param             <name>          # default jid (header X-JID)
//	    enforce_jwt
//	    leeway                <duration>      # clock skew for exp/nbf
//	    noauth
//	    public [allow_remote_broadcast]
//	    allowed_origins       <origin...>
//	    enforce_origins
//	    write_timeout         <duration>      # default 10s
//	    max_pending           <size>          # default 1MiB
//	    max_broadcast_body    <size>          # default 1MiB
//	    max_broadcast_batch   <n>             # default 1000
//	    max_post_body         <size>          # default 64KiB
//	    max_url_length        <size>          # default 16KiB
//	    max_identifier_length <size>          # default 4KiB
//	    max_streams_per_connection <n>        # default 100
//	    max_connections_per_ip <n>            # default: no limit
//	    max_live_streams      <n>             # default: no limit
//	    max_subscriptions     <n>             # default: no limit
//	    send_buffer           <size>          # default 256KiB
//	    stream_close_delay    <duration>      # on reload; default 0: streams outlive reloads
//	    http1_takeover        [on|off]        # default on
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("duplicate subdirective %q", name)
		}
		seen[name] = true

		var err error
		switch name {
		case "path":
			err = oneArg(d, &h.Path)
		case "broadcast_path":
			err = oneArg(d, &h.BroadcastPath)
		case "secret":
			err = oneArg(d, &h.Secret)
		case "broadcast_key":
			err = oneArg(d, &h.BroadcastKey)
		case "public_streams":
			err = flag(d, &h.PublicStreams)
		case "streams_secret":
			h.StreamsSecrets, err = someArgs(d)
		case "turbo_streams_secret":
			h.TurboStreamsSecrets, err = someArgs(d)
		case "cable_ready_secret":
			h.CableReadySecrets, err = someArgs(d)
		case "turbo_secret_key_base":
			err = oneArg(d, &h.TurboSecretKeyBase)
		case "ping_interval":
			var dur caddy.Duration
			if err = durationArg(d, &dur, true); err == nil {
				h.PingInterval = &dur
			}
		case "broker":
			err = h.parseBroker(d)
		case "redis_url":
			err = oneArg(d, &h.RedisURL)
			if err == nil && !strings.Contains(h.RedisURL, "{") {
				if _, uerr := pubsub.CheckRedisURL(h.RedisURL); uerr != nil {
					return d.Errf("redis_url: %v", uerr)
				}
			}
		case "broadcast_adapter":
			h.BroadcastAdapters, err = someArgs(d)
			for _, a := range h.BroadcastAdapters {
				if a != adapterHTTP && a != adapterRedisX && a != adapterRedis {
					return d.Errf("broadcast_adapter: unknown adapter %q (known: http, redisx, redis)", a)
				}
			}
		case "redisx_stream":
			err = oneArg(d, &h.RedisxStream)
		case "redis_channel":
			err = oneArg(d, &h.RedisChannel)
		case "history_limit":
			err = intArg(d, &h.HistoryLimit, 1)
		case "history_ttl":
			err = durationArg(d, &h.HistoryTTL, false)
		case "rpc_url":
			err = oneArg(d, &h.RPCURL)
		case "rpc_secret":
			err = oneArg(d, &h.RPCSecret)
		case "rpc_timeout":
			err = durationArg(d, &h.RPCTimeout, false)
		case "rpc_concurrency":
			err = intArg(d, &h.RPCConcurrency, 1)
		case "headers":
			h.Headers, err = someArgs(d)
		case "jwt_secret":
			h.JWTSecrets, err = someArgs(d)
		case "jwt_param":
			err = oneArg(d, &h.JWTParam)
		case "enforce_jwt":
			err = flag(d, &h.EnforceJWT)
		case "leeway":
			err = durationArg(d, &h.Leeway, true)
		case "noauth":
			err = flag(d, &h.NoAuth)
		case "public":
			h.Public = true
			if d.NextArg() {
				if d.Val() != "allow_remote_broadcast" {
					return d.Errf("public: unknown option %q (known: allow_remote_broadcast)", d.Val())
				}
				h.PublicRemoteBroadcast = true
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "allowed_origins":
			h.AllowedOrigins, err = someArgs(d)
		case "enforce_origins":
			err = flag(d, &h.EnforceOrigins)
		case "write_timeout":
			err = durationArg(d, &h.WriteTimeout, false)
		case "max_pending":
			var n int64
			if err = sizeArg(d, &n); err == nil {
				h.MaxPendingBytes = int(n)
			}
		case "max_broadcast_body":
			err = sizeArg(d, &h.MaxBroadcastBody)
		case "max_broadcast_batch":
			err = intArg(d, &h.MaxBroadcastBatch, 1)
		case "max_post_body":
			err = sizeArg(d, &h.MaxPostBody)
		case "max_url_length":
			var n int64
			if err = sizeArg(d, &n); err == nil {
				h.MaxURLLength = int(n)
			}
		case "max_identifier_length":
			var n int64
			if err = sizeArg(d, &n); err == nil {
				h.MaxIdentifierLength = int(n)
			}
		case "max_streams_per_connection":
			err = intArg(d, &h.MaxStreamsPerConnection, 1)
		case "max_connections_per_ip":
			err = intArg(d, &h.MaxConnectionsPerIP, 1)
		case "max_live_streams":
			err = intArg(d, &h.MaxLiveStreams, 1)
		case "max_subscriptions":
			err = intArg(d, &h.MaxSubscriptions, 1)
		case "send_buffer":
			err = sizeArg(d, &h.SendBuffer)
		case "http1_takeover":
			var on bool
			if err = flag(d, &on); err == nil {
				h.HTTP1Takeover = &on
			}
		case "stream_close_delay":
			err = durationArg(d, &h.StreamCloseDelay, false)
		default:
			return d.Errf("unrecognized subdirective %q", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) parseBroker(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	switch d.Val() {
	case "memory":
		if d.NextArg() {
			return d.ArgErr()
		}
		b := &BrokerConfig{Type: "memory"}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			if d.Val() != "prefix" {
				return d.Errf("broker memory: unrecognized option %q (known: prefix)", d.Val())
			}
			if err := oneArg(d, &b.Prefix); err != nil {
				return err
			}
		}
		h.Broker = b
		return nil
	case "redis":
		b := &BrokerConfig{Type: "redis"}
		if d.NextArg() {
			b.URL = d.Val()
			if _, err := pubsub.CheckRedisURL(b.URL); err != nil && !strings.Contains(b.URL, "{") {
				return d.Errf("broker redis: %v", err)
			}
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch d.Val() {
			case "prefix":
				if err := oneArg(d, &b.Prefix); err != nil {
					return err
				}
			default:
				return d.Errf("broker redis: unrecognized option %q (known: prefix)", d.Val())
			}
		}
		h.Broker = b
		return nil
	default:
		return d.Errf("unknown broker %q (known: memory, redis)", d.Val())
	}
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func someArgs(d *caddyfile.Dispenser) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return args, nil
}

// flag reads a subdirective that is on when present; "true"/"false" may be
// given explicitly.
func flag(d *caddyfile.Dispenser, dst *bool) error {
	*dst = true
	if !d.NextArg() {
		return nil
	}
	var v bool
	switch d.Val() {
	case "on":
		v = true
	case "off":
	default:
		var err error
		if v, err = strconv.ParseBool(d.Val()); err != nil {
			return d.Errf("expected on, off, true or false, got %q", d.Val())
		}
	}
	*dst = v
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration, zeroOK bool) error {
	name := d.Val()
	var v string
	if err := oneArg(d, &v); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return d.Errf("%s: invalid duration %q: %v", name, v, err)
	}
	if dur < 0 || (dur == 0 && !zeroOK) {
		return d.Errf("%s: must be positive, got %q", name, v)
	}
	*dst = caddy.Duration(time.Duration(dur))
	return nil
}

func intArg(d *caddyfile.Dispenser, dst *int, min int) error {
	name := d.Val()
	var v string
	if err := oneArg(d, &v); err != nil {
		return err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return d.Errf("%s: expected a whole number of at least %d, got %q", name, min, v)
	}
	*dst = n
	return nil
}

func sizeArg(d *caddyfile.Dispenser, dst *int64) error {
	name := d.Val()
	var v string
	if err := oneArg(d, &v); err != nil {
		return err
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<40 {
		return d.Errf("%s: invalid size %q", name, v)
	}
	*dst = int64(n)
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
