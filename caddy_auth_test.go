package anycablesse

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mintJWT builds an HS256 token the way anycable-rails-jwt does
// ({"ext": identifiers, "exp": unix}), independently of the module's code.
func mintJWT(secret, header, claims string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

func railsJWT(secret, ext string, exp time.Time) string {
	return mintJWT(secret, `{"alg":"HS256"}`, `{"ext":`+strconv.Quote(ext)+`,"exp":`+strconv.FormatInt(exp.Unix(), 10)+`}`)
}

func TestJWTIdentification(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"from-rpc","transmissions":["{\"type\":\"welcome\"}"]}`
		case "command":
			return 200, `{"status":1,"streams":["user_1"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, `
	anycable_sse {
		rpc_url `+app.URL+`
		jwt_secret new-secret old-secret
		broadcast_key `+testKey+`
		public_streams
	}`)
	ids := `{"user_id":1}`
	good := railsJWT("new-secret", ids, time.Now().Add(time.Minute))
	rotated := railsJWT("old-secret", ids, time.Now().Add(time.Minute))

	// Query parameter (EventSource) and X-JID header; both keys verify.
	for _, c := range []struct {
		query  string
		header http.Header
	}{
		{"stream=s&jid=" + good, nil},
		{"stream=s", http.Header{"X-Jid": {rotated}}},
	} {
		cl := openStream(t, http.MethodGet, "/events?"+c.query, "", c.header)
		if cl.resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", c.query, cl.resp.StatusCode, cl.resp.Header.Get("X-AnyCable-Error"))
		}
		if ev := cl.mustNext(); ev.Event != "welcome" || !strings.Contains(ev.Data, `"sid":`) {
			t.Fatalf("JWT welcome carries the sid: %+v", ev)
		}
		cl.Close()
	}
	if m := app.methods(); len(m) != 0 {
		t.Fatalf("JWT connections made RPC calls: %v", m)
	}
	// A channel subscription still goes to the app, with the token's
	// identifiers; the app then gets a disconnect.
	cl := subscribe(t, "channel=UserChannel&jid="+good)
	cl.mustNext()
	app.waitCalls(t, "command")
	if got := app.call("command").Body["connection_identifiers"]; got != ids {
		t.Fatalf("connection_identifiers from the token: %v", got)
	}
	// Remote disconnect matches the token's identifiers.
	mustBroadcast(t, testKey, `{"command":"disconnect","payload":{"identifier":"{\"user_id\":1}","reconnect":true}}`)
	if ev := cl.mustNext(); ev.Event != "disconnect" || ev.Retry != "" {
		t.Fatalf("remote disconnect: %+v", ev)
	}
	app.waitCalls(t, "command", "disconnect")

	bad := []struct {
		name, token string
		status      int
		reason      string
	}{
		{"expired", railsJWT("new-secret", ids, time.Now().Add(-time.Minute)), 401, "token_expired"},
		{"wrong key", railsJWT("other", ids, time.Now().Add(time.Minute)), 401, "invalid token"},
		{"alg none", mintJWT("", `{"alg":"none"}`, `{"ext":"x"}`) + "", 401, "invalid token"},
		{"no ext", mintJWT("new-secret", `{"alg":"HS256"}`, `{"exp":9999999999}`), 400, "ext"},
		{"ext not a string", mintJWT("new-secret", `{"alg":"HS256"}`, `{"ext":{"user_id":1}}`), 400, "ext"},
		{"huge", strings.Repeat("a", 9000), 401, "invalid token"},
	}
	for _, b := range bad {
		resp, err := http.Get(baseURL() + "/events?stream=s&jid=" + b.token)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != b.status || !strings.Contains(resp.Header.Get("X-AnyCable-Error"), b.reason) {
			t.Errorf("%s: %d %q", b.name, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
		}
	}
	// No token falls through to the app's connect.
	cl2 := subscribe(t, "stream=s")
	if ev := cl2.mustNext(); ev.Data != `{"type":"welcome"}` {
		t.Fatalf("fallthrough to RPC: %+v", ev)
	}
}

func TestJWTWithoutRPC(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		secret s3cr3t
		enforce_jwt
		leeway 30s
	}`)
	tok := railsJWT("s3cr3t", `{"user_id":7}`, time.Now().Add(-10*time.Second)) // expired, inside the leeway
	c := subscribe(t, "signed_stream="+signedChat42+"&jid="+tok)
	c.mustNext()
	if ev := c.mustNext(); ev.Event != "confirm_subscription" {
		t.Fatalf("signed stream with JWT: %+v", ev)
	}
	for _, q := range []string{"signed_stream=" + signedChat42, "channel=Chat&jid=" + tok} {
		resp, err := http.Get(baseURL() + "/events?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 401 // enforce_jwt without a token
		if strings.HasPrefix(q, "channel") {
			want = 400 // channels need the app
		}
		if resp.StatusCode != want {
			t.Errorf("%s: %d (%s), want %d", q, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"), want)
		}
	}
}

func TestNoAuthAndPublicModes(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		return 200, `{"status":2}` // the app refuses everything
	})
	loadCaddy(t, `
	anycable_sse {
		rpc_url `+app.URL+`
		noauth
		public_streams
	}`)
	c := subscribe(t, "stream=x")
	if ev := c.mustNext(); !strings.HasPrefix(ev.Data, `{"type":"welcome","sid":"`) {
		t.Fatalf("noauth welcome: %+v", ev)
	}
	if m := app.methods(); len(m) != 0 {
		t.Fatalf("noauth called the app: %v", m)
	}

	// public = noauth + public streams + a keyless broadcast endpoint that
	// stays loopback-only unless remote publishing is confirmed.
	loadCaddy(t, `
	route {
		anycable_test_peer
		anycable_sse {
			public
			secret s3cr3t
		}
	}`)
	p := subscribe(t, "stream=pub")
	p.mustNext()
	p.mustNext()
	mustBroadcast(t, "", `{"stream":"pub","data":"1"}`)
	if ev := p.mustNext(); ev.Data != "1" {
		t.Fatalf("public broadcast: %+v", ev)
	}
	remote := func() int {
		req, _ := http.NewRequest(http.MethodPost, baseURL()+"/_broadcast", strings.NewReader(`{"stream":"pub","data":"2"}`))
		req.Header.Set("X-Test-Peer", "198.51.100.9:40000") // a remote TCP peer (trust_test.go)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := remote(); s != 403 {
		t.Fatalf("public mode, remote publisher without confirmation: %d", s)
	}
	loadCaddy(t, `
	route {
		anycable_test_peer
		anycable_sse {
			public allow_remote_broadcast
		}
	}`)
	if s := remote(); s != 201 {
		t.Fatalf("public allow_remote_broadcast: %d", s)
	}
}
