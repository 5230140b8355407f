package anycablesse

import (
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// siteScope names the site a handler serves, for the default memory engine:
// handlers without an explicit prefix share an engine only within one site,
// so that two site blocks in one Caddyfile never see each other's streams,
// history or connections (site B's broadcast key must not publish to site
// A's clients). An explicit `broker memory prefix X` shares on purpose.
//
// The scope is the server's listen addresses plus the host matchers of the
// top-level route that holds the handler: that is what a Caddyfile site
// address becomes, it does not change on a reload of the same config (so
// history survives the reload), and it differs between site blocks (another
// port is another server; another host on the same port another route).
// Reordering or adding sites does not move a site's engine to another
// site, which a key from the handler's position would.
//
// The enclosing route is found through the provisioning order of
// caddyhttp (routes are provisioned one after the other, matchers before
// handlers, a route's raw handler config dropped once they are all loaded):
// the route being provisioned is the first one that still has its raw
// handler config. Outside an HTTP server (unit tests that provision a
// Handler alone) the scope is empty, which is the former shared default.
func siteScope(ctx caddy.Context) string {
	srv, _ := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil {
		return ""
	}
	listen := append([]string(nil), srv.Listen...)
	sort.Strings(listen)
	var hosts []string
	for _, r := range srv.Routes {
		if r.HandlersRaw == nil {
			continue // provisioned before this handler's route (or has no handlers)
		}
		for _, set := range r.MatcherSets {
			for _, m := range set {
				if mh, ok := m.(*caddyhttp.MatchHost); ok {
					hosts = append(hosts, *mh...)
				}
			}
		}
		break
	}
	sort.Strings(hosts)
	return strings.Join(listen, ",") + "|" + strings.Join(hosts, ",")
}

// brokerKey is the engine key of this handler: the broker's key, and for
// the default memory broker (no prefix) the site it serves (siteScope).
func (h *Handler) brokerKey() string {
	switch h.Broker.Type {
	case "", "memory":
		if h.Broker.Prefix == "" && h.site != "" {
			return "memory-site|" + h.site
		}
	}
	return h.Broker.engineKey(h.resolved().broker)
}
