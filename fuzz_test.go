package anycablesse

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/cable"
	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/sse"
)

// handlerForTest is a handler with an in-memory engine and no Caddy around
// it, for handler-level tests and fuzzing of the broadcast endpoint.
func handlerForTest(tb testing.TB, key string) *Handler {
	tb.Helper()
	h := &Handler{MaxBroadcastBody: 4096, MaxBroadcastBatch: 5}
	h.applyDefaults()
	h.logger = zap.NewNop()
	h.metrics = initMetrics()
	mb := pubsub.NewMemoryBroker(pubsub.MemoryOptions{HistoryLimit: 10, HistoryTTL: time.Minute})
	hub := pubsub.NewHub(mb, pubsub.HubOptions{})
	if err := hub.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = hub.Close() })
	h.engine = &engine{hub: hub, registry: conn.NewRegistry(), replays: cable.NewReplays(), memory: mb, metrics: h.metrics}
	h.httpAdapter = true
	h.broadcastKey = key
	return h
}

// caddyRequest is a request as Caddy hands it to handlers: TCP peer
// remoteAddr, and the client IP and trusted-proxy vars Caddy computed.
func caddyRequest(method, target, body, remoteAddr, clientIP string, trusted bool) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = remoteAddr
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{
		caddyhttp.TrustedProxyVarKey: trusted,
		caddyhttp.ClientIPVarKey:     clientIP,
	})
	return r.WithContext(ctx)
}

// oracleLoopback decides loopback on its own (net.SplitHostPort and
// net.ParseIP, no zone), to check isLoopbackPeer against.
func oracleLoopback(remoteAddr string) bool {
	// A peer as net/http writes it (netip's own form, any zone) is what it
	// says; net.SplitHostPort refuses some of those ("[::1%]]:0").
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil && ap.String() == remoteAddr {
		return ap.Addr().Unmap().IsLoopback()
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if h, zone, ok := strings.Cut(host, "%"); ok {
		if !strings.Contains(h, ":") || zone == "" {
			return false // a zone belongs to an IPv6 address only
		}
		host = h
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FuzzPeerDecision: the keyless broadcast endpoint admits a request iff its
// TCP peer is loopback and it did not come through a trusted proxy, whatever
// X-Forwarded-For and Caddy's client IP say; the connection limit counts
// the peer unless strict mode vouches for the client IP.
func FuzzPeerDecision(f *testing.F) {
	for _, s := range [][2]string{
		{"127.0.0.1:5000", "203.0.113.9"}, {"203.0.113.9:5000", "127.0.0.1"}, {"[::1]:80", ""},
		{"[fe80::1%eth0]:80", "::1"}, {"[::ffff:127.0.0.1]:1", "127.0.0.1, 203.0.113.9"}, {"@", "127.0.0.1"},
		{"127.0.0.1", ""}, {"localhost:80", "127.0.0.1"}, {"[::1%lo]:1", ""}, {"127.1:2", ""},
	} {
		f.Add(s[0], s[1], false, false)
	}
	h := handlerForTest(f, "")
	f.Fuzz(func(t *testing.T, remoteAddr, clientIP string, trusted, strict bool) {
		serve := func(clientIP string) int {
			w := httptest.NewRecorder()
			h.serveBroadcast(w, caddyRequest(http.MethodPost, "/_broadcast", `{"stream":"f","data":"x"}`, remoteAddr, clientIP, trusted))
			return w.Code
		}
		code := serve(clientIP)
		if code != http.StatusCreated && code != http.StatusForbidden {
			t.Fatalf("peer %q: status %d", remoteAddr, code)
		}
		// Never admitted unless the peer is loopback and no trusted proxy
		// forwarded the request.
		if code == http.StatusCreated && (!oracleLoopback(remoteAddr) || trusted) {
			t.Fatalf("peer %q client IP %q trusted %v admitted", remoteAddr, clientIP, trusted)
		}
		// Caddy's client IP (X-Forwarded-For) plays no part.
		if again := serve("127.0.0.1"); again != code {
			t.Fatalf("peer %q: client IP %q gives %d, 127.0.0.1 gives %d", remoteAddr, clientIP, code, again)
		}
		// A peer as net/http writes it is admitted iff loopback.
		if ap, err := netip.ParseAddrPort(remoteAddr); err == nil && ap.String() == remoteAddr && !trusted {
			if want := ap.Addr().Unmap().IsLoopback(); (code == http.StatusCreated) != want {
				t.Fatalf("peer %q: %d, loopback %v", remoteAddr, code, want)
			}
		}
		key := limitKey(remoteAddr, clientIP, strict)
		switch {
		case strict && clientIP != "":
			if key != clientIP {
				t.Fatalf("strict: key %q, want the client IP %q", key, clientIP)
			}
		case key != limitKey(remoteAddr, "", false):
			t.Fatalf("non-strict key %q depends on the client IP %q", key, clientIP)
		}
	})
}

// FuzzBroadcastEndpoint: any body and Authorization header get one of the
// documented statuses, never a panic; 201 exactly when the key is right and
// the body parses; a refusal carries its reason without control characters.
func FuzzBroadcastEndpoint(f *testing.F) {
	for _, s := range []string{
		`{"stream":"a","data":"x"}`, `[{"stream":"a","data":"1"},{"stream":"b","data":"2"}]`,
		`{"command":"disconnect","payload":{"identifier":"{\"sid\":\"x\"}","reconnect":false}}`,
		`{"stream":"a\r\nX: y","data":"x"}`, `[1,2,3,4,5,6]`, `{`, ``, strings.Repeat(" ", 5000),
	} {
		f.Add([]byte(s), "Bearer k")
	}
	f.Add([]byte(`{"stream":"a","data":"x"}`), "Bearer K")
	f.Add([]byte(`{"stream":"a","data":"x"}`), "")
	h := handlerForTest(f, "k")
	f.Fuzz(func(t *testing.T, body []byte, auth string) {
		r := caddyRequest(http.MethodPost, "/_broadcast", string(body), "203.0.113.9:1", "127.0.0.1", false)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.serveBroadcast(w, r)
		authorized := protocol.CheckBearer(r.Header.Get("Authorization"), "k")
		_, _, perr := protocol.ParseBroadcast(body, protocol.BroadcastLimits{MaxBatch: h.MaxBroadcastBatch, MaxStreamLen: defaultMaxStreamName})
		var want int
		switch {
		case !authorized:
			want = http.StatusUnauthorized
		case int64(len(body)) > h.MaxBroadcastBody:
			want = http.StatusRequestEntityTooLarge
		case perr != nil:
			want = http.StatusUnprocessableEntity
		default:
			want = http.StatusCreated
		}
		if w.Code != want {
			t.Fatalf("status %d, want %d (%s)", w.Code, want, w.Header().Get(sse.ErrorHeader))
		}
		if reason := w.Header().Get(sse.ErrorHeader); w.Code != http.StatusCreated &&
			(reason == "" || strings.ContainsFunc(reason, func(c rune) bool { return c < ' ' || c == 0x7f })) {
			t.Fatalf("refusal reason %q", reason)
		}
	})
}
