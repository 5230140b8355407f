package anycablesse

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// What a new user trips on (issue 12): fail-open settings, errors without a
// line, and settings that silently do nothing.

// validateSite adapts a site block as loadCaddy does and runs what
// `caddy validate` runs (adapt, provision, validate; nothing starts). The
// site's first line is line 7 of the Caddyfile.
func validateSite(t *testing.T, site string) error {
	t.Helper()
	cf := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n}\nhttp://127.0.0.1:%d {\n%s\n}\n", testPort, site)
	return validateCaddyfile(t, cf, "Caddyfile")
}

func validateCaddyfile(t *testing.T, cf, filename string) error {
	t.Helper()
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": filename})
	if err != nil {
		return err
	}
	return validateJSONConfig(t, cfgJSON)
}

func validateJSONConfig(t *testing.T, cfgJSON []byte) error {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatalf("config JSON: %v", err)
	}
	return caddy.Validate(&cfg)
}

// validateHandlerJSON validates a config whose only route is the handler
// JSON given (the JSON path, with no Caddyfile checks).
func validateHandlerJSON(t *testing.T, handler string) error {
	t.Helper()
	cfg := `{"admin":{"disabled":true},"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + handler + `]}]}}}}}`
	return validateJSONConfig(t, []byte(cfg))
}

// A secret that is configured but resolves to nothing is an error naming
// the subdirective and the placeholder: it would silently turn a
// protection off. "none" is the explicit "no key".
func TestEmptyResolvedSecretIsAnError(t *testing.T) {
	for _, sub := range []string{"secret", "broadcast_key", "streams_secrets", "jwt_secrets", "rpc_secret",
		"turbo_streams_secrets", "turbo_secret_key_base", "cable_ready_secrets"} {
		site := "\tanycable_sse {\n\t\t" + sub + " {env.ANYCABLE_TEST_UNSET_VAR}\n\t\trpc_url http://127.0.0.1:1/_anycable\n\t}"
		err := validateSite(t, site)
		if err == nil || !strings.Contains(err.Error(), sub) || !strings.Contains(err.Error(), "{env.ANYCABLE_TEST_UNSET_VAR}") ||
			!strings.Contains(err.Error(), "empty") {
			t.Errorf("%s: error %v, want one naming %s and the placeholder", sub, err, sub)
		}
	}
	// An rpc_url that resolves to nothing would accept every connection
	// without the app.
	err := validateSite(t, "\tanycable_sse {\n\t\trpc_url {env.ANYCABLE_TEST_UNSET_VAR}\n\t}")
	if err == nil || !strings.Contains(err.Error(), "rpc_url") || !strings.Contains(err.Error(), "empty") {
		t.Errorf("rpc_url resolving to nothing: %v", err)
	}
	// none stays the explicit "no key", and a set variable is fine.
	t.Setenv("ANYCABLE_TEST_SET_VAR", "value")
	for _, site := range []string{
		"\tanycable_sse {\n\t\tbroadcast_key none\n\t}",
		"\tanycable_sse {\n\t\tsecret {env.ANYCABLE_TEST_SET_VAR}\n\t\tstreams_secrets none\n\t}",
		"\tanycable_sse {\n\t\tbroadcast_key {env.ANYCABLE_TEST_SET_VAR}\n\t}",
	} {
		if err := validateSite(t, site); err != nil {
			t.Errorf("%s: %v", site, err)
		}
	}
}

// streams_secrets none turns signed streams off even with a secret.
func TestStreamsSecretNoneTurnsTheFallbackOff(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		secret s3cr3t
		streams_secrets none
	}`)
	c := openStream(t, http.MethodGet, "/events?signed_stream="+signedChat42, "", nil)
	if c.resp.StatusCode != 400 || !strings.Contains(c.resp.Header.Get("X-AnyCable-Error"), "streams_secret") {
		t.Fatalf("signed stream with streams_secrets none: %d %q", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
}

// enforce_jwt never fails open: without a key it is a configuration error,
// and with one a request without a valid token is refused.
func TestEnforceJWTFailsClosed(t *testing.T) {
	err := validateSite(t, "\tanycable_sse {\n\t\tenforce_jwt\n\t}")
	if err == nil || !strings.Contains(err.Error(), "enforce_jwt") || !strings.Contains(err.Error(), "Caddyfile:8") {
		t.Fatalf("enforce_jwt without a key: %v", err)
	}
	err = validateSite(t, "\tanycable_sse {\n\t\tjwt_secrets {env.ANYCABLE_TEST_UNSET_VAR}\n\t\tenforce_jwt\n\t}")
	if err == nil || !strings.Contains(err.Error(), "jwt_secrets") {
		t.Fatalf("enforce_jwt with an empty key: %v", err)
	}
	// The JSON path (no adapter check) refuses it at provision time.
	err = validateHandlerJSON(t, `{"handler":"anycable_sse","enforce_jwt":true}`)
	if err == nil || !strings.Contains(err.Error(), "enforce_jwt") {
		t.Fatalf("JSON enforce_jwt without a key: %v", err)
	}

	loadCaddy(t, `
	anycable_sse {
		public_streams
		jwt_secrets k1
		enforce_jwt
	}`)
	for _, q := range []string{"stream=a", "stream=a&jid=garbage"} {
		c := openStream(t, http.MethodGet, "/events?"+q, "", nil)
		if c.resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", q, c.resp.StatusCode)
		}
	}
}

