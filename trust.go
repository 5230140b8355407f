package anycablesse

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Which address a decision may rest on. Caddy's client IP honours
// X-Forwarded-For from trusted_proxies; in its default (non-strict) mode it
// is the leftmost entry, which the client writes itself when its proxy
// appends. So loopback decisions rest on the TCP peer only, and per-address
// limits on Caddy's client IP only when trusted_proxies_strict makes it the
// rightmost untrusted hop, an address the client cannot choose.

// serverTrust is how the Caddy server that runs the handler treats
// forwarded addresses.
type serverTrust struct {
	// proxies: trusted_proxies (or trusted_proxies_unix) is configured.
	proxies bool
	// strict: trusted_proxies_strict is on.
	strict bool
}

// trustOf reads the server being provisioned from the provisioning context
// (Caddy puts it there for its routes' handlers).
func trustOf(ctx caddy.Context) serverTrust {
	srv, _ := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil {
		return serverTrust{}
	}
	return serverTrust{proxies: srv.TrustedProxiesUnix || hasTrustedProxies(srv), strict: srv.TrustedProxiesStrict > 0}
}

// hasTrustedProxies reports whether the server has a trusted_proxies
// source. Caddy keeps the loaded source unexported (and clears the raw JSON
// once loaded), so it is read by reflection, read-only; the test
// TestKeylessBroadcastRefusedWithTrustedProxies breaks if Caddy renames it.
// The request-time check in serveBroadcast backs this up.
func hasTrustedProxies(srv *caddyhttp.Server) bool {
	if srv.TrustedProxiesRaw != nil {
		return true
	}
	f := reflect.ValueOf(srv).Elem().FieldByName("trustedProxies")
	return f.IsValid() && f.Kind() == reflect.Interface && !f.IsNil()
}

// errKeylessBehindProxies refuses the keyless, loopback-only broadcast
// endpoint on a server that trusts proxies: a proxy on the same host makes
// every client it forwards look local.
var errKeylessBehindProxies = errors.New("broadcast_key: the server has trusted_proxies, and a keyless broadcast endpoint " +
	"(loopback clients only) cannot tell a local publisher from a client forwarded by a proxy: set broadcast_key (or secret), " +
	"or drop the http broadcast adapter")

// peerIP is the TCP peer's address of a request, without port or IPv6 zone;
// a Unix socket peer ("@") stays as it is.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	host, _, _ = strings.Cut(host, "%")
	return host
}

// isLoopbackPeer says whether the TCP peer is a loopback address. Parsing
// is strict (an IPv6 zone only on IPv6, nothing but an address and a port),
// so that no odd form passes for loopback.
func isLoopbackPeer(remoteAddr string) bool {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap().IsLoopback()
	}
	a, err := netip.ParseAddr(remoteAddr)
	return err == nil && a.Unmap().IsLoopback()
}

// viaTrustedProxy says whether Caddy found the request's peer among its
// trusted proxies.
func viaTrustedProxy(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted
}

// limitKey is the address max_connections_per_ip counts: Caddy's client IP
// when trusted_proxies_strict makes it trustworthy, else the TCP peer.
func limitKey(remoteAddr, clientIP string, strict bool) string {
	if strict && clientIP != "" {
		return clientIP
	}
	return peerIP(remoteAddr)
}
