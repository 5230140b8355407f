package anycablesse

// Protocol tests of the WebSocket endpoint through a real Caddy: the app's
// channels (RPC), JWT, remote disconnect, slow clients and metrics.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// wsRPCApp answers like an anycable-rails app: a connect with identifiers
// and cstate, subscriptions to ChatChannel (streams, istate) and to
// SecretChannel (refused), and performs whose action says what to change.
func wsRPCApp(t *testing.T, chatA, chatB string) *fakeApp {
	return newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		if method == "connect" {
			return 200, `{"status":1,"identifiers":"{\"user_id\":42}","transmissions":["{\"type\":\"welcome\"}"],"env":{"cstate":{"user":"u42"}}}`
		}
		if method != "command" {
			return 200, `{"status":1}`
		}
		id, _ := body["identifier"].(string)
		confirm := `{"type":"confirm_subscription","identifier":` + jsonString(id) + `}`
		reject := `{"type":"reject_subscription","identifier":` + jsonString(id) + `}`
		var resp map[string]any
		switch body["command"] {
		case "subscribe":
			if strings.Contains(id, "SecretChannel") {
				resp = map[string]any{"status": 2, "transmissions": []string{reject}}
			} else {
				resp = map[string]any{"status": 1, "streams": []string{chatA}, "transmissions": []string{confirm}, "env": map[string]any{"istate": map[string]string{"room": "1"}}}
			}
		case "message":
			var data map[string]string
			_ = json.Unmarshal([]byte(body["data"].(string)), &data)
			say := func(s string) string { return `{"said":"` + s + `"}` }
			switch data["action"] {
			case "speak":
				resp = map[string]any{"status": 1, "transmissions": []string{say("speak")}, "env": map[string]any{"cstate": map[string]string{"last": "speak"}, "istate": map[string]string{"spoke": "yes"}}}
			case "follow": // add chat_b, stop chat_a
				resp = map[string]any{"status": 1, "streams": []string{chatB}, "stopped_streams": []string{chatA}, "transmissions": []string{say("follow")}}
			case "stop_all":
				resp = map[string]any{"status": 1, "stop_streams": true, "transmissions": []string{say("stop_all")}}
			case "refollow":
				resp = map[string]any{"status": 1, "streams": []string{chatA}, "transmissions": []string{say("refollow")}}
			case "bye":
				resp = map[string]any{"status": 1, "disconnect": true, "transmissions": []string{say("bye")}}
			}
		default:
			resp = map[string]any{"status": 1}
		}
		b, _ := json.Marshal(resp)
		return 200, string(b)
	})
}

func perform(c *wsClient, identifier, action string) {
	c.send(`{"command":"message","identifier":` + jsonString(identifier) + `,"data":` + jsonString(`{"action":"`+action+`"}`) + `}`)
}

