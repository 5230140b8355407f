package anycablesse

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const wsSite = `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		websocket_path /cable
		ping_interval 1s
	}
	respond "next handler" 200
`

const extProto = "actioncable-v1-ext-json"

var wsStreamSeq atomic.Int64

// freshStream is a stream name no earlier test (or -count run) used.
func freshStream(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano(), wsStreamSeq.Add(1))
}

func pubsubID(stream string) string {
	return `{\"channel\":\"$pubsub\",\"stream_name\":\"` + stream + `\"}`
}

// A public stream over WebSocket: the welcome with the sid, the
// confirmation, and a broadcast with its position; an SSE client on the
// same stream gets the same message at the same offset.
func TestWebSocketPublicStream(t *testing.T) {
	loadCaddy(t, wsSite)
	st := freshStream("ws")
	c := mustDialWS(t, "/cable", extProto)
	if c.subprotocol != extProto {
		t.Fatalf("subprotocol %q", c.subprotocol)
	}
	if w := c.mustNext(); !regexp.MustCompile(`^\{"type":"welcome","sid":"[A-Za-z0-9_-]{21}"\}$`).MatchString(w) {
		t.Fatalf("welcome %s", w)
	}
	c.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `"}`)
	if m := c.mustNext(); m != `{"type":"confirm_subscription","identifier":"`+pubsubID(st)+`"}` {
		t.Fatalf("confirm %s", m)
	}
	sse := subscribe(t, "stream="+st)
	sse.mustNext() // welcome
	sse.mustNext() // confirm
	mustBroadcast(t, testKey, `{"stream":"`+st+`","data":"{\"text\":\"hi\"}"}`)
	m := c.mustNext()
	if !regexp.MustCompile(`^\{"identifier":"` + regexp.QuoteMeta(pubsubID(st)) + `","message":\{"text":"hi"\},"stream_id":"` + st + `","epoch":"[A-Za-z0-9]+","offset":1\}$`).MatchString(m) {
		t.Fatalf("message %s", m)
	}
	ev := sse.mustNext()
	if ev.ID != fmt.Sprintf("1/%s/%s", field(t, m, "epoch"), st) {
		t.Fatalf("SSE got id %q, WebSocket %s", ev.ID, m)
	}
	// The endpoint is off the SSE path and the rest goes to the next handler.
	resp, err := http.Get(baseURL() + "/other")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("next handler: %v %v", resp, err)
	}
	resp.Body.Close()
}

// Bad input gets AnyCable's answers, and a malformed message does not stop
// the reading (anycable-go's socket goes deaf after one).
func TestWebSocketBadInput(t *testing.T) {
	loadCaddy(t, wsSite)
	c := mustDialWS(t, "/cable", "actioncable-v1-json")
	c.mustNext() // welcome
	c.send(`not json`)
	c.send(`{"command":"bogus"}`)
	c.send(`null`)
	c.send(`{"command":"message","identifier":"` + pubsubID("x") + `","data":"{}"}`) // unknown subscription
	c.send(`{"command":"subscribe","identifier":"{\"channel\":\"$pubsub\"}"}`)       // no stream
	if m := c.mustNext(); m != `{"type":"reject_subscription","identifier":"{\"channel\":\"$pubsub\"}"}` {
		t.Fatalf("reject %s", m)
	}
	c.send(`{"command":"subscribe","identifier":"` + pubsubID("bad1") + `"}`)
	if m := c.mustNext(); !strings.Contains(m, "confirm_subscription") {
		t.Fatalf("after bad input: %s", m)
	}
	c.send(`{"command":"subscribe","identifier":"` + pubsubID("bad1") + `"}`) // again: nothing
	c.send(`{"command":"ping"}`)
	if m := c.mustNext(); m != `{"type":"pong"}` {
		t.Fatalf("pong %s", m)
	}
	// Over the message size limit: close 1009.
	c.send(`{"command":"message","data":"` + strings.Repeat("x", 70<<10) + `"}`)
	if code, _ := c.waitClose(5 * time.Second); code != 1009 {
		t.Fatalf("close %d, want 1009", code)
	}
}

