package anycablesse

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "test-broadcast-key"

// publicSite is the configuration most tests run: public and signed
// streams, a broadcast key, and encode in the same site.
const publicSite = `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		streams_secret s3cr3t
		ping_interval 1s
	}
	encode gzip zstd
	respond "next handler" 200
`

const signedChat42 = "ImNoYXQvNDIi--ed3f0927d13c0c59af99f3ef776af196ea44ff640ab15cf8cf347532daed0c5f"

func TestPublicStreamEndToEnd(t *testing.T) {
	loadCaddy(t, publicSite)
	c := subscribe(t, "stream=chat_42")

	welcome := c.mustNext()
	if welcome.Event != "welcome" || !regexp.MustCompile(`^\{"type":"welcome","sid":"[A-Za-z0-9_-]{21}"\}$`).MatchString(welcome.Data) {
		t.Fatalf("welcome: %+v", welcome)
	}
	confirm := c.mustNext()
	if confirm.Event != "confirm_subscription" || confirm.Data != `{"type":"confirm_subscription","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"chat_42\"}"}` {
		t.Fatalf("confirm: %+v", confirm)
	}

	mustBroadcast(t, testKey, `{"stream":"chat_42","data":"{\"text\":\"Hello\",\"b\":1,\"a\":2}"}`)
	ev := c.mustNext()
	if ev.Event != "" || ev.Data != `{"a":2,"b":1,"text":"Hello"}` {
		t.Fatalf("data event: %+v", ev)
	}
	if !regexp.MustCompile(`^1/[A-Za-z0-9]+/chat_42$`).MatchString(ev.ID) {
		t.Fatalf("id: %q", ev.ID)
	}
	// The exact bytes on the wire, as AnyCable frames them.
	if !strings.Contains(c.Raw(), "data: {\"a\":2,\"b\":1,\"text\":\"Hello\"}\nid: "+ev.ID+"\n\n") {
		t.Fatalf("framing:\n%q", c.Raw())
	}
}