// A channel of the app over WebSocket: connect with the request's cookie
// and address, subscribe, perform with the connection's and channel's
// state, stream changes from a perform's answer, a refused subscription,
// unsubscribe, and disconnect:true from a perform; the app then gets
// exactly one disconnect with the subscriptions and the merged state.
func TestWebSocketRPCChannel(t *testing.T) {
	chatA, chatB := freshStream("chat_a"), freshStream("chat_b")
	app := wsRPCApp(t, chatA, chatB)
	loadCaddy(t, rpcSite(app, "websocket_path /cable"))
	h := http.Header{"Cookie": {"session=abc"}}
	c, err := dialWS(t, "/cable", []string{"actioncable-v1-json"}, h)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.mustNext(); !strings.HasPrefix(w, `{"type":"welcome"`) {
		t.Fatalf("welcome %s", w)
	}
	connect := app.call("connect")
	headers := connect.Body["env"].(map[string]any)["headers"].(map[string]any)
	if headers["cookie"] != "session=abc" || headers["REMOTE_ADDR"] != "127.0.0.1" {
		t.Fatalf("connect headers %v", headers)
	}
	if u := connect.Body["env"].(map[string]any)["url"]; u != baseURL()+"/cable" {
		t.Fatalf("connect url %v", u)
	}

	c.send(`{"command":"subscribe","identifier":` + jsonString(chatChannel) + `}`)
	if m := c.mustNext(); m != `{"type":"confirm_subscription","identifier":`+jsonString(chatChannel)+`}` {
		t.Fatalf("confirm %s", m)
	}
	sub := app.call("command")
	if sub.Body["command"] != "subscribe" || sub.Body["identifier"] != chatChannel || sub.Body["connection_identifiers"] != `{"user_id":42}` {
		t.Fatalf("subscribe call %v", sub.Body)
	}
	mustBroadcast(t, testKey, `{"stream":"`+chatA+`","data":"{\"n\":1}"}`)
	if m := c.mustNext(); !strings.HasPrefix(m, `{"identifier":`+jsonString(chatChannel)+`,"message":{"n":1}`) {
		t.Fatalf("broadcast on the app's stream: %s", m)
	}

	// A refused subscription: the app's reject_subscription, nothing else.
	secret := `{"channel":"SecretChannel"}`
	c.send(`{"command":"subscribe","identifier":` + jsonString(secret) + `}`)
	if m := c.mustNext(); m != `{"type":"reject_subscription","identifier":`+jsonString(secret)+`}` {
		t.Fatalf("reject %s", m)
	}

	// perform: RPC "message" with the data and both states.
	perform(c, chatChannel, "speak")
	if m := c.mustNext(); m != `{"said":"speak"}` {
		t.Fatalf("perform transmission %s", m)
	}
	msg := lastCall(app, "command")
	if msg.Body["command"] != "message" || msg.Body["identifier"] != chatChannel || msg.Body["data"] != `{"action":"speak"}` {
		t.Fatalf("perform call %v", msg.Body)
	}
	env := msg.Body["env"].(map[string]any)
	if env["cstate"].(map[string]any)["user"] != "u42" || env["istate"].(map[string]any)["room"] != "1" {
		t.Fatalf("perform env %v", env)
	}

	// Stream changes: chat_b added, chat_a stopped.
	perform(c, chatChannel, "follow")
	if m := c.mustNext(); m != `{"said":"follow"}` {
		t.Fatalf("follow %s", m)
	}
	mustBroadcast(t, testKey, `{"stream":"`+chatA+`","data":"{\"n\":2}"}`)
	mustBroadcast(t, testKey, `{"stream":"`+chatB+`","data":"{\"n\":3}"}`)
	if m := c.mustNext(); !strings.Contains(m, `"message":{"n":3}`) {
		t.Fatalf("after follow (chat_a stopped, chat_b added): %s", m)
	}
	// stop_streams: nothing any more; then chat_a again.
	perform(c, chatChannel, "stop_all")
	if m := c.mustNext(); m != `{"said":"stop_all"}` {
		t.Fatalf("stop_all %s", m)
	}
	mustBroadcast(t, testKey, `{"stream":"`+chatB+`","data":"{\"n\":4}"}`)
	perform(c, chatChannel, "refollow")
	if m := c.mustNext(); m != `{"said":"refollow"}` {
		t.Fatalf("after stop_streams a message came: %s", m)
	}
	mustBroadcast(t, testKey, `{"stream":"`+chatA+`","data":"{\"n\":5}"}`)
	if m := c.mustNext(); !strings.Contains(m, `"message":{"n":5}`) {
		t.Fatalf("after refollow: %s", m)
	}

	// Unsubscribe: RPC unsubscribe, the streams stop.
	c.send(`{"command":"unsubscribe","identifier":` + jsonString(chatChannel) + `}`)
	app.waitCalls(t, "connect", "command", "command", "command", "command", "command", "command", "command")
	if u := lastCall(app, "command"); u.Body["command"] != "unsubscribe" || u.Body["identifier"] != chatChannel {
		t.Fatalf("unsubscribe call %v", u.Body)
	}
	mustBroadcast(t, testKey, `{"stream":"`+chatA+`","data":"{\"n\":6}"}`)
	// Subscribe again (a fresh istate), and leave with disconnect:true.
	c.send(`{"command":"subscribe","identifier":` + jsonString(chatChannel) + `}`)
	if m := c.mustNext(); !strings.Contains(m, "confirm_subscription") {
		t.Fatalf("after unsubscribe a message came: %s", m)
	}
	perform(c, chatChannel, "speak")
	c.mustNext()
	perform(c, chatChannel, "bye")
	if m := c.mustNext(); m != `{"said":"bye"}` {
		t.Fatalf("bye %s", m)
	}
	if code, reason := c.waitClose(5 * time.Second); code != 1000 || reason != "Command Failed" {
		t.Fatalf("close %d %q", code, reason)
	}
	app.waitCalls(t, "connect", "command", "command", "command", "command", "command", "command", "command",
		"command", "command", "command", "disconnect")
	disc := app.call("disconnect")
	if disc.Body["identifiers"] != `{"user_id":42}` {
		t.Fatalf("disconnect identifiers %v", disc.Body)
	}
	if subs, _ := disc.Body["subscriptions"].([]any); len(subs) != 1 || subs[0] != chatChannel {
		t.Fatalf("disconnect subscriptions %v", disc.Body["subscriptions"])
	}
	denv := disc.Body["env"].(map[string]any)
	cs := denv["cstate"].(map[string]any)
	if cs["user"] != "u42" || cs["last"] != "speak" {
		t.Fatalf("disconnect cstate %v", cs)
	}
	var is map[string]string
	if raw, _ := denv["istate"].(map[string]any)[chatChannel].(string); json.Unmarshal([]byte(raw), &is) != nil || is["room"] != "1" || is["spoke"] != "yes" {
		t.Fatalf("disconnect istate %v", denv["istate"])
	}
	// Exactly one disconnect, even a while later.
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, m := range app.methods() {
		if m == "disconnect" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d disconnect calls", n)
	}
}

