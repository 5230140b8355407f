package anycablesse

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// fakeApp plays anycable-rails' HTTP RPC endpoint: it records every call and
// answers with the test's scripted handler.
type fakeApp struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []rpcCall
	respond func(method string, body map[string]any, r *http.Request) (int, string)
}

type rpcCall struct {
	Method string
	Body   map[string]any
	Header http.Header
	// Canceled is set when the call's request context ended before the
	// handler answered (the module cancelled it).
	Canceled bool
}

func newFakeApp(t *testing.T, respond func(method string, body map[string]any, r *http.Request) (int, string)) *fakeApp {
	a := &fakeApp{respond: respond}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		a.mu.Lock()
		i := len(a.calls)
		a.calls = append(a.calls, rpcCall{Method: method, Body: body, Header: r.Header.Clone()})
		a.mu.Unlock()
		status, resp := a.respond(method, body, r)
		a.mu.Lock()
		if i < len(a.calls) {
			a.calls[i].Canceled = r.Context().Err() != nil
		}
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, resp)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *fakeApp) methods() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, c := range a.calls {
		out = append(out, c.Method)
	}
	return out
}

// call returns a copy of the first call of that method.
func (a *fakeApp) call(method string) *rpcCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.calls {
		if a.calls[i].Method == method {
			c := a.calls[i]
			return &c
		}
	}
	return nil
}

// waitCalls waits until the app has seen the given sequence of calls.
func (a *fakeApp) waitCalls(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Join(a.methods(), ",") == strings.Join(want, ",") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("rpc calls: got %v, want %v", a.methods(), want)
}

func rpcSite(app *fakeApp, extra string) string {
	return `
	anycable_sse {
		rpc_url ` + app.URL + `/_anycable
		secret s3cr3t
		broadcast_key ` + testKey + `
		headers cookie x-api-token
		` + extra + `
	}`
}

const chatChannel = `{"channel":"ChatChannel","room":1}`