func TestResponseHeaders(t *testing.T) {
	loadCaddy(t, publicSite)
	req, _ := http.NewRequest(http.MethodGet, baseURL()+"/events?stream=h", nil)
	req.Header.Set("Accept-Encoding", "gzip, zstd")
	c := openStream(t, http.MethodGet, "/events?stream=h", "", http.Header{"Accept-Encoding": {"gzip, zstd"}})
	want := map[string]string{
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Headers":     "Origin, X-Requested-With, X-Request-ID, Content-Type, Accept, X-CSRF-Token, Authorization",
		"Access-Control-Allow-Methods":     "POST, OPTIONS",
		"Access-Control-Allow-Origin":      "*",
		"Cache-Control":                    "private, no-cache, no-store, must-revalidate, max-age=0, no-transform",
		"Content-Type":                     "text/event-stream; charset=utf-8",
		"Expire":                           "0",
		"Pragma":                           "no-cache",
		"X-Accel-Buffering":                "no",
		"X-Content-Type-Options":           "nosniff",
		"Content-Encoding":                 "", // encode in the same site must not touch the stream
	}
	for k, v := range want {
		if got := c.resp.Header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if c.resp.Header.Get("X-Anycable-Version") == "" {
		t.Error("X-Anycable-Version missing")
	}
	// The stream is readable as plain text, event by event (not buffered).
	if ev := c.mustNext(); ev.Event != "welcome" {
		t.Fatalf("first event %+v", ev)
	}
	// Other paths reach the next handler, where encode does apply.
	resp, err := http.Get(baseURL() + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("next handler: %d", resp.StatusCode)
	}
}

func TestMethodsAndRefusals(t *testing.T) {
	loadCaddy(t, publicSite)
	do := func(method, path string, h http.Header) *http.Response {
		req, _ := http.NewRequest(method, baseURL()+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do(http.MethodOptions, "/events", nil); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Content-Type") != "" {
		t.Errorf("OPTIONS: %d %v", r.StatusCode, r.Header)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead} {
		if r := do(m, "/events?stream=x", nil); r.StatusCode != 405 {
			t.Errorf("%s: %d", m, r.StatusCode)
		}
	}
	cases := []struct {
		query  string
		header http.Header
		status int
		reason string
	}{
		{"", nil, 400, "no subscription"},
		{"foo=bar", nil, 400, "no subscription"},
		{"signed_stream=garbage", nil, 400, "signed stream rejected"},
		{"signed_stream=" + strings.Replace(signedChat42, "ed3f", "ed3e", 1), nil, 400, "signed stream rejected"},
		{"stream=a%0Ab", nil, 400, "stream name"},
		{"stream=" + strings.Repeat("x", 2000), nil, 400, "stream name"},
		{"stream=x&history_since=yesterday", nil, 400, "history_since"},
		{"stream=x", http.Header{"Last-Event-Id": {"abc/ep/x"}}, 400, "Last-Event-ID"},
		{"channel=ChatChannel", nil, 400, "rpc_url"},
	}
	for _, c := range cases {
		r := do(http.MethodGet, "/events?"+c.query, c.header)
		if r.StatusCode != c.status || !strings.Contains(r.Header.Get("X-AnyCable-Error"), c.reason) {
			t.Errorf("GET ?%.60s: status %d reason %q, want %d %q", c.query, r.StatusCode, r.Header.Get("X-AnyCable-Error"), c.status, c.reason)
		}
		if r.StatusCode >= 400 && r.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
			t.Errorf("GET ?%.60s: refusal lacks SSE headers", c.query)
		}
	}
	// Exact-path routing: anything else is the next handler's.
	if r := do(http.MethodGet, "/events/?stream=x", nil); r.StatusCode != 200 || r.Header.Get("Content-Type") == "text/event-stream; charset=utf-8" {
		t.Errorf("/events/ should reach the next handler: %d %v", r.StatusCode, r.Header)
	}
}

func TestPublicStreamsOff(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		streams_secret s3cr3t
		broadcast_key `+testKey+`
	}`)
	resp, err := http.Get(baseURL() + "/events?stream=chat/42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-AnyCable-Error") != "public streams are disabled" {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
	c := subscribe(t, "signed_stream="+signedChat42)
	c.mustNext() // welcome
	if ev := c.mustNext(); ev.Data != `{"type":"confirm_subscription","identifier":"{\"channel\":\"$pubsub\",\"signed_stream_name\":\"`+signedChat42+`\"}"}` {
		t.Fatalf("confirm: %+v", ev)
	}
	mustBroadcast(t, testKey, `{"stream":"chat/42","data":"\"<turbo-stream action=\\\"append\\\" target=\\\"messages\\\"><template>\\n<p>Hi</p>\\n</template></turbo-stream>\""}`)
	ev := c.mustNext()
	if ev.Data != "<turbo-stream action=\"append\" target=\"messages\"><template>\n<p>Hi</p>\n</template></turbo-stream>" {
		t.Fatalf("turbo html: %+v", ev)
	}
	if !strings.Contains(c.Raw(), "data: <turbo-stream action=\"append\" target=\"messages\"><template>\ndata: <p>Hi</p>\ndata: </template></turbo-stream>\nid: ") {
		t.Fatalf("multi-line framing: %q", c.Raw())
	}
}

func TestSignedStreamsNeedASecret(t *testing.T) {
	// AnyCable accepts names signed with an empty key when no secret is set;
	// here every signed stream is refused.
	loadCaddy(t, `anycable_sse`)
	// Signed with the empty key: base64 of "\"chat/42\"" + HMAC-SHA256("", that).
	resp, err := http.Get(baseURL() + "/events?signed_stream=ImNoYXQvNDIi--" + emptyKeySig("ImNoYXQvNDIi"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(resp.Header.Get("X-AnyCable-Error"), "streams_secret") {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
}

func TestRawMode(t *testing.T) {
	loadCaddy(t, publicSite)
	for _, v := range []string{"1", "true", "T", "y"} {
		c := subscribe(t, "stream=raw&raw="+v)
		mustBroadcast(t, testKey, `{"stream":"raw","data":"{\"text\":\"raw hello\"}","meta":{"broadcast_type":"custom"}}`)
		mustBroadcast(t, testKey, `{"stream":"raw","data":"{\"text\":\"raw hello\"}"}`)
		ev := c.mustNext()
		if ev.Event != "" || ev.Data != `{"text":"raw hello"}` {
			t.Fatalf("raw=%s: first event %+v (raw: %q)", v, ev, c.Raw())
		}
		if strings.Contains(c.Raw(), "welcome") || strings.Contains(c.Raw(), "custom") {
			t.Fatalf("raw=%s carried typed frames: %q", v, c.Raw())
		}
		c.Close()
	}
	// A keepalive comment arrives instead of pings.
	c := subscribe(t, "stream=raw2&raw=1")
	deadline := time.After(4 * time.Second)
	for {
		select {
		case ev := <-c.events:
			if ev.Comment {
				if strings.Contains(c.Raw(), "ping\"") {
					t.Fatalf("raw stream got a ping event: %q", c.Raw())
				}
				goto yes
			}
		case <-deadline:
			t.Fatalf("no keepalive comment in raw mode: %q", c.Raw())
		}
	}
yes:
	// raw=yes is not raw.
	c2 := subscribe(t, "stream=raw&raw=yes")
	if ev := c2.mustNext(); ev.Event != "welcome" {
		t.Fatalf("raw=yes: %+v", ev)
	}
}

func TestPings(t *testing.T) {
	loadCaddy(t, publicSite)
	c := subscribe(t, "stream=p")
	deadline := time.After(4 * time.Second)
	for {
		select {
		case ev := <-c.events:
			if ev.Event == "ping" {
				if !regexp.MustCompile(`^\{"type":"ping","message":\d{10}\}$`).MatchString(ev.Data) {
					t.Fatalf("ping: %q", ev.Data)
				}
				return
			}
		case <-deadline:
			t.Fatalf("no ping within 4s with ping_interval 1s: %q", c.Raw())
		}
	}
}

func TestBroadcastEndpoint(t *testing.T) {
	loadCaddy(t, publicSite+`
	`)
	cases := []struct {
		key, body string
		status    int
		reason    string
	}{
		{"", `{"stream":"a","data":"x"}`, 401, "broadcast key"},
		{"wrong", `{"stream":"a","data":"x"}`, 401, "broadcast key"},
		{testKey, `{"stream":"a","data":"x"}`, 201, ""},
		{testKey, `not json`, 422, ""},
		{testKey, `{}`, 422, ""},
		{testKey, `[]`, 422, ""},
		{testKey, `{"stream":"a","data":{"obj":1}}`, 422, "data"},
		{testKey, `{"stream":"","data":"x"}`, 422, ""},
		{testKey, `{"stream":"a\nb","data":"x"}`, 422, ""},
		{testKey, `{"stream":"a","data":"x","meta":{"broadcast_type":"a\nb"}}`, 422, ""},
		{testKey, `[{"stream":"a","data":"x"},{"stream":"b","data":5}]`, 422, "1"},
	}
	for _, c := range cases {
		r := broadcast(t, c.key, c.body)
		if r.StatusCode != c.status || !strings.Contains(r.Header.Get("X-AnyCable-Error"), c.reason) {
			t.Errorf("broadcast %q: %d %q, want %d containing %q", c.body, r.StatusCode, r.Header.Get("X-AnyCable-Error"), c.status, c.reason)
		}
	}
	// Lowercase "bearer" is refused, as in AnyCable.
	req, _ := http.NewRequest(http.MethodPost, baseURL()+"/_broadcast", strings.NewReader(`{"stream":"a","data":"x"}`))
	req.Header.Set("Authorization", "bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("lowercase bearer: %d", resp.StatusCode)
	}
	// GET is 405 with Allow: POST (AnyCable answers 422; see
	// TestBroadcastEndpointMethodNotAllowed).
	resp, err = http.Get(baseURL() + "/_broadcast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /_broadcast: %d", resp.StatusCode)
	}
}

func TestBroadcastBodyLimit(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		broadcast_key `+testKey+`
		max_broadcast_body 1KiB
	}`)
	big := `{"stream":"a","data":"` + strings.Repeat("x", 2000) + `"}`
	if r := broadcast(t, testKey, big); r.StatusCode != 413 {
		t.Fatalf("over limit: %d", r.StatusCode)
	}
}