// Session recovery (ext): a client that comes back with its old sid gets
// its subscriptions back without subscribing, asks for what it missed with
// a history command, and gets it once, in order; the old sid cannot be
// restored a second time.
func TestWebSocketSessionRecovery(t *testing.T) {
	loadCaddy(t, wsSite)
	rec := freshStream("rec")
	a := mustDialWS(t, "/cable", extProto)
	sid := field(t, a.mustNext(), "sid").(string)
	a.send(`{"command":"subscribe","identifier":"` + pubsubID(rec) + `"}`)
	a.mustNext() // confirm
	mustBroadcast(t, testKey, `{"stream":"`+rec+`","data":"1"}`)
	first := a.mustNext()
	epoch := field(t, first, "epoch").(string)
	a.Close()
	// Published while the client is away.
	mustBroadcast(t, testKey, `{"stream":"`+rec+`","data":"2"}`)
	mustBroadcast(t, testKey, `{"stream":"`+rec+`","data":"3"}`)

	b := mustDialWS(t, "/cable?sid="+sid, extProto)
	w := b.mustNext()
	if field(t, w, "restored") != true || field(t, w, "sid") == sid {
		t.Fatalf("restored welcome %s", w)
	}
	if ids := field(t, w, "restored_ids").([]any); len(ids) != 1 || ids[0] != strings.ReplaceAll(pubsubID(rec), `\"`, `"`) {
		t.Fatalf("restored_ids %v", ids)
	}
	b.send(`{"command":"history","identifier":"` + pubsubID(rec) + `","history":{"streams":{"` + rec + `":{"epoch":"` + epoch + `","offset":1}}}}`)
	for _, want := range []string{`"message":2,`, `"message":3,`} {
		if m := b.mustNext(); !strings.Contains(m, want) {
			t.Fatalf("history: %s, want %s", m, want)
		}
	}
	if m := b.mustNext(); m != `{"type":"confirm_history","identifier":"`+pubsubID(rec)+`"}` {
		t.Fatalf("confirm_history %s", m)
	}
	mustBroadcast(t, testKey, `{"stream":"`+rec+`","data":"4"}`)
	if m := b.mustNext(); !strings.Contains(m, `"message":4,`) {
		t.Fatalf("live after restore: %s", m)
	}
	// Taken once: the same old sid now gets a plain welcome.
	c := mustDialWS(t, "/cable?sid="+sid, extProto)
	if w := c.mustNext(); field(t, w, "restored") != nil {
		t.Fatalf("restored twice: %s", w)
	}
}

// Subscribing with a history request (what @anycable/web does) replays
// from the position asked before any live message.
func TestWebSocketSubscribeWithHistory(t *testing.T) {
	loadCaddy(t, wsSite)
	hist := freshStream("hist")
	mustBroadcast(t, testKey, `{"stream":"`+hist+`","data":"1"}`)
	mustBroadcast(t, testKey, `{"stream":"`+hist+`","data":"2"}`)
	c := mustDialWS(t, "/cable", extProto)
	c.mustNext()
	c.send(`{"command":"subscribe","identifier":"` + pubsubID(hist) + `","history":{"since":1}}`)
	if m := c.mustNext(); !strings.Contains(m, "confirm_subscription") {
		t.Fatalf("confirm %s", m)
	}
	for _, want := range []string{`"message":1,`, `"message":2,`, `"type":"confirm_history"`} {
		if m := c.mustNext(); !strings.Contains(m, want) {
			t.Fatalf("got %s, want %s", m, want)
		}
	}
}

// A reload with stream_close_delay sends the old config's WebSocket
// sessions away with server_restart and close 1001.
func TestWebSocketServerRestartOnReload(t *testing.T) {
	site := strings.Replace(wsSite, "ping_interval 1s", "ping_interval 1s\n\t\tstream_close_delay 10ms", 1)
	loadCaddy(t, site)
	c := mustDialWS(t, "/cable", extProto)
	c.mustNext()
	loadCaddy(t, site) // a reload: the old config's streams are sent away
	if m := c.mustNext(); m != `{"type":"disconnect","reason":"server_restart","reconnect":true}` {
		t.Fatalf("disconnect %s", m)
	}
	if code, reason := c.waitClose(5 * time.Second); code != 1001 || reason != "Server restart" {
		t.Fatalf("close %d %q", code, reason)
	}
}

