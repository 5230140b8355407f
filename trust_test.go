package anycablesse

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// testPeer is a test-only handler that makes a request look as if its TCP
// peer were the address in X-Test-Peer, after Caddy computed its client IP
// from the real (loopback) peer. That is how a non-loopback client is
// simulated: no traffic ever goes to a non-loopback address.
type testPeer struct{}

func (testPeer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.anycable_test_peer", New: func() caddy.Module { return new(testPeer) }}
}

func (testPeer) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if p := r.Header.Get("X-Test-Peer"); p != "" {
		r.RemoteAddr = p
	}
	return next.ServeHTTP(w, r)
}

func (*testPeer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	return nil
}

func init() {
	caddy.RegisterModule(testPeer{})
	httpcaddyfile.RegisterHandlerDirective("anycable_test_peer", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		m := new(testPeer)
		return m, m.UnmarshalCaddyfile(h.Dispenser)
	})
}

// tryLoadCaddy is loadCaddyWithGlobal that returns the adapt or load error
// instead of failing; the running config stays when loading fails.
func tryLoadCaddy(t *testing.T, global, site string) error {
	t.Helper()
	if err := loadOnTestPort(func(port int) string {
		return fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n\tgrace_period 1s\n\t%s\n}\nhttp://127.0.0.1:%d {\n%s\n}\n", global, port, site)
	}); err != nil {
		return err
	}
	waitListening(t)
	return nil
}