func TestRPCChannelEndToEnd(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"{\"user_id\":42}","transmissions":["{\"type\":\"welcome\"}"],"env":{"cstate":{"user":"u42"}}}`
		case "command":
			return 200, `{"status":1,"streams":["chat_a","chat_b"],"transmissions":["{\"type\":\"confirm_subscription\",\"identifier\":\"{\\\"channel\\\":\\\"ChatChannel\\\",\\\"room\\\":1}\"}","not json","{\"message\":\"hi\"}","\"str\""],"env":{"istate":{"room":"1"}}}`
		default:
			return 200, `{"status":1}`
		}
	})
	loadCaddy(t, rpcSite(app, ""))

	c := openStream(t, http.MethodGet, "/events?identifier="+urlEncode(chatChannel)+"&foo=bar", "", http.Header{
		"Cookie":      {"session=abc; other=1"},
		"X-Api-Token": {"first", "second"},
		"Origin":      {"http://example.com"},
	})
	if c.resp.StatusCode != 200 {
		t.Fatalf("status %d %s", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	if ev := c.mustNext(); ev.Event != "welcome" || ev.Data != `{"type":"welcome"}` {
		t.Fatalf("welcome from the app: %+v", ev)
	}
	if ev := c.mustNext(); ev.Event != "confirm_subscription" || ev.Data != `{"type":"confirm_subscription","identifier":"{\"channel\":\"ChatChannel\",\"room\":1}"}` {
		t.Fatalf("confirm from the app: %+v", ev)
	}
	// "not json" and "\"str\"" are dropped; {"message":"hi"} is a data message.
	if ev := c.mustNext(); ev.Event != "" || ev.Data != "hi" {
		t.Fatalf("data transmission: %+v", ev)
	}

	connect := app.call("connect")
	env := connect.Body["env"].(map[string]any)
	if env["url"] != baseURL()+"/events?identifier="+urlEncode(chatChannel)+"&foo=bar" {
		t.Errorf("env.url = %v", env["url"])
	}
	headers := env["headers"].(map[string]any)
	if len(headers) != 3 || headers["cookie"] != "session=abc; other=1" || headers["x-api-token"] != "first" || headers["REMOTE_ADDR"] != "127.0.0.1" {
		t.Errorf("env.headers = %v", headers)
	}
	if got := connect.Header.Get("Authorization"); got != "Bearer 4b7da2749fe2a4534cec0d2acbd16277a800cf2acd31158ac4edae4a62a8f18d" {
		t.Errorf("Authorization = %q", got)
	}
	if connect.Header.Get("X-Anycable-Meta-Sid") == "" || connect.Header.Get("X-Anycable-Meta-Protov") != "v1" {
		t.Errorf("meta headers: %v", connect.Header)
	}
	cmd := app.call("command")
	if cmd.Body["command"] != "subscribe" || cmd.Body["identifier"] != chatChannel || cmd.Body["connection_identifiers"] != `{"user_id":42}` {
		t.Errorf("command body: %v", cmd.Body)
	}
	if cs := cmd.Body["env"].(map[string]any)["cstate"].(map[string]any); cs["user"] != "u42" {
		t.Errorf("cstate not sent back: %v", cs)
	}

	mustBroadcast(t, testKey, `[{"stream":"chat_a","data":"{\"a\":1}"},{"stream":"chat_b","data":"{\"b\":1}"}]`)
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		ev := c.mustNext()
		got[ev.Data] = true
		if !strings.HasPrefix(ev.ID, protocol.MultiEventIDPrefix) {
			t.Errorf("a channel with two streams carries multi-stream ids: %q", ev.ID)
		}
	}
	if !got[`{"a":1}`] || !got[`{"b":1}`] {
		t.Fatalf("broadcasts: %v", got)
	}

	c.Close()
	app.waitCalls(t, "connect", "command", "disconnect")
	disc := app.call("disconnect")
	if disc.Body["identifiers"] != `{"user_id":42}` {
		t.Errorf("disconnect identifiers: %v", disc.Body)
	}
	if subs, _ := disc.Body["subscriptions"].([]any); len(subs) != 1 || subs[0] != chatChannel {
		t.Errorf("disconnect subscriptions: %v", disc.Body["subscriptions"])
	}
	denv := disc.Body["env"].(map[string]any)
	if denv["istate"].(map[string]any)[chatChannel] != `{"room":"1"}` || denv["cstate"].(map[string]any)["user"] != "u42" {
		t.Errorf("disconnect env: %v", denv)
	}
}

func TestRPCStatuses(t *testing.T) {
	var mu sync.Mutex
	connect, command := "", ""
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		switch method {
		case "connect":
			if connect == "http500" {
				return 500, "boom"
			}
			return 200, connect
		case "command":
			return 200, command
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "rpc_timeout 2s"))
	cases := []struct {
		name, connect, command string
		status                 int
		calls                  string
	}{
		{"connect failure", `{"status":2,"transmissions":["{\"type\":\"disconnect\",\"reason\":\"unauthorized\",\"reconnect\":false}"]}`, "", 401, "connect"},
		{"connect error", `{"status":0,"error_msg":"boom"}`, "", 400, "connect"},
		{"connect empty", `{}`, "", 400, "connect"},
		{"connect string status", `{"status":"SUCCESS"}`, "", 400, "connect"},
		{"connect html", `<html>`, "", 400, "connect"},
		{"subscription rejected", `{"status":1,"identifiers":"u"}`, `{"status":2}`, 400, "connect,command,disconnect"},
		{"subscription error", `{"status":1,"identifiers":"u"}`, `{"status":0,"error_msg":"x"}`, 400, "connect,command,disconnect"},
	}
	for _, c := range cases {
		mu.Lock()
		connect, command = c.connect, c.command
		mu.Unlock()
		app.mu.Lock()
		app.calls = nil
		app.mu.Unlock()
		resp, err := http.Get(baseURL() + "/events?channel=ChatChannel")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || len(body) != 0 || resp.Header.Get("X-AnyCable-Error") == "" {
			t.Errorf("%s: status %d body %q reason %q", c.name, resp.StatusCode, body, resp.Header.Get("X-AnyCable-Error"))
		}
		app.waitCalls(t, strings.Split(c.calls, ",")...)
		if c.name == "subscription rejected" {
			if id := app.call("command").Body["identifier"]; id != `{"channel":"ChatChannel"}` {
				t.Errorf("?channel= identifier: %v", id)
			}
		}
	}
}

func TestRPCTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"u1"}`
		case "command":
			if body["identifier"] == `{"channel":"Slow"}` {
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return 200, `{"status":1,"streams":["s"]}`
			}
			if body["identifier"] == `{"channel":"Sleepy"}` {
				time.Sleep(1500 * time.Millisecond)
				return 200, `{"status":1,"streams":["s"]}`
			}
		}
		return 200, `{"status":1}`
	})
	defer close(release)
	loadCaddy(t, rpcSite(app, "rpc_timeout 500ms"))

	start := time.Now()
	resp, err := http.Get(baseURL() + "/events?channel=Sleepy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// A timeout is the app being unavailable: the client is told to come
	// back (TestRPCAppDownDefersConnections), not refused.
	if resp.StatusCode != 200 || time.Since(start) > 1400*time.Millisecond {
		t.Fatalf("slow app: %d after %v", resp.StatusCode, time.Since(start))
	}
	app.waitCalls(t, "connect", "command", "disconnect")

	// The client leaves while subscribe is in flight: the call is cancelled
	// and the connection that connected is disconnected exactly once.
	app.mu.Lock()
	app.calls = nil
	app.mu.Unlock()
	c := make(chan struct{})
	go func() {
		defer close(c)
		req, _ := http.NewRequest(http.MethodGet, baseURL()+"/events?channel=Slow", nil)
		ctx, cancel := contextWithTimeout(200 * time.Millisecond)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-c
	app.waitCalls(t, "connect", "command", "disconnect")
	deadline := time.Now().Add(3 * time.Second)
	for !app.call("command").Canceled {
		if time.Now().After(deadline) {
			t.Fatal("the in-flight subscribe was not cancelled when the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRPCDisconnectTrueEndsWithoutLoop(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"u1","transmissions":["{\"type\":\"welcome\"}"]}`
		case "command":
			return 200, `{"status":1,"disconnect":true,"transmissions":["{\"type\":\"confirm_subscription\",\"identifier\":\"{\\\"channel\\\":\\\"Bye\\\"}\"}"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, ""))
	c := subscribe(t, "channel=Bye")
	c.mustNext()
	c.mustNext()
	ev := c.mustNext()
	if ev.Event != "disconnect" || ev.Retry != "31536000000" || !strings.Contains(ev.Data, `"reconnect":false`) {
		t.Fatalf("disconnect: %+v", ev)
	}
	if !c.waitEnd(3 * time.Second) {
		t.Fatal("stream did not end")
	}
}

func TestTurboStreamsLocally(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		if method == "connect" {
			return 200, `{"status":1,"identifiers":"u1","transmissions":["{\"type\":\"welcome\"}"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "turbo_secret_key_base testsecret123"))
	// Signed by Rails' Turbo verifier with a key derived from secret_key_base.
	c := subscribe(t, "turbo_signed_stream_name=ImJvYXJkOjEi--7eadb36517dd962e290a5c55daad0a9a3ae0aa9a26ae0e72b7f78ae7eb0d5a3d")
	c.mustNext()
	if ev := c.mustNext(); ev.Data != `{"type":"confirm_subscription","identifier":"{\"channel\":\"Turbo::StreamsChannel\",\"signed_stream_name\":\"ImJvYXJkOjEi--7eadb36517dd962e290a5c55daad0a9a3ae0aa9a26ae0e72b7f78ae7eb0d5a3d\"}"}` {
		t.Fatalf("turbo confirm: %+v", ev)
	}
	mustBroadcast(t, testKey, `{"stream":"board:1","data":"\"<turbo-stream action=\\\"append\\\" target=\\\"b\\\"><template>x</template></turbo-stream>\""}`)
	if ev := c.mustNext(); ev.Data != `<turbo-stream action="append" target="b"><template>x</template></turbo-stream>` {
		t.Fatalf("turbo data: %+v", ev)
	}
	for _, m := range app.methods() {
		if m == "command" {
			t.Fatal("Turbo subscription went to the app; it must be verified locally")
		}
	}
	// A wrong signature is refused locally.
	resp, _ := http.Get(baseURL() + "/events?turbo_signed_stream_name=ImJvYXJkOjEi--00")
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad turbo signature: %d", resp.StatusCode)
	}
}

func TestRemoteDisconnectAllSessions(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"{\"user_id\":42}"}`
		case "command":
			return 200, `{"status":1,"streams":["u42"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, ""))
	a := subscribe(t, "channel=User")
	b := subscribe(t, "channel=User")
	time.Sleep(100 * time.Millisecond)
	mustBroadcast(t, testKey, `{"command":"disconnect","payload":{"identifier":"{\"user_id\":42}","reconnect":false}}`)
	for _, c := range []*sseClient{a, b} {
		ev := c.mustNext()
		if ev.Event != "disconnect" || ev.Data != `{"type":"disconnect","reason":"remote","reconnect":false}` || ev.Retry != "31536000000" {
			t.Fatalf("remote disconnect: %+v", ev)
		}
		if !c.waitEnd(3 * time.Second) {
			t.Fatal("stream did not end")
		}
	}
}

func TestRPCPostJSONL(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"u1","transmissions":["{\"type\":\"welcome\"}"]}`
		case "command":
			id := body["identifier"].(string)
			stream := "room_" + id[len(id)-2:len(id)-1]
			confirm, _ := json.Marshal(map[string]string{"type": "confirm_subscription", "identifier": id})
			resp, _ := json.Marshal(map[string]any{"status": 1, "streams": []string{stream}, "transmissions": []string{string(confirm)}})
			return 200, string(resp)
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, ""))
	body := `{"command":"subscribe","identifier":"{\"channel\":\"Room\",\"id\":1}"}` + "\n" + `{"command":"subscribe","identifier":"{\"channel\":\"Room\",\"id\":2}"}`
	c := openStream(t, http.MethodPost, "/events", body, nil)
	if c.resp.StatusCode != 200 {
		t.Fatalf("status %d %s", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	c.mustNext()
	c.mustNext()
	c.mustNext()
	mustBroadcast(t, testKey, `{"stream":"room_2","data":"{\"m\":2}"}`)
	ev := c.mustNext()
	if !strings.HasPrefix(ev.Data, `{"identifier":"{\"channel\":\"Room\",\"id\":2}","message":{"m":2},"stream_id":"room_2"`) {
		t.Fatalf("POST full data: %s", ev.Data)
	}
}

// REMOTE_ADDR is the client as Caddy sees it: behind a trusted proxy, the
// forwarded address.
func TestRPCRemoteAddrBehindTrustedProxy(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		return 200, `{"status":2}`
	})
	loadCaddyWithGlobal(t, `servers {
		trusted_proxies static 127.0.0.1/32
	}`, rpcSite(app, ""))
	resp, err := doRetry(func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, baseURL()+"/events?channel=C", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		return req
	}(), "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	app.waitCalls(t, "connect")
	if got := app.call("connect").Body["env"].(map[string]any)["headers"].(map[string]any)["REMOTE_ADDR"]; got != "203.0.113.9" {
		t.Fatalf("REMOTE_ADDR = %v", got)
	}
}

// Second-review cases of the handshake against anycable-go's behaviour.
func TestRPCHandshakeEdgeCases(t *testing.T) {
	var mu sync.Mutex
	command := ""
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"u","transmissions":["{\"type\":\"welcome\\ninjected: x\"}","{\"identifier\":\"x\"}"]}`
		case "command":
			return 200, command
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "jwt_secret jk\n\t\tpublic_streams"))
	setCommand := func(v string) {
		mu.Lock()
		command = v
		mu.Unlock()
	}

	// "stop_all_streams; stream_for user": the stream the app names is followed.
	setCommand(`{"status":1,"stop_streams":true,"stopped_streams":["ss1"],"streams":["ss1"]}`)
	c := subscribe(t, "channel=Stops")
	// A transmission whose type holds a line break is dropped (it would
	// forge SSE fields); a data transmission without a message is "null".
	if ev := c.mustNext(); ev.Event != "" || ev.Data != "null" {
		t.Fatalf("first event: %+v (raw %q)", ev, c.Raw())
	}
	if strings.Contains(c.Raw(), "injected") {
		t.Fatalf("transmission type injected a field: %q", c.Raw())
	}
	mustBroadcast(t, testKey, `{"stream":"ss1","data":"kept"}`)
	if ev := c.mustNext(); ev.Data != "kept" {
		t.Fatalf("stop_streams + streams: %+v", ev)
	}
	c.Close()
	app.waitCalls(t, "connect", "command", "disconnect")

	// A JWT connection whose subscription the app rejects still gets its
	// disconnect call: the app saw it.
	app.mu.Lock()
	app.calls = nil
	app.mu.Unlock()
	setCommand(`{"status":2}`)
	resp, err := http.Get(baseURL() + "/events?channel=Nope&jid=" + railsJWT("jk", `{"user_id":3}`, time.Now().Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("rejected subscription: %d", resp.StatusCode)
	}
	app.waitCalls(t, "command", "disconnect")
}

func TestHistoryEdgeCases(t *testing.T) {
	loadCaddy(t, historySite)
	lastID(t, "edge")
	// A history_since far in the future (it would overflow in ms) asks for
	// nothing.
	c := subscribe(t, "stream=edge&history_since=9223372036854775807")
	c.mustNext()
	c.mustNext()
	if ev := c.mustNext(); ev.Event != "confirm_history" {
		t.Fatalf("huge history_since: %+v", ev)
	}
	// POST with an empty streams object is a history request.
	p := openStream(t, http.MethodPost, "/events", `{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"edge\"}","history":{"streams":{}}}`, nil)
	p.mustNext()
	p.mustNext()
	if ev := p.mustNext(); ev.Event != "confirm_history" {
		t.Fatalf("POST history with no streams: %+v", ev)
	}
}

// A connection with two streams that drops in the middle of its resume
// still resumes both: every id carries every stream's position.
func TestMultiStreamResumeInterrupted(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"u"}`
		case "command":
			return 200, `{"status":1,"streams":["ma","mb"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "public_streams"))
	c := subscribe(t, "channel=Two")
	mustBroadcast(t, testKey, `[{"stream":"ma","data":"a1"},{"stream":"mb","data":"b1"}]`)
	c.mustNext()
	last := c.mustNext().ID
	c.Close()
	mustBroadcast(t, testKey, `[{"stream":"ma","data":"a2"},{"stream":"mb","data":"b2"}]`)

	// Resume, but take only the first replayed event before dropping again.
	r := openStream(t, http.MethodGet, "/events?channel=Two", "", http.Header{"Last-Event-Id": {last}})
	first := r.mustNext()
	r.Close()
	rest := openStream(t, http.MethodGet, "/events?channel=Two", "", http.Header{"Last-Event-Id": {first.ID}})
	got := []string{first.Data}
	for {
		ev := rest.mustNext()
		if ev.Event == "confirm_history" {
			break
		}
		if ev.Event == "reject_history" {
			t.Fatalf("rejected: %+v", ev)
		}
		got = append(got, ev.Data)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "a2,b2" {
		t.Fatalf("after an interrupted resume: %v", got)
	}
}

func TestCableReadyStreamsLocally(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		if method == "connect" {
			return 200, `{"status":1,"identifiers":"u"}`
		}
		return 200, `{"status":2}`
	})
	loadCaddy(t, rpcSite(app, "cable_ready_secret s3cr3t"))
	id := `{"channel":"CableReady::Stream","identifier":"` + signedChat42 + `"}`
	c := subscribe(t, "identifier="+urlEncode(id))
	if ev := c.mustNext(); ev.Data != `{"type":"confirm_subscription","identifier":`+strconv.Quote(id)+`}` {
		t.Fatalf("confirm: %+v", ev)
	}
	mustBroadcast(t, testKey, `{"stream":"chat/42","data":"\"cr\""}`)
	if ev := c.mustNext(); ev.Data != "cr" {
		t.Fatalf("%+v", ev)
	}
	for _, m := range app.methods() {
		if m == "command" {
			t.Fatal("CableReady subscription went to the app")
		}
	}
	bad := `{"channel":"CableReady::Stream","identifier":"ImNoYXQvNDIi--00"}`
	resp, err := http.Get(baseURL() + "/events?identifier=" + urlEncode(bad))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad CableReady signature: %d", resp.StatusCode)
	}
}

// scrapeOr0 is scrape for a sample that may not exist yet (a labelled
// counter before its first increment).
func scrapeOr0(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// The app being down (a deploy, a crash, a 5xx, too slow) does not end an
// EventSource for good: the client gets 200 + disconnect reconnect:true
// with a jittered retry hint, as when Redis is down, and the metric counts
// it. Only the app's own refusal is 401.
func TestRPCAppDownDefersConnections(t *testing.T) {
	const deferred = `caddy_anycable_sse_connections_deferred_total{cause="rpc"}`
	expectDeferred := func(t *testing.T, what string) {
		t.Helper()
		before := scrapeOr0(t, deferred)
		c := openStream(t, http.MethodGet, "/events?channel=ChatChannel", "", nil)
		if c.resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d (%s), want 200", what, c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
		}
		ev := c.mustNext()
		if ev.Event != "disconnect" || ev.Data != `{"type":"disconnect","reason":"server_restart","reconnect":true}` {
			t.Fatalf("%s: %+v", what, ev)
		}
		retry, err := strconv.Atoi(ev.Retry)
		if err != nil || retry < 1000 || retry > 3000 {
			t.Fatalf("%s: retry %q, want 1000-3000 ms", what, ev.Retry)
		}
		if !c.waitEnd(3 * time.Second) {
			t.Fatalf("%s: the response did not end", what)
		}
		if got := scrapeOr0(t, deferred); got != before+1 {
			t.Fatalf("%s: %s = %v, want %v", what, deferred, got, before+1)
		}
	}

	var mu sync.Mutex
	connect := 503
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case method == "connect" && connect != 200:
			return connect, "down for a deploy"
		case method == "connect":
			return 200, `{"status":1,"identifiers":"u"}`
		case method == "command":
			return 502, "bad gateway"
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "rpc_timeout 500ms")+"\n\tmetrics /metrics")
	expectDeferred(t, "connect answered 503")
	mu.Lock()
	connect = 200
	mu.Unlock()
	expectDeferred(t, "subscribe answered 502")

	// Nothing listening at all.
	dead := newFakeApp(t, nil)
	dead.Close()
	loadCaddy(t, rpcSite(dead, "rpc_timeout 300ms")+"\n\tmetrics /metrics")
	expectDeferred(t, "app unreachable")
	// A refusal by the app stays a refusal (TestRPCStatuses: 401, 400).
}

// A connection waits for an RPC slot at most rpc_timeout, and the number
// of waiting calls is exported.
func TestRPCSlotWaitIsCappedAndCounted(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		if method == "connect" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return 200, `{"status":1,"identifiers":"u"}`
	})
	t.Cleanup(unblock)
	loadCaddy(t, rpcSite(app, "rpc_timeout 1s\n\t\trpc_concurrency 1")+"\n\tmetrics /metrics")
	waitMetric(t, "caddy_anycable_sse_rpc_calls_waiting", 0)
	first := make(chan *sseClient, 1)
	go func() { first <- openStream(t, http.MethodGet, "/events?channel=ChatChannel", "", nil) }()
	app.waitCalls(t, "connect")
	second := make(chan *sseClient, 1)
	go func() { second <- openStream(t, http.MethodGet, "/events?channel=ChatChannel", "", nil) }()
	waitMetric(t, "caddy_anycable_sse_rpc_calls_waiting", 1)
	// Both give up within rpc_timeout and are told to come back.
	for _, ch := range []chan *sseClient{first, second} {
		c := <-ch
		if c.resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d (%s)", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
		}
		if ev := c.mustNext(); ev.Event != "disconnect" || !strings.Contains(ev.Data, `"reconnect":true`) {
			t.Fatalf("%+v", ev)
		}
	}
	waitMetric(t, "caddy_anycable_sse_rpc_calls_waiting", 0)
}

// An RPC call that times out may still have run in the app (the client is
// deferred, not refused): a connect that timed out gets its disconnect
// call, and a subscribe that timed out is named in it. Before, only a
// client leaving mid-call counted, and the app never heard of the
// connection or channel it had accepted.
func TestRPCTimeoutStillDisconnects(t *testing.T) {
	var mu sync.Mutex
	slowConnect := true
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		mu.Lock()
		slow := slowConnect
		mu.Unlock()
		hang := func() {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		}
		switch {
		case method == "connect" && slow:
			hang()
			return 200, `{"status":1,"identifiers":"u1"}`
		case method == "connect":
			return 200, `{"status":1,"identifiers":"u1"}`
		case method == "command":
			hang()
			return 200, `{"status":1,"streams":["s"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "rpc_timeout 300ms"))

	c := openStream(t, http.MethodGet, "/events?channel=Sleepy", "", nil)
	if c.resp.StatusCode != 200 {
		t.Fatalf("connect timed out: %d, want 200 (deferred)", c.resp.StatusCode)
	}
	c.Close()
	app.waitCalls(t, "connect", "disconnect")

	app.mu.Lock()
	app.calls = nil
	app.mu.Unlock()
	mu.Lock()
	slowConnect = false
	mu.Unlock()
	c = openStream(t, http.MethodGet, "/events?channel=Sleepy", "", nil)
	c.Close()
	app.waitCalls(t, "connect", "command", "disconnect")
	subs, _ := app.call("disconnect").Body["subscriptions"].([]any)
	if len(subs) != 1 || subs[0] != `{"channel":"Sleepy"}` {
		t.Fatalf("disconnect after a subscribe that timed out names %v, want the channel", app.call("disconnect").Body["subscriptions"])
	}
}

// A deferred connection (200 + disconnect reconnect:true) gets its frame
// at once and frees its place in max_connections_per_ip, while the app's
// disconnect call for it is still running. Before, the frame sat in the
// response buffer and the address stayed counted until that call returned.
func TestDeferredConnectionDoesNotWaitForDisconnect(t *testing.T) {
	release := make(chan struct{})
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch {
		case method == "connect":
			return 200, `{"status":1,"identifiers":"u1"}`
		case method == "command" && body["identifier"] == `{"channel":"Down"}`:
			return 502, "bad gateway"
		case method == "command":
			return 200, `{"status":1,"streams":["s"]}`
		case method == "disconnect":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, rpcSite(app, "rpc_timeout 10s\n\t\tmax_connections_per_ip 1"))
	var once sync.Once
	stop := func() { once.Do(func() { close(release) }) }
	t.Cleanup(stop)

	// The request runs aside: before, even its header waited for the
	// app's disconnect call.
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(baseURL() + "/events?channel=Down")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		var text strings.Builder
		for !strings.Contains(text.String(), "\n\n") {
			line, err := br.ReadString('\n')
			text.WriteString(line)
			if err != nil {
				break
			}
		}
		got <- fmt.Sprintf("%d %s", resp.StatusCode, text.String())
	}()
	app.waitCalls(t, "connect", "command", "disconnect") // now held by the app
	const want = "200 event: disconnect\ndata: {\"type\":\"disconnect\",\"reason\":\"server_restart\",\"reconnect\":true}\nretry: "
	select {
	case r := <-got:
		if !strings.HasPrefix(r, want) {
			t.Fatalf("deferred client got %q, want %q...", r, want)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the deferred client got nothing while the app's disconnect call ran")
	}
	// The client comes back at once: not refused for its address.
	again := openStream(t, http.MethodGet, "/events?channel=Up", "", nil)
	if again.resp.StatusCode != 200 {
		t.Fatalf("the client coming back: %d %s", again.resp.StatusCode, again.resp.Header.Get("X-AnyCable-Error"))
	}
	again.Close()
	stop()
}