// With the app authenticating by cookie, a cross-site upgrade is refused;
// the site's own origin and clients without Origin are accepted.
func TestWebSocketOriginsWithRPC(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		return 200, `{"status":1,"identifiers":"{}","transmissions":["{\"type\":\"welcome\"}"]}`
	})
	loadCaddy(t, rpcSite(app, "websocket_path /cable"))
	h := http.Header{}
	h.Set("Origin", "https://evil.example")
	if _, err := dialWS(t, "/cable", nil, h); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("cross-site upgrade: %v", err)
	}
	h.Set("Origin", baseURL())
	c, err := dialWS(t, "/cable", []string{extProto}, h)
	if err != nil {
		t.Fatalf("same origin: %v", err)
	}
	// The app's welcome gets the sid, so that the session can be recovered.
	if w := c.mustNext(); !regexp.MustCompile(`^\{"type":"welcome","sid":"[A-Za-z0-9_-]{21}"\}$`).MatchString(w) {
		t.Fatalf("welcome %s", w)
	}
	if _, err := dialWS(t, "/cable", nil, nil); err != nil {
		t.Fatalf("no Origin: %v", err)
	}
}

// A refused connect completes the upgrade, then the app's disconnect and
// close 1000 "Auth Failed" (an HTTP status would leave @rails/actioncable
// without a callback).
func TestWebSocketAuthRefused(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		return 200, `{"status":2,"transmissions":["{\"type\":\"disconnect\",\"reason\":\"unauthorized\",\"reconnect\":false}"]}`
	})
	loadCaddy(t, rpcSite(app, "websocket_path /cable"))
	c := mustDialWS(t, "/cable", "actioncable-v1-json")
	if m := c.mustNext(); m != `{"type":"disconnect","reason":"unauthorized","reconnect":false}` {
		t.Fatalf("disconnect %s", m)
	}
	if code, reason := c.waitClose(5 * time.Second); code != 1000 || reason != "Auth Failed" {
		t.Fatalf("close %d %q", code, reason)
	}
}

// An idle WebSocket on plain TCP (Linux) has no goroutine of its own: the
// pool writes it and the close watch says when to read it. A command sent
// after a long quiet is still read and answered.
func TestWebSocketIdleHasNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the epoll close watch is Linux-only; elsewhere a goroutine reads each WebSocket")
	}
	loadCaddy(t, wsSite)
	const n = 50
	clients := make([]*wsClient, n)
	for i := range clients {
		clients[i] = mustDialWS(t, "/cable", extProto)
		clients[i].mustNext()
		clients[i].send(`{"command":"subscribe","identifier":"` + pubsubID("idle") + `"}`)
		clients[i].mustNext()
	}
	if got := serverReaders(); got != 0 {
		t.Fatalf("%d reader goroutines for %d idle WebSockets", got, n)
	}
	for _, c := range clients {
		c.send(`{"command":"ping"}`)
	}
	for _, c := range clients {
		if m := c.mustNext(); m != `{"type":"pong"}` {
			t.Fatalf("after idling: %s", m)
		}
	}
}

