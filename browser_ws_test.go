package anycablesse

// The WebSocket endpoint (websocket_path) in a real browser: headless
// Chromium opens test pages (testdata/browser/ws) that load the vendored
// JavaScript clients (testdata/js) from the in-process Caddy, and the
// clients Rails apps use talk to the module as they would to AnyCable:
// @rails/actioncable through the app (RPC), Turbo's
// <turbo-cable-stream-source> with a signed stream name, and @anycable/web
// on the extended protocol through a lost connection and a session
// restore. Same rule as TestBrowser: without /usr/bin/chromium it skips,
// unless ANYCABLE_SSE_REQUIRE_BROWSER=1.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// wsPagesSite serves testdata: the pages under /browser/ws/, the bundles
// under /js/. The module handles /cable and /_broadcast before file_server.
const wsPagesSite = `
	root * testdata
	file_server`

func TestBrowserWebSocket(t *testing.T) {
	needBrowser(t)
	b := startBrowser(t)

	t.Run("ActionCableThroughTheApp", func(t *testing.T) { browserActionCable(t, b) })
	t.Run("TurboCableStreamSource", func(t *testing.T) { browserTurboCable(t, b) })
	t.Run("AnyCableRestoresSession", func(t *testing.T) { browserAnyCableRestore(t, b) })
	t.Run("AnyCableRemoteDisconnect", func(t *testing.T) { browserAnyCableRemoteDisconnect(t, b) })
	t.Run("DemoPage", func(t *testing.T) { browserWSDemo(t, b) })
}

// needBrowser skips without Chromium, or fails when the browser is required.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(browserExecPath); err != nil {
		if os.Getenv(browserRequireEnv) == "1" {
			t.Fatalf("chromium not found at %s (%v), and %s=1: apt-get install chromium", browserExecPath, err, browserRequireEnv)
		}
		t.Skip("chromium not found: apt-get install chromium to run the browser test")
	}
}

// @rails/actioncable: the app (rpc_url) accepts the connection and the
// subscription to ChatChannel with the stream chat_1; a broadcast to
// chat_1 reaches received(), and perform() reaches the app as a "message"
// command, whose transmission comes back to the page.
func browserActionCable(t *testing.T, b *browser) {
	const chat = `{"channel":"ChatChannel","room":1}`
	app := newFakeApp(t, func(method string, body map[string]any, _ *http.Request) (int, string) {
		switch method {
		case "connect":
			return http.StatusOK, `{"status":1,"identifiers":"{\"user_id\":7}","transmissions":["{\"type\":\"welcome\"}"]}`
		case "command":
			id, _ := body["identifier"].(string)
			switch body["command"] {
			case "subscribe":
				return http.StatusOK, jsonString(map[string]any{"status": 1, "streams": []string{"chat_1"},
					"transmissions": []string{jsonString(map[string]string{"type": "confirm_subscription", "identifier": id})}})
			case "message":
				var data struct{ Action, Text string }
				s, _ := body["data"].(string)
				_ = json.Unmarshal([]byte(s), &data)
				return http.StatusOK, jsonString(map[string]any{"status": 1,
					"transmissions": []string{jsonString(map[string]any{"identifier": id, "message": map[string]string{"echo": data.Action + ": " + data.Text}})}})
			}
		}
		return http.StatusOK, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "websocket_path /cable")+wsPagesSite)

	tab := b.newTab(t)
	defer tab.close()
	tab.navigate(t, "/browser/ws/actioncable.html")
	wsWait(t, tab, "the subscription to be confirmed", `window.page && page.connected === 1`, 5*time.Second)
	if p := browserEval[string](t, tab, `rec.opened[0].protocol`); p != "actioncable-v1-json" {
		t.Errorf("negotiated subprotocol %q, want actioncable-v1-json", p)
	}

	mustBroadcast(t, testKey, `{"stream":"chat_1","data":"{\"text\":\"hello chat\"}"}`)
	wsWait(t, tab, "the broadcast", `page.received.length >= 1`, 5*time.Second)

	browserEval[bool](t, tab, `page.speak('hi from the page'), true`)
	wsWait(t, tab, "the app's answer to perform", `page.received.length >= 2`, 5*time.Second)

	got := browserEval[string](t, tab, `JSON.stringify(page.received)`)
	if want := `[{"text":"hello chat"},{"echo":"speak: hi from the page"}]`; got != want {
		t.Errorf("received %s, want %s", got, want)
	}
	cmd := app.callWith("command", "message")
	if cmd == nil {
		t.Fatalf("the app saw no message command: %v", app.methods())
	}
	var data map[string]any
	if s, _ := cmd.Body["data"].(string); json.Unmarshal([]byte(s), &data) != nil || data["action"] != "speak" || data["text"] != "hi from the page" {
		t.Errorf("message command data %v", cmd.Body["data"])
	}
	if cmd.Body["identifier"] != chat || cmd.Body["connection_identifiers"] != `{"user_id":7}` {
		t.Errorf("message command %v", cmd.Body)
	}
	if n := browserEval[int](t, tab, `page.disconnected + page.rejected + rec.closes.length`); n != 0 {
		t.Errorf("%d disconnects, rejections or closes", n)
	}
	tab.checkNoExceptions(t)
}