// lastCall returns a copy of the last call of that method.
func lastCall(a *fakeApp, method string) *rpcCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.calls) - 1; i >= 0; i-- {
		if a.calls[i].Method == method {
			c := a.calls[i]
			return &c
		}
	}
	return nil
}

// JWT over WebSocket: the token in ?jid=, in X-JID or in the
// anycable-token subprotocol entry identifies the connection without the
// app; an expired one gets token_expired, a bad one unauthorized, and
// both close 1000 "Auth Failed".
func TestWebSocketJWT(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		return 200, `{"status":2}` // the app refuses: only the token lets in
	})
	loadCaddy(t, `
	anycable_sse {
		rpc_url `+app.URL+`
		jwt_secret s3cr3t
		broadcast_key `+testKey+`
		public_streams
		websocket_path /cable
	}`)
	ids := `{"user_id":7}`
	good := railsJWT("s3cr3t", ids, time.Now().Add(time.Minute))
	cases := []struct {
		name      string
		path      string
		protocols []string
		header    http.Header
	}{
		{"query", "/cable?jid=" + good, []string{extProto}, nil},
		{"header", "/cable", []string{extProto}, http.Header{"X-Jid": {good}}},
		{"subprotocol", "/cable", []string{extProto, "anycable-token." + good}, nil},
	}
	for _, tc := range cases {
		c, err := dialWS(t, tc.path, tc.protocols, tc.header)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.subprotocol != extProto {
			t.Fatalf("%s: subprotocol %q", tc.name, c.subprotocol)
		}
		if w := c.mustNext(); !strings.HasPrefix(w, `{"type":"welcome","sid":"`) {
			t.Fatalf("%s: welcome %s", tc.name, w)
		}
		// The token's identifiers are the connection's: a remote
		// disconnect for them reaches it.
		mustBroadcast(t, testKey, `{"command":"disconnect","payload":{"identifier":"{\"user_id\":7}","reconnect":true}}`)
		if m := c.mustNext(); m != `{"type":"disconnect","reason":"remote","reconnect":true}` {
			t.Fatalf("%s: remote disconnect %s", tc.name, m)
		}
		c.waitClose(5 * time.Second)
	}
	if m := app.methods(); len(m) != 0 {
		t.Fatalf("JWT connections called the app: %v", m)
	}

	bad := []struct {
		name, token, want string
	}{
		{"expired", railsJWT("s3cr3t", ids, time.Now().Add(-time.Minute)), `{"type":"disconnect","reason":"token_expired","reconnect":false}`},
		{"wrong key", railsJWT("other", ids, time.Now().Add(time.Minute)), `{"type":"disconnect","reason":"unauthorized","reconnect":false}`},
		{"garbage", "not.a.token", `{"type":"disconnect","reason":"unauthorized","reconnect":false}`},
	}
	for _, b := range bad {
		for _, via := range []string{"query", "header", "subprotocol"} {
			path, protocols, header := "/cable", []string{extProto}, http.Header(nil)
			switch via {
			case "query":
				path += "?jid=" + b.token
			case "header":
				header = http.Header{"X-Jid": {b.token}}
			case "subprotocol":
				protocols = append(protocols, "anycable-token."+b.token)
			}
			c, err := dialWS(t, path, protocols, header)
			if err != nil {
				t.Fatalf("%s via %s: %v", b.name, via, err)
			}
			if m := c.mustNext(); m != b.want {
				t.Fatalf("%s via %s: %s", b.name, via, m)
			}
			if code, reason := c.waitClose(5 * time.Second); code != 1000 || reason != "Auth Failed" {
				t.Fatalf("%s via %s: close %d %q", b.name, via, code, reason)
			}
		}
	}
	if m := app.methods(); len(m) != 0 {
		t.Fatalf("bad tokens fell through to the app: %v", m)
	}
}