// stream_close_delay: the config being loaded decides, and 0 (the
// default) is accepted and keeps the streams.
func TestStreamCloseDelayNewConfigDecides(t *testing.T) {
	site := `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		stream_close_delay %s
	}`
	with := func(d string) string { return strings.Replace(site, "%s", d, 1) }
	loadCaddy(t, with("0"))
	c := subscribe(t, "stream=scd_new")
	c.mustNext()
	c.mustNext()
	// Adding the delay and reloading ends the streams of the old config.
	loadCaddy(t, with("100ms"))
	if ev := c.mustNext(); ev.Event != "disconnect" || !strings.Contains(ev.Data, `"reconnect":true`) {
		t.Fatalf("after adding stream_close_delay: %+v", ev)
	}
	if !c.waitEnd(3 * time.Second) {
		t.Fatal("the stream of the old config did not end")
	}
	// Going back to 0 keeps them.
	c2 := subscribe(t, "stream=scd_new")
	c2.mustNext()
	c2.mustNext()
	loadCaddy(t, with("0"))
	mustBroadcast(t, testKey, `{"stream":"scd_new","data":"still here"}`)
	if ev := c2.mustNext(); ev.Data != "still here" {
		t.Fatalf("after removing the delay: %+v", ev)
	}
	m := newMarker()
	mustBroadcast(t, testKey, `{"stream":"scd_new","data":"`+m+`"}`)
	c2.expectMarkers(m) // nothing else, and the stream still runs
}

// A GET or DELETE on the broadcast endpoint is 405 with Allow: POST.
func TestBroadcastEndpointMethodNotAllowed(t *testing.T) {
	loadCaddy(t, publicSite)
	for _, m := range []string{http.MethodGet, http.MethodDelete, http.MethodPut} {
		req, _ := http.NewRequest(m, baseURL()+"/_broadcast", nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := doRetry(req, "")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s: %d Allow=%q, want 405 Allow=POST", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

// Typed broadcasts carry the whole message as AnyCable sends it: stream_id,
// epoch and offset, in GET and POST.
func TestTypedBroadcastCarriesPosition(t *testing.T) {
	loadCaddy(t, publicSite)
	get := subscribe(t, "stream=typed")
	get.mustNext()
	get.mustNext()
	ident := `{"channel":"$pubsub","stream_name":"typed"}`
	post := openStream(t, http.MethodPost, "/events", `{"identifier":`+jsonQuote(ident)+`}`, nil)
	post.mustNext()
	post.mustNext()
	mustBroadcast(t, testKey, `{"stream":"typed","data":"{\"k\":1}","meta":{"broadcast_type":"custom_evt"}}`)
	want := regexp.MustCompile(`^\{"type":"custom_evt","identifier":"\{\\"channel\\":\\"\$pubsub\\",\\"stream_name\\":\\"typed\\"\}","message":\{"k":1\},"stream_id":"typed","epoch":"[A-Za-z0-9]+","offset":1\}$`)
	for name, c := range map[string]*sseClient{"GET": get, "POST": post} {
		ev := c.mustNext()
		if ev.Event != "custom_evt" || !want.MatchString(ev.Data) || !strings.HasPrefix(ev.ID, "1/") {
			t.Errorf("%s: %+v", name, ev)
		}
	}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The startup line reports what the resolved config does, never the
// configured values: "jwt" is false when jwt_secrets none turns the
// fallback to secret off, and no secret appears.
func TestStartupLogReportsResolvedKeys(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	t.Setenv("ANYCABLE_TEST_SECRET", "startup-s3cr3t-value")
	loadCaddyWithGlobal(t, "log {\n\t\toutput file "+logFile+"\n\t\tlevel INFO\n\t}", `
	anycable_sse {
		secret {env.ANYCABLE_TEST_SECRET}
		jwt_secrets none
	}`)
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]any
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Contains(line, `"anycable_sse ready"`) {
			_ = json.Unmarshal([]byte(line), &ready)
		}
	}
	if ready == nil {
		t.Fatalf("no startup line in:\n%s", raw)
	}
	for k, want := range map[string]bool{"jwt": false, "signed_streams": true, "broadcast_key": true, "rpc": false} {
		if ready[k] != want {
			t.Errorf("startup %s = %v, want %v (%v)", k, ready[k], want, ready)
		}
	}
	if strings.Contains(string(raw), "startup-s3cr3t-value") {
		t.Error("the log shows the secret")
	}
}