// Turbo's <turbo-cable-stream-source> with a name signed with the site's
// streams_secrets subscribes to Turbo::StreamsChannel; broadcasts of
// <turbo-stream> actions change the page, in order. A tampered name is
// rejected.
func browserTurboCable(t *testing.T, b *browser) {
	const secret = "ws-browser-streams-secret"
	loadCaddy(t, `
	anycable_sse {
		streams_secrets `+secret+`
		broadcast_key `+testKey+`
		websocket_path /cable
	}`+wsPagesSite)
	stream := freshStream("turbo_ws")
	signed := protocol.SignStream([]byte(secret), stream)

	tab := b.newTab(t)
	defer tab.close()
	tab.navigate(t, "/browser/ws/turbo.html?signed="+url.QueryEscape(signed))
	// turbo-rails sets "connected" when the subscription is confirmed.
	wsWait(t, tab, "Turbo's subscription", `document.querySelector('turbo-cable-stream-source').hasAttribute('connected')`, 5*time.Second)

	for n := 1; n <= 2; n++ {
		html := fmt.Sprintf(`<turbo-stream action="append" target="messages"><template><li>appended over WebSocket %d</li></template></turbo-stream>`, n)
		mustBroadcast(t, testKey, jsonString(map[string]string{"stream": stream, "data": jsonString(html)}))
	}
	wsWait(t, tab, "Turbo to append both", `document.querySelectorAll('#messages li').length >= 2`, 5*time.Second)
	items := browserEval[[]string](t, tab, `[...document.querySelectorAll('#messages li')].map(li => li.textContent)`)
	if strings.Join(items, "|") != "appended over WebSocket 1|appended over WebSocket 2" {
		t.Errorf("list %q", items)
	}
	sub := browserEval[string](t, tab, `JSON.parse(rec.sent.find(s => JSON.parse(s).command === 'subscribe')).identifier`)
	if sub != jsonString(map[string]string{"channel": "Turbo::StreamsChannel", "signed_stream_name": signed}) {
		t.Errorf("subscribe identifier %s", sub)
	}

	// Another element with the signature tampered with: refused.
	bad := signed[:len(signed)-1] + map[bool]string{true: "0", false: "1"}[!strings.HasSuffix(signed, "0")]
	browserEval[bool](t, tab, fmt.Sprintf(`(() => {
		const s = document.createElement('turbo-cable-stream-source');
		s.setAttribute('channel', 'Turbo::StreamsChannel');
		s.setAttribute('signed-stream-name', %q);
		document.body.appendChild(s);
		return true;
	})()`, bad))
	wsWait(t, tab, "the tampered name's rejection", `rec.ofType('reject_subscription').length === 1`, 5*time.Second)
	if n := browserEval[int](t, tab, `document.querySelectorAll('turbo-cable-stream-source[connected]').length`); n != 1 {
		t.Errorf("%d sources connected, want only the one with the valid name", n)
	}
	tab.checkNoExceptions(t)
}