func postBroadcast(t *testing.T, header http.Header, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, baseURL()+"/_broadcast", strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := doRetry(req, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// The keyless endpoint decides on the TCP peer, not on Caddy's client IP
// (which a client writes itself through X-Forwarded-For when a trusted proxy
// appends to it).
func TestKeylessBroadcastDecidesOnPeer(t *testing.T) {
	loadCaddy(t, `
	route {
		anycable_test_peer
		anycable_sse {
			public_streams
		}
	}`)
	if r := postBroadcast(t, nil, `{"stream":"a","data":"x"}`); r.StatusCode != 201 {
		t.Fatalf("loopback peer: %d %s", r.StatusCode, r.Header.Get("X-AnyCable-Error"))
	}
	// Caddy's client IP is 127.0.0.1 (the real peer), the peer is remote.
	r := postBroadcast(t, http.Header{"X-Test-Peer": {"203.0.113.9:40000"}}, `{"stream":"a","data":"x"}`)
	if r.StatusCode != 403 || !strings.Contains(r.Header.Get("X-AnyCable-Error"), "loopback") {
		t.Fatalf("remote peer whose client IP says loopback: %d %s", r.StatusCode, r.Header.Get("X-AnyCable-Error"))
	}
	if r := postBroadcast(t, http.Header{"X-Test-Peer": {"[::1]:40000"}}, `{"stream":"a","data":"x"}`); r.StatusCode != 201 {
		t.Fatalf("IPv6 loopback peer: %d", r.StatusCode)
	}
}

// With trusted_proxies and no key, the keyless endpoint is refused at
// provision: a proxy on the same host makes every client look local.
func TestKeylessBroadcastRefusedWithTrustedProxies(t *testing.T) {
	global := `servers {
		trusted_proxies static 10.0.0.0/8
	}`
	err := tryLoadCaddy(t, global, `
	anycable_sse {
		public_streams
	}`)
	if err == nil || !strings.Contains(err.Error(), "set broadcast_key") || !strings.Contains(err.Error(), "trusted_proxies") {
		t.Fatalf("keyless endpoint with trusted_proxies: %v", err)
	}
	// Public mode without remote publishing is keyless too.
	if err := tryLoadCaddy(t, global, `anycable_sse {
		public
	}`); err == nil || !strings.Contains(err.Error(), "set broadcast_key") {
		t.Fatalf("public mode with trusted_proxies: %v", err)
	}
	// A key, or an endpoint open to all by choice, is fine.
	for _, site := range []string{
		"anycable_sse {\n\t\tbroadcast_key k\n\t}",
		"anycable_sse {\n\t\tsecret s\n\t}",
		"anycable_sse {\n\t\tpublic allow_remote_broadcast\n\t}",
	} {
		if err := tryLoadCaddy(t, global, site); err != nil {
			t.Errorf("%s: %v", site, err)
		}
	}
}

// Behind a trusted proxy without strict mode, X-Forwarded-For is the
// client's to write: max_connections_per_ip counts the TCP peer. With
// trusted_proxies_strict it counts Caddy's client IP.
func TestConnectionLimitCountsPeerUnlessStrict(t *testing.T) {
	site := `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		max_connections_per_ip 2
	}
	metrics /metrics`
	open := func(xff string) *sseClient {
		return openStream(t, http.MethodGet, "/events?stream=lim", "", http.Header{"X-Forwarded-For": {xff}})
	}
	loadCaddyWithGlobal(t, `servers {
		trusted_proxies static 127.0.0.1/32
	}`, site)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	a, b, c := open("198.51.100.1"), open("198.51.100.2"), open("198.51.100.3")
	if a.resp.StatusCode != 200 || b.resp.StatusCode != 200 || c.resp.StatusCode != 429 {
		t.Fatalf("non-strict, rotating X-Forwarded-For: %d %d %d, want 200 200 429", a.resp.StatusCode, b.resp.StatusCode, c.resp.StatusCode)
	}
	a.Close()
	b.Close()
	c.Close()

	loadCaddyWithGlobal(t, `servers {
		trusted_proxies static 127.0.0.1/32
		trusted_proxies_strict
	}`, site)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	var open200 []*sseClient
	for _, xff := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.1"} {
		s := open(xff)
		if s.resp.StatusCode != 200 {
			t.Fatalf("strict, %s: %d", xff, s.resp.StatusCode)
		}
		open200 = append(open200, s)
	}
	if s := open("198.51.100.1"); s.resp.StatusCode != 429 {
		t.Fatalf("strict, third from one client: %d", s.resp.StatusCode)
	}
	for _, s := range open200 {
		s.Close()
	}
}

// The sid is the server's: a client that sends another client's
// X-Request-ID does not share its sid, so a remote disconnect aimed at the
// identifiers {"sid":…} of one (noauth) reaches that one only.
func TestSessionIDIsNotChosenByTheClient(t *testing.T) {
	loadCaddy(t, publicSite)
	h := http.Header{"X-Request-Id": {"same-id"}}
	one := openStream(t, http.MethodGet, "/events?stream=sid", "", h)
	two := openStream(t, http.MethodGet, "/events?stream=sid", "", h)
	w1, w2 := one.mustNext(), two.mustNext()
	one.mustNext()
	two.mustNext()
	sid := strings.TrimSuffix(strings.TrimPrefix(w1.Data, `{"type":"welcome","sid":"`), `"}`)
	if len(sid) != 21 || w2.Data == w1.Data || strings.Contains(w1.Data, "same-id") {
		t.Fatalf("sids: %s %s", w1.Data, w2.Data)
	}
	mustBroadcast(t, testKey, `{"command":"disconnect","payload":{"identifier":"{\"sid\":\"`+sid+`\"}","reconnect":false}}`)
	if ev := one.mustNext(); ev.Event != "disconnect" {
		t.Fatalf("one: %+v", ev)
	}
	mustBroadcast(t, testKey, `{"stream":"sid","data":"still here"}`)
	if ev := two.mustNext(); ev.Data != "still here" {
		t.Fatalf("two was disconnected too: %+v", ev)
	}
}

// A POST whose body is still being read counts against
// max_connections_per_ip under the same key as an open stream: behind a
// non-strict trusted proxy, the TCP peer. Before, the body hold counted the
// forwarded address, so a client rotating X-Forwarded-For held any number
// of slow bodies.
func TestSlowPostBodiesCountPeerUnlessStrict(t *testing.T) {
	loadCaddyWithGlobal(t, `servers {
		trusted_proxies static 127.0.0.1/32
	}`, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		max_connections_per_ip 2
	}
	metrics /metrics`)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	// Slow POSTs, each from a different forwarded address: the header and
	// the first byte of a body that never completes. Two more each round,
	// in case a round's reached the server of the config before.
	n := 0
	slowPosts := func() {
		for i := 0; i < 2; i++ {
			n++
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", testPort))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			fmt.Fprintf(conn, "POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 198.51.100.%d\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", n)
		}
	}
	// Another client, from yet another forwarded address, is over the
	// peer's limit once two bodies are being read.
	body := `{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"slowpost\"}"}`
	for round := 0; ; round++ {
		slowPosts()
		c := openStream(t, http.MethodPost, "/events", body, http.Header{"X-Forwarded-For": {"203.0.113.1"}})
		status := c.resp.StatusCode
		c.Close()
		if status == http.StatusTooManyRequests {
			return
		}
		if status != http.StatusOK {
			t.Fatalf("third POST: %d %s", status, c.resp.Header.Get("X-AnyCable-Error"))
		}
		if round == 20 {
			t.Fatalf("%d slow POST bodies with rotated X-Forwarded-For did not count against the peer's max_connections_per_ip 2", n)
		}
		waitMetric(t, "caddy_anycable_sse_connections_open", 0)
		time.Sleep(100 * time.Millisecond) // let the bodies' reads start
	}
}