// A remote disconnect for a user's identifiers reaches every session of
// that user, WebSocket (v1 and ext) and SSE alike, and no one else's; the
// app hears of each once.
func TestWebSocketRemoteDisconnectEverySession(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		if method == "connect" {
			cookie := body["env"].(map[string]any)["headers"].(map[string]any)["cookie"].(string)
			user := strings.TrimPrefix(cookie, "user=")
			return 200, `{"status":1,"identifiers":"{\"user_id\":` + user + `}","transmissions":["{\"type\":\"welcome\"}"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "websocket_path /cable\n\t\tpublic_streams"))
	as := func(user string) http.Header { return http.Header{"Cookie": {"user=" + user}} }
	var mine []*wsClient
	for _, p := range []string{"actioncable-v1-json", extProto} {
		c, err := dialWS(t, "/cable", []string{p}, as("42"))
		if err != nil {
			t.Fatal(err)
		}
		c.mustNext()
		mine = append(mine, c)
	}
	sse := openStream(t, http.MethodGet, "/events?stream="+freshStream("mine"), "", as("42"))
	if sse.resp.StatusCode != 200 {
		t.Fatalf("SSE %d %s", sse.resp.StatusCode, sse.resp.Header.Get("X-AnyCable-Error"))
	}
	if ev := sse.mustNext(); ev.Event != "welcome" {
		t.Fatalf("SSE welcome %+v", ev)
	}
	sse.mustNext() // confirm
	other, err := dialWS(t, "/cable", []string{extProto}, as("43"))
	if err != nil {
		t.Fatal(err)
	}
	other.mustNext()
	st := freshStream("other")
	other.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `"}`)
	other.mustNext()
	app.waitCalls(t, "connect", "connect", "connect", "connect")

	mustBroadcast(t, testKey, `{"command":"disconnect","payload":{"identifier":"{\"user_id\":42}","reconnect":false}}`)
	for _, c := range mine {
		if m := c.mustNext(); m != `{"type":"disconnect","reason":"remote","reconnect":false}` {
			t.Fatalf("remote disconnect %s", m)
		}
		if code, reason := c.waitClose(5 * time.Second); code != 1000 || reason != "Closed remotely" {
			t.Fatalf("close %d %q", code, reason)
		}
	}
	if ev := sse.mustNext(); ev.Event != "disconnect" || ev.Data != `{"type":"disconnect","reason":"remote","reconnect":false}` {
		t.Fatalf("SSE remote disconnect %+v", ev)
	}
	if !sse.waitEnd(5 * time.Second) {
		t.Fatal("SSE stream did not end")
	}
	app.waitCalls(t, "connect", "connect", "connect", "connect", "disconnect", "disconnect", "disconnect")
	app.mu.Lock()
	for _, c := range app.calls[4:] {
		if c.Body["identifiers"] != `{"user_id":42}` {
			t.Errorf("disconnect of %v", c.Body["identifiers"])
		}
	}
	app.mu.Unlock()
	// The other user's session goes on.
	mustBroadcast(t, testKey, `{"stream":"`+st+`","data":"still"}`)
	if m := other.mustNext(); !strings.Contains(m, `"message":"still"`) {
		t.Fatalf("other user %s", m)
	}
}

// A process shutdown (SIGTERM) sends every WebSocket server_restart with
// reconnect and close 1001 "Server restart".
func TestWebSocketShutdown(t *testing.T) {
	n := startNode(t, wsSite)
	var cs []*wsClient
	for _, p := range []string{"actioncable-v1-json", extProto} {
		c, err := dialWSAt(t, n.url(""), "/cable", []string{p}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.mustNext()
		cs = append(cs, c)
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	for _, c := range cs {
		if m := c.mustNext(); m != `{"type":"disconnect","reason":"server_restart","reconnect":true}` {
			t.Fatalf("shutdown %s", m)
		}
		if code, reason := c.waitClose(10 * time.Second); code != 1001 || reason != "Server restart" {
			t.Fatalf("close %d %q", code, reason)
		}
	}
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("caddy did not exit\n%s", n.Logs())
	}
}

// scrapeLabelled sums the series of a metric that carry the label (e.g.
// transport="ws"), 0 when there is none.
func scrapeLabelled(t *testing.T, name, label string) float64 {
	t.Helper()
	return scrapeLabelledAll(t, name, label)
}

// scrapeLabelledAll sums the series of a metric that carry every label.
func scrapeLabelledAll(t *testing.T, name string, want ...string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		have := strings.Split(labels, ",")
		if slices.ContainsFunc(want, func(l string) bool { return !slices.Contains(have, l) }) {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		sum += v
	}
	return sum
}

func waitLabelled(t *testing.T, name, label string, want float64) {
	t.Helper()
	waitLabelledAll(t, name, want, label)
}

func waitLabelledAll(t *testing.T, name string, want float64, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrapeLabelledAll(t, name, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The connection metrics tell the transports apart: WebSocket connections
// are counted under transport="ws", SSE ones under transport="sse".
func TestWebSocketMetricsTransportLabel(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		websocket_path /cable
	}
	metrics /metrics`)
	const open, closed, refused = "caddy_anycable_sse_connections_open", "caddy_anycable_sse_connections_closed_total", "caddy_anycable_sse_requests_refused_total"
	ws, sse := `transport="ws"`, `transport="sse"`
	// Connections of earlier tests end asynchronously: start from zero.
	waitLabelled(t, open, ws, 0)
	waitLabelled(t, open, sse, 0)
	closedWS, closedSSE := scrapeLabelled(t, closed, ws), scrapeLabelled(t, closed, sse)
	refusedWS := scrapeLabelled(t, refused, ws)

	var cs []*wsClient
	for i := 0; i < 2; i++ {
		c := mustDialWS(t, "/cable", extProto)
		c.mustNext()
		cs = append(cs, c)
	}
	s := subscribe(t, "stream="+freshStream("metrics"))
	s.mustNext()
	waitLabelled(t, open, ws, 2)
	waitLabelled(t, open, sse, 1)
	if got := scrape(t, open); got != 3 {
		t.Fatalf("%s (all transports) = %v", open, got)
	}
	for _, c := range cs {
		c.Close()
	}
	waitLabelled(t, open, ws, 0)
	waitLabelled(t, closed, ws, closedWS+2)
	if got := scrapeLabelled(t, open, sse); got != 1 {
		t.Fatalf("SSE connections %v after the WebSockets closed", got)
	}
	s.Close()
	waitLabelled(t, open, sse, 0)
	waitLabelled(t, closed, sse, closedSSE+1)

	// A refused upgrade (no Upgrade header) is counted for ws.
	req, _ := http.NewRequest(http.MethodGet, baseURL()+"/cable", nil)
	req.Header.Set("Connection", "Upgrade")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad upgrade: %d", resp.StatusCode)
	}
	waitLabelled(t, refused, ws, refusedWS+1)
}

// A WebSocket client that stops reading is cut as too_slow once its queue
// passes max_pending, while another client on the same stream gets every
// message, in order.
func TestWebSocketSlowClientCut(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		websocket_path /cable
		max_pending 256KiB
		send_buffer 64KiB
		write_timeout 60s
	}
	metrics /metrics`)
	st := freshStream("slow")
	const tooSlow = `reason="too_slow"`
	cutBefore := scrapeLabelledAll(t, "caddy_anycable_sse_connections_closed_total", `transport="ws"`, tooSlow)

	// The slow client: a raw connection with a tiny receive buffer that
	// subscribes, then never reads again.
	slow := dialSlow(t)
	fmt.Fprintf(slow, "GET /cable HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", testPort, extProto)
	br := bufio.NewReader(slow)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if err := wsutil.WriteClientText(slow, []byte(`{"command":"subscribe","identifier":"`+pubsubID(st)+`"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := ws.ReadFrame(br)
		if err != nil {
			t.Fatalf("slow client before it stops reading: %v", err)
		}
		if strings.Contains(string(f.Payload), "confirm_subscription") {
			break
		}
	}

	fast := mustDialWS(t, "/cable", extProto)
	fast.mustNext()
	fast.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `"}`)
	fast.mustNext()

	const n = 64 // 1 MiB: past max_pending and every buffer on the way
	publishBig(t, st, n, 16<<10)
	for i := 1; i <= n; i++ {
		m, _ := field(t, fast.mustNext(), "message").(string)
		if !strings.HasPrefix(m, strconv.Itoa(i)+" ") {
			t.Fatalf("fast client: message %d is %.20q", i, m)
		}
	}
	waitLabelledAll(t, "caddy_anycable_sse_connections_closed_total", cutBefore+1, `transport="ws"`, tooSlow)
	// The cut connection ends (reset: the kernel drops the stale backlog).
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the slow client's connection did not end: %v", err)
	}
	// The fast client goes on.
	mustBroadcast(t, testKey, `{"stream":"`+st+`","data":"after"}`)
	if m := fast.mustNext(); !strings.Contains(m, `"message":"after"`) {
		t.Fatalf("after the cut: %s", m)
	}
}

// Commands AnyCable answers with silence stay silent and do not reach the
// app: a second subscribe to the same channel, a perform whose data is an
// object instead of a string, an unsubscribe of an unknown identifier.
func TestWebSocketRPCQuietCommands(t *testing.T) {
	chatA := freshStream("quiet")
	app := wsRPCApp(t, chatA, chatA)
	loadCaddy(t, rpcSite(app, "websocket_path /cable"))
	c := mustDialWS(t, "/cable", "actioncable-v1-json")
	c.mustNext()
	sub := `{"command":"subscribe","identifier":` + jsonString(chatChannel) + `}`
	c.send(sub)
	c.mustNext() // confirm
	c.send(sub)
	c.send(`{"command":"message","identifier":` + jsonString(chatChannel) + `,"data":{"action":"speak"}}`)
	c.send(`{"command":"unsubscribe","identifier":` + jsonString(`{"channel":"Nope"}`) + `}`)
	// A command that answers marks the end of the quiet ones.
	perform(c, chatChannel, "speak")
	if m := c.mustNext(); m != `{"said":"speak"}` {
		t.Fatalf("after the quiet commands: %s", m)
	}
	if got := strings.Join(app.methods(), ","); got != "connect,command,command" {
		t.Fatalf("rpc calls %s", got)
	}
}

// The subscriptions gauge counts WebSocket subscriptions, restored ones
// included, and comes back down when their connections end.
func TestWebSocketMetricsSubscriptions(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		websocket_path /cable
	}
	metrics /metrics`)
	const subs = "caddy_anycable_sse_subscriptions"
	waitLabelled(t, "caddy_anycable_sse_connections_open", `transport="ws"`, 0)
	waitLabelled(t, "caddy_anycable_sse_connections_open", `transport="sse"`, 0)
	base := scrape(t, subs)
	a := mustDialWS(t, "/cable", extProto)
	sid := field(t, a.mustNext(), "sid").(string)
	for _, st := range []string{freshStream("g1"), freshStream("g2")} {
		a.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `"}`)
		a.mustNext()
	}
	waitMetric(t, subs, base+2)
	a.Close()
	waitMetric(t, subs, base)
	b := mustDialWS(t, "/cable?sid="+sid, extProto)
	if w := b.mustNext(); field(t, w, "restored") != true {
		t.Fatalf("not restored: %s", w)
	}
	waitMetric(t, subs, base+2)
	b.Close()
	waitMetric(t, subs, base)
}

// After a restore, a message published before the client's history
// command comes after the history it asked for, not before; a restored
// client that asks for no history still gets the live messages.
func TestWebSocketRestoredHistoryBeforeLive(t *testing.T) {
	loadCaddy(t, wsSite)
	st := freshStream("order")
	restore := func() *wsClient {
		a := mustDialWS(t, "/cable", extProto)
		sid := field(t, a.mustNext(), "sid").(string)
		a.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `"}`)
		a.mustNext()
		a.send(`{"command":"ping"}`) // the subscribe (and its save) is done
		a.mustNext()
		a.Close()
		b := mustDialWS(t, "/cable?sid="+sid, extProto)
		if w := b.mustNext(); field(t, w, "restored") != true {
			t.Fatalf("not restored: %s", w)
		}
		return b
	}
	mustBroadcast(t, testKey, `{"stream":"`+st+`","data":"1"}`)
	b := restore()
	mustBroadcast(t, testKey, `{"stream":"`+st+`","data":"2"}`) // after the restore
	// The epoch, from a client that only reads the history.
	probe := mustDialWS(t, "/cable", extProto)
	probe.mustNext()
	probe.send(`{"command":"subscribe","identifier":"` + pubsubID(st) + `","history":{"since":1}}`)
	probe.mustNext() // confirm
	epoch := field(t, probe.mustNext(), "epoch").(string)

	b.send(`{"command":"history","identifier":"` + pubsubID(st) + `","history":{"streams":{"` + st + `":{"epoch":"` + epoch + `","offset":0}}}}`)
	for _, want := range []string{`"message":1,`, `"type":"confirm_history"`, `"message":2,`} {
		if m := b.mustNext(); !strings.Contains(m, want) {
			t.Fatalf("got %s, want %s", m, want)
		}
	}

	// Without a history command the live messages come all the same.
	c := restore()
	mustBroadcast(t, testKey, `{"stream":"`+st+`","data":"3"}`)
	if m := c.mustNext(); !strings.Contains(m, `"message":3,`) {
		t.Fatalf("restored without history: %s", m)
	}
}
