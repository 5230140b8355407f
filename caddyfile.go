package anycablesse

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/rpc"
	"github.com/cableway/caddy-anycable-sse/sse"
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

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Every
// subdirective has the name of its JSON field; list fields are plural, and
// AnyCable's singular spelling (streams_secret, broadcast_adapter, ...) is
// accepted too. Syntax:
//
//	anycable_sse [<matcher>] {
//	    path                  <path>          # default /events
//	    broadcast_path        <path>          # default /_broadcast
//	    secret                <secret>        # AnyCable --secret; derives the keys below
//	    broadcast_key         <key>|none
//	    public_streams
//	    streams_secrets       <secret...>|none # first signs, any verifies
//	    turbo_streams_secrets <secret...>
//	    turbo_secret_key_base <secret_key_base>
//	    cable_ready_secrets   <secret...>     # CableReady::Stream names verified locally
//	    ping_interval         <duration>      # default 3s; 0 disables
//	    broker                memory|redis [<url>] [prefix <prefix>] [{ prefix <prefix> }]  # same broker and prefix: shared streams
//	    broker                file [<dir>] [prefix <prefix>] [{ prefix <prefix>; sync_interval <duration> }] # one node, kept across restarts
//	    redis_url             <url>           # default redis://localhost:6379
//	    broadcast_adapters    <http|redisx|redis...> # default http
//	    redisx_stream         <key>           # default __anycable__
//	    redis_channel         <channel>       # default __anycable__
//	    history_limit         <n>             # default 100
//	    history_ttl           <duration>      # default 300s
//	    rpc_url               <url>
//	    rpc_secret            <secret>|none
//	    rpc_timeout           <duration>      # default 3s
//	    rpc_concurrency       <n>             # default 28
//	    headers               <name...>       # default cookie
//	    jwt_secrets           <secret...>|none # default secret; first signs, any verifies
//	    jwt_param             <name>          # default jid (header X-JID)
//	    enforce_jwt
//	    leeway                <duration>      # clock skew for exp/nbf
//	    noauth
//	    public [allow_remote_broadcast]
//	    allowed_origins       <origin|host pattern...>  # https://example.com, *.example.com, localhost:3000
//	    enforce_origins                       # 403 for other origins; needs allowed_origins
//	    write_timeout         <duration>      # default 10s
//	    max_pending           <size>          # default 1MiB
//	    max_broadcast_body    <size>          # default 1MiB
//	    max_broadcast_batch   <n>             # default 1000
//	    max_post_body         <size>          # default 64KiB
//	    max_url_length        <size>          # default 16KiB
//	    max_identifier_length <size>          # default 4KiB
//	    max_streams_per_connection <n>        # default 100
//	    max_connections_per_ip <n>            # default: no limit; per TCP peer unless trusted_proxies_strict
//	    max_live_streams      <n>             # default: no limit
//	    max_subscriptions     <n>             # default: no limit
//	    send_buffer           <size>          # default 256KiB
//	    stream_close_delay    <duration>      # on reload; default 0: streams outlive reloads
//	    http1_takeover        [on|off]        # default on
//	}
//
// Whatever can be checked without the environment is checked here, so the
// error names the file and line; Validate checks the rest.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	// at holds, per subdirective, an error pointing at its line, for the
	// checks that need the whole block (two subdirectives that conflict).
	at := make(map[string]func(string) error)
	for d.NextBlock(0) {
		name := d.Val()
		if canon, ok := caddyfileAliases[name]; ok {
			name = canon
		}
		if seen[name] {
			return d.Errf("duplicate subdirective %q", name)
		}
		seen[name] = true
		tok := d.Token()
		at[name] = func(msg string) error { return fmt.Errorf("%s, at %s:%d", msg, tok.File, tok.Line) }

		var err error
		switch name {
		case "path":
			err = pathArg(d, &h.Path)
		case "broadcast_path":
			err = pathArg(d, &h.BroadcastPath)
		case "websocket_path":
			err = pathArg(d, &h.WebSocketPath)
		case "sessions_ttl":
			var ttl caddy.Duration
			if err = durationArg(d, &ttl, true); err == nil {
				h.SessionsTTL = &ttl
			}
		case "secret":
			err = secretArg(d, &h.Secret)
		case "broadcast_key":
			err = secretArg(d, &h.BroadcastKey)
		case "public_streams":
			err = flag(d, &h.PublicStreams)
		case "streams_secrets":
			h.StreamsSecrets, err = secretsArgs(d)
		case "turbo_streams_secrets":
			h.TurboStreamsSecrets, err = secretsArgs(d)
		case "cable_ready_secrets":
			h.CableReadySecrets, err = secretsArgs(d)
		case "turbo_secret_key_base":
			err = secretArg(d, &h.TurboSecretKeyBase)
		case "ping_interval":
			var dur caddy.Duration
			if err = durationArg(d, &dur, true); err == nil {
				h.PingInterval = &dur
			}
		case "broker":
			err = h.parseBroker(d)
		case "redis_url":
			err = oneArg(d, &h.RedisURL)
			if err == nil && !hasPlaceholder(h.RedisURL) {
				if _, uerr := pubsub.CheckRedisURL(h.RedisURL); uerr != nil {
					return d.Errf("redis_url: %v", uerr)
				}
			}
		case "broadcast_adapters":
			h.BroadcastAdapters, err = someArgs(d)
			if err == nil {
				if cerr := checkAdapters(h.BroadcastAdapters); cerr != nil {
					return d.Errf("%v", cerr)
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
			if err == nil && !hasPlaceholder(h.RPCURL) {
				if uerr := rpc.CheckURL(h.RPCURL); uerr != nil {
					return d.Errf("rpc_url: %v", uerr)
				}
			}
		case "rpc_secret":
			err = secretArg(d, &h.RPCSecret)
		case "rpc_timeout":
			err = durationArg(d, &h.RPCTimeout, false)
		case "rpc_concurrency":
			err = intArg(d, &h.RPCConcurrency, 1)
		case "headers":
			h.Headers, err = someArgs(d)
		case "jwt_secrets":
			h.JWTSecrets, err = secretsArgs(d)
		case "jwt_param":
			err = oneArg(d, &h.JWTParam)
			if err == nil {
				if perr := checkJWTParam(h.JWTParam); perr != nil {
					return d.Errf("%v", perr)
				}
			}
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
				h.AllowRemoteBroadcast = true
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "allowed_origins":
			h.AllowedOrigins, err = someArgs(d)
			for _, o := range h.AllowedOrigins {
				if oerr := sse.CheckOriginPattern(o); oerr != nil {
					return d.Errf("%v", oerr)
				}
			}
		case "enforce_origins":
			// checkBlock refuses it, on this line, without allowed_origins.
			err = flag(d, &h.EnforceOrigins)
		case "write_timeout":
			err = durationArg(d, &h.WriteTimeout, false)
		case "max_pending":
			var n int64
			if err = sizeArg(d, &n); err == nil {
				h.MaxPending = int(n)
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
			// 0 is the default: streams outlive reloads.
			err = durationArg(d, &h.StreamCloseDelay, true)
		default:
			return d.Errf("unrecognized subdirective %q", name)
		}
		if err != nil {
			return err
		}
	}
	return h.checkBlock(at)
}

// caddyfileAliases are AnyCable's singular option names, accepted for the
// plural subdirectives (and JSON fields) of lists.
var caddyfileAliases = map[string]string{
	"streams_secret":       "streams_secrets",
	"turbo_streams_secret": "turbo_streams_secrets",
	"cable_ready_secret":   "cable_ready_secrets",
	"jwt_secret":           "jwt_secrets",
	"broadcast_adapter":    "broadcast_adapters",
}

// checkBlock runs the checks that involve several subdirectives, with the
// error on the line of the one that conflicts.
func (h *Handler) checkBlock(at map[string]func(string) error) error {
	path, bpath := h.Path, h.BroadcastPath
	if path == "" {
		path = defaultPath
	}
	if bpath == "" {
		bpath = defaultBroadcastPath
	}
	if path == bpath {
		where := at["path"]
		if where == nil {
			where = at["broadcast_path"]
		}
		return where(fmt.Sprintf("path and broadcast_path are both %q: they must differ", path))
	}
	if h.Broker != nil {
		if err := checkAdapterBroker(h.BroadcastAdapters, h.Broker.Type); err != nil {
			return at["broadcast_adapters"](err.Error())
		}
	}
	if h.EnforceJWT && len(h.JWTSecrets) == 0 && h.Secret == "" {
		return at["enforce_jwt"]("enforce_jwt needs jwt_secrets or secret: a key to check the tokens with")
	}
	if len(h.JWTSecrets) == 1 && h.JWTSecrets[0] == noKey && h.EnforceJWT {
		return at["enforce_jwt"]("enforce_jwt with jwt_secrets none: every connection would be refused")
	}
	if h.EnforceOrigins && len(h.AllowedOrigins) == 0 {
		return at["enforce_origins"]("enforce_origins needs allowed_origins (with no list every origin is allowed)")
	}
	return nil
}

func hasPlaceholder(s string) bool { return strings.Contains(s, "{") }

// pathArg reads a path, which must start with "/".
func pathArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if err := oneArg(d, dst); err != nil {
		return err
	}
	if !strings.HasPrefix(*dst, "/") {
		return d.Errf("%s: must start with /, got %q", name, *dst)
	}
	return nil
}

// errNoSecret explains the most common way to lose a secret's value: a
// {$VAR} substituted with nothing leaves no token at all.
func errNoSecret(d *caddyfile.Dispenser, name string) error {
	return d.Errf("%s: no value (an environment variable substituted with nothing?); write %q for no key", name, noKey)
}

// secretArg reads one secret.
func secretArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.NextArg() {
		return errNoSecret(d, name)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// secretsArgs reads a list of secrets; "none" must stand alone.
func secretsArgs(d *caddyfile.Dispenser) ([]string, error) {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, errNoSecret(d, name)
	}
	if len(args) > 1 && contains(args, noKey) {
		return nil, d.Errf("%q can only stand alone", noKey)
	}
	return args, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// parseBroker reads "broker memory|file|redis [<url>|<dir>] [prefix <p>]", with the
// prefix inline or in a block (a block must span lines: Caddy refuses
// "{ prefix p }" on one line).
func (h *Handler) parseBroker(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	b := &BrokerConfig{Type: d.Val()}
	switch b.Type {
	case "memory", "redis", "file":
	default:
		return d.Errf("unknown broker %q (known: memory, file, redis)", d.Val())
	}
	setPrefix := func(v string) error {
		if b.Prefix != "" {
			return d.Errf("broker %s: prefix given twice", b.Type)
		}
		if b.Type == "file" {
			if err := checkFilePrefix(v); err != nil {
				return d.Errf("broker file: %v", err)
			}
		}
		b.Prefix = v
		return nil
	}
	// One line: broker <type> [<url>|<dir>] [prefix <name>].
	for d.NextArg() {
		switch {
		case d.Val() == "prefix":
			if !d.NextArg() {
				return d.Errf("broker %s: prefix needs a value", b.Type)
			}
			if err := setPrefix(d.Val()); err != nil {
				return err
			}
		case b.Type == "redis" && b.URL == "" && b.Prefix == "":
			b.URL = d.Val()
			if !hasPlaceholder(b.URL) {
				if _, err := pubsub.CheckRedisURL(b.URL); err != nil {
					return d.Errf("broker redis: %v", err)
				}
			}
		case b.Type == "file" && b.Path == "" && b.Prefix == "":
			b.Path = d.Val()
		case b.Type == "redis":
			return d.Errf("broker redis: unexpected %q (known: [<url>] prefix <name>)", d.Val())
		case b.Type == "file":
			return d.Errf("broker file: unexpected %q (known: [<dir>] prefix <name>)", d.Val())
		default:
			return d.Errf("broker %s: unexpected %q (known: prefix <name>)", b.Type, d.Val())
		}
	}
	// Block: { prefix <name>; sync_interval <duration> (file) }.
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch {
		case d.Val() == "prefix":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			if err := setPrefix(v); err != nil {
				return err
			}
		case d.Val() == "sync_interval" && b.Type == "file":
			if err := durationArg(d, &b.SyncInterval, true); err != nil {
				return err
			}
		case b.Type == "file":
			return d.Errf("broker file: unrecognized option %q (known: prefix, sync_interval)", d.Val())
		default:
			return d.Errf("broker %s: unrecognized option %q (known: prefix)", b.Type, d.Val())
		}
	}
	h.Broker = b
	return nil
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