// @anycable/web on actioncable-v1-ext-json follows a public stream. The
// page's socket is lost (closed from the page, so the server sends no
// disconnect, which would make the client forget its session); three
// messages are published while the page is away; the client reconnects
// with ?sid=, the welcome says restored, nothing is subscribed again, and
// the history request replays what was missed: every message once, in
// order, at consecutive offsets.
func browserAnyCableRestore(t *testing.T, b *browser) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		websocket_path /cable
	}`+wsPagesSite)
	stream := freshStream("anycable_web")
	publish := func(text string) {
		mustBroadcast(t, testKey, jsonString(map[string]string{"stream": stream, "data": jsonString(map[string]string{"text": text})}))
	}

	tab := b.newTab(t)
	defer tab.close()
	tab.navigate(t, "/browser/ws/anycable.html?stream="+url.QueryEscape(stream))
	wsWait(t, tab, "the stream subscription", `window.page && page.connects.length === 1 && rec.ofType('confirm_subscription').length === 1`, 5*time.Second)
	if p := browserEval[string](t, tab, `rec.opened[0].protocol`); p != extProto {
		t.Fatalf("negotiated subprotocol %q, want %s", p, extProto)
	}
	sid := browserEval[string](t, tab, `rec.ofType('welcome')[0].sid`)

	var want []string
	for n := 1; n <= 3; n++ {
		want = append(want, fmt.Sprintf("live %d", n))
		publish(want[len(want)-1])
	}
	wsWait(t, tab, "the live messages", `page.messages.length >= 3`, 5*time.Second)

	// The connection is lost; the client's reconnect waits at the gate.
	browserEval[bool](t, tab, `rec.drop(), true`)
	wsWait(t, tab, "the client to try to reconnect", `page.disconnects.length === 1 && page.waiting`, 10*time.Second)
	for n := 1; n <= 3; n++ {
		want = append(want, fmt.Sprintf("missed %d", n))
		publish(want[len(want)-1])
	}
	if n := browserEval[int](t, tab, `page.messages.length + (page.waiting ? 0 : 100)`); n != 3 {
		t.Fatalf("the page got messages or reconnected while away (%d): the test proves nothing", n)
	}
	browserEval[bool](t, tab, `page.release(), true`)
	wsWait(t, tab, "the restore and the replay", `page.connects.length === 2 && page.messages.length >= 6`, 10*time.Second)
	want = append(want, "after the restore")
	publish(want[len(want)-1])
	wsWait(t, tab, "the live message after the restore", `page.messages.length >= 7`, 5*time.Second)

	var st struct {
		Connects []struct{ Reconnect, Restored bool }
		Messages []struct {
			Msg    struct{ Text string }
			Stream string
			Epoch  string
			Offset int
		}
		Welcomes []struct {
			Sid         string
			Restored    bool
			RestoredIDs []string `json:"restored_ids"`
		}
		Opened   []struct{ URL string }
		Commands []string
	}
	raw := browserEval[string](t, tab, `JSON.stringify({connects: page.connects, messages: page.messages,
		welcomes: rec.ofType('welcome'), opened: rec.opened, commands: rec.sent.map(s => JSON.parse(s).command)})`)
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	var got []string
	for _, m := range st.Messages {
		got = append(got, m.Msg.Text)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("messages %q, want each once in order %q", got, want)
	}
	for i, m := range st.Messages {
		if m.Stream != stream || m.Epoch != st.Messages[0].Epoch || m.Offset != i+1 {
			t.Errorf("message %d at %s/%s/%d, want offset %d of %s in one epoch", i, m.Stream, m.Epoch, m.Offset, i+1, stream)
		}
	}
	if len(st.Connects) != 2 || st.Connects[0].Restored || !st.Connects[1].Reconnect || !st.Connects[1].Restored {
		t.Errorf("connect events %+v, want a first connect, then a restored reconnect", st.Connects)
	}
	pubsub := jsonString(map[string]string{"channel": "$pubsub", "stream_name": stream})
	if len(st.Welcomes) != 2 || st.Welcomes[0].Sid != sid || !st.Welcomes[1].Restored ||
		len(st.Welcomes[1].RestoredIDs) != 1 || st.Welcomes[1].RestoredIDs[0] != pubsub {
		t.Errorf("welcomes %+v, want the second restored with %s", st.Welcomes, pubsub)
	}
	if len(st.Opened) != 2 || !strings.Contains(st.Opened[1].URL, "sid="+sid) {
		t.Errorf("sockets opened %+v, want the second with sid=%s", st.Opened, sid)
	}
	// Restored, not subscribed again: one subscribe, then a history request.
	if strings.Count(strings.Join(st.Commands, ","), "subscribe") != 1 || !strings.Contains(strings.Join(st.Commands, ","), "history") {
		t.Errorf("commands sent %v, want one subscribe and a history request", st.Commands)
	}
	tab.checkNoExceptions(t)
}

// @anycable/web through a remote disconnect (the broadcast endpoint's
// disconnect command for the connection's identifiers, {"sid":...}
// without an app): the client forgets its session on the disconnect
// message, so it comes back as a new session and subscribes again with a
// history request from the last position it saw; what was published while
// it was away arrives once, in order, before the live messages.
func browserAnyCableRemoteDisconnect(t *testing.T, b *browser) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		websocket_path /cable
	}`+wsPagesSite)
	stream := freshStream("anycable_remote")
	publish := func(text string) {
		mustBroadcast(t, testKey, jsonString(map[string]string{"stream": stream, "data": jsonString(map[string]string{"text": text})}))
	}

	tab := b.newTab(t)
	defer tab.close()
	tab.navigate(t, "/browser/ws/anycable.html?stream="+url.QueryEscape(stream))
	wsWait(t, tab, "the stream subscription", `window.page && page.connects.length === 1 && rec.ofType('confirm_subscription').length === 1`, 5*time.Second)
	sid := browserEval[string](t, tab, `rec.ofType('welcome')[0].sid`)
	want := []string{"before 1", "before 2"}
	for _, text := range want {
		publish(text)
	}
	wsWait(t, tab, "the live messages", `page.messages.length >= 2`, 5*time.Second)

	mustBroadcast(t, testKey, demoDisconnect(sid))
	wsWait(t, tab, "the client to try to reconnect", `page.disconnects.length === 1 && page.waiting`, 10*time.Second)
	for n := 1; n <= 3; n++ {
		want = append(want, fmt.Sprintf("while away %d", n))
		publish(want[len(want)-1])
	}
	if n := browserEval[int](t, tab, `page.messages.length + (page.waiting ? 0 : 100)`); n != 2 {
		t.Fatalf("the page got messages or reconnected while away (%d): the test proves nothing", n)
	}
	browserEval[bool](t, tab, `page.release(), true`)
	wsWait(t, tab, "the reconnect and the catch-up", `page.connects.length === 2 && page.messages.length >= 5`, 10*time.Second)
	want = append(want, "after the reconnect")
	publish(want[len(want)-1])
	wsWait(t, tab, "the live message after the reconnect", `page.messages.length >= 6`, 5*time.Second)

	var st struct {
		Connects []struct{ Reconnect, Restored bool }
		Messages []struct {
			Msg    struct{ Text string }
			Epoch  string
			Offset int
		}
		Disconnect map[string]any
		Welcomes   []struct{ Sid string }
		Opened     []struct{ URL string }
		Subscribes []struct {
			History struct {
				Streams map[string]struct {
					Epoch  string
					Offset int
				}
			}
		}
	}
	raw := browserEval[string](t, tab, `JSON.stringify({connects: page.connects, messages: page.messages,
		disconnect: rec.ofType('disconnect')[0], welcomes: rec.ofType('welcome'), opened: rec.opened,
		subscribes: rec.sent.map(s => JSON.parse(s)).filter(c => c.command === 'subscribe')})`)
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	var got []string
	for i, m := range st.Messages {
		got = append(got, m.Msg.Text)
		if m.Epoch != st.Messages[0].Epoch || m.Offset != i+1 {
			t.Errorf("message %d at %s/%d, want offset %d in one epoch", i, m.Epoch, m.Offset, i+1)
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("messages %q, want each once in order %q", got, want)
	}
	if st.Disconnect["reason"] != "remote" || st.Disconnect["reconnect"] != true {
		t.Errorf("disconnect message %v, want reason remote, reconnect true", st.Disconnect)
	}
	if len(st.Connects) != 2 || !st.Connects[1].Reconnect || st.Connects[1].Restored {
		t.Errorf("connect events %+v, want a reconnect without a restore", st.Connects)
	}
	// The client still sends the sid parameter, empty.
	if len(st.Opened) != 2 || strings.Contains(st.Opened[1].URL, "sid="+sid) || len(st.Welcomes) != 2 || st.Welcomes[1].Sid == sid {
		t.Errorf("sockets %+v, welcomes %+v: want a new session, without the old sid", st.Opened, st.Welcomes)
	}
	if len(st.Subscribes) != 2 {
		t.Fatalf("subscribes %+v, want two", st.Subscribes)
	}
	if pos, ok := st.Subscribes[1].History.Streams[stream]; !ok || pos.Offset != 2 || pos.Epoch != st.Messages[0].Epoch {
		t.Errorf("second subscribe's history %+v, want %s from offset 2", st.Subscribes[1].History, stream)
	}
	tab.checkNoExceptions(t)
}