func TestConcurrentSubscribersAndBatch(t *testing.T) {
	loadCaddy(t, publicSite)
	const perStream = 10
	streams := []string{"s1", "s2", "s3"}
	clients := map[string][]*sseClient{}
	for _, s := range streams {
		for i := 0; i < perStream; i++ {
			c := subscribe(t, "stream="+s)
			c.mustNext()
			c.mustNext()
			clients[s] = append(clients[s], c)
		}
	}
	// One batch with interleaved streams; per-stream order must hold.
	var batch []string
	for n := 1; n <= 5; n++ {
		for _, s := range streams {
			batch = append(batch, fmt.Sprintf(`{"stream":%q,"data":"{\"n\":%d}"}`, s, n))
		}
	}
	mustBroadcast(t, testKey, "["+strings.Join(batch, ",")+"]")
	var wg sync.WaitGroup
	for _, s := range streams {
		for _, c := range clients[s] {
			wg.Add(1)
			go func(s string, c *sseClient) {
				defer wg.Done()
				for n := 1; n <= 5; n++ {
					ev, ok := c.next(5 * time.Second)
					if !ok || ev.Data != fmt.Sprintf(`{"n":%d}`, n) || !strings.HasPrefix(ev.ID, fmt.Sprintf("%d/", n)) || !strings.HasSuffix(ev.ID, "/"+s) {
						t.Errorf("stream %s: event %d = %+v", s, n, ev)
						return
					}
				}
			}(s, c)
		}
	}
	wg.Wait()
}