// serverReaders counts the goroutines reading WebSockets, once every
// drain has returned.
func serverReaders() int {
	var n int
	for range 100 {
		buf := make([]byte, 1<<22)
		stacks := string(buf[:runtime.Stack(buf, true)])
		n = strings.Count(stacks, "caddy-anycable-sse/ws.(*client).readLoop") + strings.Count(stacks, "caddy-anycable-sse/ws.(*client).drain")
		if n == 0 {
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// Through Caddy's automatic HTTPS (tls internal), where browsers are: a
// wss:// connection subscribes, gets a broadcast, and the SSE stream of an
// HTTP/2 client beside it gets the same message.
func TestWebSocketOverTLS(t *testing.T) {
	loadTLSCaddy(t, wsSite)
	st := freshStream("wss")
	roots := tlsRoots(t, tlsStorage())
	c, err := dialWSURL(t, fmt.Sprintf("wss://127.0.0.1:%d/cable", tlsPort), []string{extProto}, nil, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	c.mustNext() // welcome
	c.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `"}`)
	if m := c.mustNext(); !strings.Contains(m, "confirm_subscription") {
		t.Fatalf("confirm %s", m)
	}
	h2 := newTLSSession(t, tlsProtocols[1])
	sse := h2.open("/events?stream="+st, nil)
	sse.mustNext()
	sse.mustNext()
	for i := 1; i <= 20; i++ {
		h2.broadcast(fmt.Sprintf(`{"stream":"%s","data":"%d"}`, st, i))
	}
	for i := 1; i <= 20; i++ {
		if m := c.mustNext(); !strings.Contains(m, fmt.Sprintf(`"message":%d,`, i)) {
			t.Fatalf("wss message %d: %s", i, m)
		}
		if ev := sse.mustNext(); ev.Data != fmt.Sprint(i) {
			t.Fatalf("h2 event %d: %+v", i, ev)
		}
	}
}

// A remote disconnect (the app logging a user out) drops the saved
// session: the old sid no longer restores it without a new connect.
func TestWebSocketRemoteDisconnectForgetsSession(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		websocket_path /cable
	}
	metrics /metrics`)
	remote := []string{`transport="ws"`, `reason="remote"`}
	before := scrapeLabelledAll(t, "caddy_anycable_sse_connections_closed_total", remote...)
	a := mustDialWS(t, "/cable", extProto)
	sid := field(t, a.mustNext(), "sid").(string)
	a.send(`{"command":"subscribe","identifier":"` + pubsubID(freshStream("fg")) + `"}`)
	a.mustNext()
	mustBroadcast(t, testKey, demoDisconnect(sid))
	if m := a.mustNext(); m != `{"type":"disconnect","reason":"remote","reconnect":true}` {
		t.Fatalf("disconnect %s", m)
	}
	a.waitClose(5 * time.Second)
	// The connection's end (which forgets the session) has run once it is
	// counted as closed.
	waitLabelledAll(t, "caddy_anycable_sse_connections_closed_total", before+1, remote...)
	b := mustDialWS(t, "/cable?sid="+sid, extProto)
	if w := b.mustNext(); field(t, w, "restored") != nil {
		t.Fatalf("a remotely disconnected session was restored: %s", w)
	}
}

// A subscription refused after the app (or the local check) confirmed it
// sends the rejection alone, not a confirmation then a rejection.
func TestWebSocketRefusedAfterConfirmSendsRejectOnly(t *testing.T) {
	loadCaddy(t, strings.Replace(wsSite, "ping_interval 1s", "ping_interval 1s\n\t\tmax_streams_per_connection 1", 1))
	c := mustDialWS(t, "/cable", extProto)
	c.mustNext()
	c.send(`{"command":"subscribe","identifier":"` + pubsubID(freshStream("m1")) + `"}`)
	if m := c.mustNext(); !strings.Contains(m, "confirm_subscription") {
		t.Fatalf("first %s", m)
	}
	second := pubsubID(freshStream("m2"))
	c.send(`{"command":"subscribe","identifier":"` + second + `"}`)
	if m := c.mustNext(); m != `{"type":"reject_subscription","identifier":"`+second+`"}` {
		t.Fatalf("second subscription: %s", m)
	}
	c.send(`{"command":"ping"}`)
	if m := c.mustNext(); m != `{"type":"pong"}` {
		t.Fatalf("after the rejection: %s", m)
	}
}

// A reload (no stream_close_delay) keeps WebSocket connections and their
// subscriptions: the engine outlives the config, and so do its sockets.
func TestWebSocketSurvivesReload(t *testing.T) {
	loadCaddy(t, wsSite)
	st := freshStream("rl")
	c := mustDialWS(t, "/cable", extProto)
	c.mustNext()
	c.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `"}`)
	c.mustNext()
	loadCaddy(t, strings.Replace(wsSite, "ping_interval 1s", "ping_interval 2s", 1)) // a changed config
	mustBroadcast(t, testKey, `{"stream":"`+st+`","data":"after reload"}`)
	if m := c.mustNext(); !strings.Contains(m, `"message":"after reload"`) {
		t.Fatalf("after the reload: %s", m)
	}
	c.send(`{"command":"ping"}`)
	if m := c.mustNext(); m != `{"type":"pong"}` {
		t.Fatalf("commands after the reload: %s", m)
	}
}