// The demo's WebSocket tab (examples/demo/ws.html) with the demo's own
// site block: the stream "demo" with @anycable/web, and its "Drop the
// connection" button: the page closes its socket and publishes three
// messages while away; the session is restored and the three are replayed
// (marked so), once, in order.
func browserWSDemo(t *testing.T, b *browser) {
	site, _ := demoSite(t)
	if !strings.Contains(site, "websocket_path /cable") {
		t.Fatalf("%s does not set websocket_path /cable", demoCaddyfile)
	}
	loadCaddy(t, site)
	tab := b.newTab(t)
	defer tab.close()
	tab.navigate(t, "/ws.html")
	// The first subscribe asks for the history since the page loaded: wait
	// for its answer, then only what this test publishes may arrive.
	wsWait(t, tab, "the page to subscribe", `window.wsdemo && wsdemo.state === 'connected' && wsdemo.events.some(e => e.type === 'confirm_history')`, 5*time.Second)
	start := browserEval[int](t, tab, `wsdemo.messages.length`)
	var want []string
	for n := 1; n <= 2; n++ {
		want = append(want, fmt.Sprintf("over the socket %d", n))
		mustBroadcast(t, "", demoBroadcast("demo", want[len(want)-1]))
	}
	wsWait(t, tab, "the live messages", fmt.Sprintf(`wsdemo.messages.length >= %d`, start+2), 5*time.Second)
	sid := browserEval[string](t, tab, `wsdemo.sid`)

	if !browserEval[bool](t, tab, `document.getElementById('publish-while-away').checked`) {
		t.Fatal("the 'publish while away' box should start checked")
	}
	if err := tab.run(5*time.Second, chromedp.Click(chromedp.CSS("#kick"))); err != nil {
		t.Fatalf("clicking the disconnect button: %v", err)
	}
	wsWait(t, tab, "the restore and the replay", fmt.Sprintf(`wsdemo.restores === 1 && wsdemo.messages.length >= %d && wsdemo.events.filter(e => e.type === 'confirm_history').length === 2`, start+5), 15*time.Second)
	want = append(want, "published while away #1 (...)", "published while away #2 (...)", "published while away #3 (...)")
	want = append(want, "after the restore")
	mustBroadcast(t, "", demoBroadcast("demo", want[len(want)-1]))
	wsWait(t, tab, "the live message after the restore", fmt.Sprintf(`wsdemo.messages.length >= %d`, start+6), 5*time.Second)

	var st struct {
		State, Sid string
		Connects   int
		Messages   []struct {
			Text, Stream, Epoch string
			Offset              int
			Replayed            bool
		}
	}
	raw := browserEval[string](t, tab, `JSON.stringify(wsdemo)`)
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	got := st.Messages[start:]
	if len(got) != len(want) {
		t.Fatalf("messages %+v, want %q", got, want)
	}
	for i, m := range got {
		text, prefix := strings.CutSuffix(want[i], "(...)")
		replayed := i >= 2 && i < 5
		if (prefix && !strings.HasPrefix(m.Text, text)) || (!prefix && m.Text != text) || m.Replayed != replayed {
			t.Errorf("message %d %q replayed %v, want %q replayed %v", i, m.Text, m.Replayed, want[i], replayed)
		}
		if m.Stream != "demo" || m.Epoch != got[0].Epoch || m.Offset != got[0].Offset+i {
			t.Errorf("message %d at %s/%s/%d, want offset %d in one epoch", i, m.Stream, m.Epoch, m.Offset, got[0].Offset+i)
		}
	}
	if st.State != "restored" || st.Connects != 2 || st.Sid == sid || st.Sid == "" {
		t.Errorf("state %q, %d connects, sid %q -> %q: want one restore with a new sid", st.State, st.Connects, sid, st.Sid)
	}
	writeArtifact(t, "ws.png", tab.screenshot(t))
	tab.checkNoExceptions(t)
}

// wsWait waits until the expression is truthy (at most d), and on failure
// shows what the page recorded.
func wsWait(t *testing.T, tab *browserTab, what, expr string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, d+2*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err == nil {
		return
	}
	dctx, dcancel := context.WithTimeout(tab.ctx, 2*time.Second)
	defer dcancel()
	page, derr := chromedp.Run(dctx, chromedp.Evaluate[string](`JSON.stringify({page: window.page, rec: window.rec && {opened: rec.opened, received: rec.received, sent: rec.sent, closes: rec.closes, errors: rec.errors}})`))
	if derr != nil {
		page = "(page state unavailable: " + derr.Error() + ")"
	}
	t.Fatalf("waiting %v for %s (%s): %v\npage: %s", d, what, expr, err, page)
}

// jsonString encodes JSON for the fake app and broadcasts.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// callWith returns a copy of the first RPC command call with that command.
func (a *fakeApp) callWith(method, command string) *rpcCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.calls {
		if a.calls[i].Method == method && a.calls[i].Body["command"] == command {
			c := a.calls[i]
			return &c
		}
	}
	return nil
}