func TestPostJSONL(t *testing.T) {
	loadCaddy(t, publicSite)
	body := `{"command":"subscribe","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"a\"}"}` + "\r\n" +
		`{"command":"subscribe","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"b\"}"}` + "\n"
	c := openStream(t, http.MethodPost, "/events", body, nil)
	if c.resp.StatusCode != 200 {
		t.Fatalf("status %d %s", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	if ev := c.mustNext(); ev.Event != "welcome" {
		t.Fatal(ev)
	}
	c.mustNext()
	c.mustNext()
	mustBroadcast(t, testKey, `{"stream":"b","data":"text-b"}`)
	ev := c.mustNext()
	if !regexp.MustCompile(`^\{"identifier":"\{\\"channel\\":\\"\$pubsub\\",\\"stream_name\\":\\"b\\"\}","message":"text-b","stream_id":"b","epoch":"[A-Za-z0-9]+","offset":1\}$`).MatchString(ev.Data) {
		t.Fatalf("POST data: %s", ev.Data)
	}
	// A POST connection has two streams: its id carries both positions.
	if !strings.HasPrefix(ev.ID, "m1:") {
		t.Fatalf("multi-stream id: %q", ev.ID)
	}

	// Bad bodies are refused with the line named.
	for _, bad := range []struct{ body, reason string }{
		{`{"identifier":"x"}` + "\n" + `not json`, "line 2"},
		{`[{"identifier":"x"}]`, "line 1"},
		{`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"a\"}"}` + "\n" + `{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"a\"}"}`, "line 2"},
		{strings.Repeat(" ", 65537), "body over"},
	} {
		c := openStream(t, http.MethodPost, "/events", bad.body, nil)
		if c.resp.StatusCode != 400 || !strings.Contains(c.resp.Header.Get("X-AnyCable-Error"), bad.reason) {
			t.Errorf("POST %.40q: %d %q", bad.body, c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
		}
	}
	// An empty body is a connection with no subscriptions.
	c2 := openStream(t, http.MethodPost, "/events", "", nil)
	if c2.resp.StatusCode != 200 {
		t.Fatalf("empty POST: %d", c2.resp.StatusCode)
	}
}

func TestExcludeSocketAndTypedBroadcast(t *testing.T) {
	loadCaddy(t, publicSite)
	one := openStream(t, http.MethodGet, "/events?stream=x", "", nil)
	two := openStream(t, http.MethodGet, "/events?stream=x", "", nil)
	welcome := one.mustNext()
	sid := strings.TrimSuffix(strings.TrimPrefix(welcome.Data, `{"type":"welcome","sid":"`), `"}`)
	if welcome.Event != "welcome" || len(sid) != 21 {
		t.Fatalf("welcome: %+v", welcome)
	}
	one.mustNext()
	two.mustNext()
	two.mustNext()
	mustBroadcast(t, testKey, `{"stream":"x","data":"\"to others\"","meta":{"exclude_socket":"`+sid+`"}}`)
	if ev := two.mustNext(); ev.Data != "to others" {
		t.Fatalf("two: %+v", ev)
	}
	mustBroadcast(t, testKey, `{"stream":"x","data":"{\"k\":1}","meta":{"broadcast_type":"custom_evt","transient":true}}`)
	ev := one.mustNext()
	if ev.Event != "custom_evt" || ev.Data != `{"type":"custom_evt","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"x\"}","message":{"k":1}}` || ev.ID != "" {
		t.Fatalf("typed transient: %+v", ev)
	}
}

// One anycable-rails secret configures both sides: the broadcast key is
// derived from it as AnyCable derives it, and placeholders resolve secrets
// from the environment.
func TestSecretDerivationAndPlaceholders(t *testing.T) {
	t.Setenv("ANYCABLE_TEST_SECRET", "s3cr3t")
	loadCaddy(t, `
	anycable_sse {
		secret {env.ANYCABLE_TEST_SECRET}
	}`)
	c := subscribe(t, "signed_stream="+signedChat42) // streams secret = secret
	c.mustNext()
	c.mustNext()
	if r := broadcast(t, "s3cr3t", `{"stream":"chat/42","data":"x"}`); r.StatusCode != 401 {
		t.Fatalf("the raw secret is not the broadcast key: %d", r.StatusCode)
	}
	mustBroadcast(t, "83149057b2f956b5f862c0ef5ad6a24d3677dc076d77e8999c24f77ca17d7a20", `{"stream":"chat/42","data":"x"}`)
	if ev := c.mustNext(); ev.Data != "x" {
		t.Fatalf("%+v", ev)
	}
	// An explicit key wins over the derived one.
	t.Setenv("ANYCABLE_TEST_KEY", "explicit")
	loadCaddy(t, `
	anycable_sse {
		secret {env.ANYCABLE_TEST_SECRET}
		broadcast_key {env.ANYCABLE_TEST_KEY}
	}`)
	if r := broadcast(t, "83149057b2f956b5f862c0ef5ad6a24d3677dc076d77e8999c24f77ca17d7a20", `{"stream":"a","data":"x"}`); r.StatusCode != 401 {
		t.Fatalf("derived key after an explicit one: %d", r.StatusCode)
	}
	mustBroadcast(t, "explicit", `{"stream":"a","data":"x"}`)
}
