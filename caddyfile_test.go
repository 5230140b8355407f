package anycablesse

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parse(t *testing.T, input string) (*Handler, error) {
	t.Helper()
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return h, err
}

func TestCaddyfileAcceptsEverySubdirective(t *testing.T) {
	h, err := parse(t, `anycable_sse {
		path /sse
		broadcast_path /pub
		secret {env.ANYCABLE_SECRET}
		broadcast_key k
		public_streams
		streams_secret new old
		turbo_streams_secret t1
		turbo_secret_key_base skb
		ping_interval 0
		broker memory
		history_limit 10
		history_ttl 1m
		rpc_url http://127.0.0.1:3000/_anycable
		rpc_secret r
		rpc_timeout 500ms
		rpc_concurrency 4
		headers Cookie X-Api-Token
		allowed_origins example.com *.example.io
		enforce_origins
		write_timeout 5s
		max_pending 256KiB
		max_broadcast_body 2MB
		max_broadcast_batch 10
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := Handler{
		Path: "/sse", BroadcastPath: "/pub", Secret: "{env.ANYCABLE_SECRET}", BroadcastKey: "k",
		PublicStreams: true, StreamsSecrets: []string{"new", "old"}, TurboStreamsSecrets: []string{"t1"},
		TurboSecretKeyBase: "skb", Broker: &BrokerConfig{Type: "memory"}, HistoryLimit: 10,
		HistoryTTL: caddy.Duration(time.Minute), RPCURL: "http://127.0.0.1:3000/_anycable", RPCSecret: "r",
		RPCTimeout: caddy.Duration(500 * time.Millisecond), RPCConcurrency: 4,
		Headers: []string{"Cookie", "X-Api-Token"}, AllowedOrigins: []string{"example.com", "*.example.io"},
		EnforceOrigins: true, WriteTimeout: caddy.Duration(5 * time.Second), MaxPendingBytes: 256 << 10,
		MaxBroadcastBody: 2000000, MaxBroadcastBatch: 10,
	}
	zero := caddy.Duration(0)
	want.PingInterval = &zero
	gotJSON, _ := json.Marshal(h)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("parsed:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
}

func TestCaddyfileRejects(t *testing.T) {
	cases := []struct{ input, want string }{
		{"anycable_sse {\n\tpublc_streams\n}", `unrecognized subdirective "publc_streams", at Testfile:2`},
		{"anycable_sse {\n\tpath /a\n\tpath /b\n}", `duplicate subdirective "path", at Testfile:3`},
		{"anycable_sse {\n\tping_interval soon\n}", `ping_interval: invalid duration "soon"`},
		{"anycable_sse {\n\tping_interval -1s\n}", `ping_interval: must be positive`},
		{"anycable_sse {\n\thistory_ttl 0\n}", `history_ttl: must be positive`},
		{"anycable_sse {\n\thistory_limit many\n}", `history_limit: expected a whole number of at least 1, got "many"`},
		{"anycable_sse {\n\thistory_limit 0\n}", `history_limit: expected a whole number of at least 1`},
		{"anycable_sse {\n\tbroker nats\n}", `unknown broker "nats"`},
		{"anycable_sse {\n\tpath\n}", `wrong argument count`},
		{"anycable_sse {\n\tpath /a /b\n}", `wrong argument count`},
		{"anycable_sse {\n\tstreams_secret\n}", `wrong argument count`},
		{"anycable_sse {\n\tpublic_streams maybe\n}", `expected on, off, true or false`},
		{"anycable_sse {\n\tmax_pending lots\n}", `max_pending: invalid size "lots"`},
		{"anycable_sse extra", `wrong argument count`},
	}
	for _, c := range cases {
		_, err := parse(t, c.input)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.input, err, c.want)
		}
	}
}

func TestCaddyfileAdaptAndValidate(t *testing.T) {
	// The whole chain a user runs: adapt names the file and line of a typo.
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\tanycable_sse {\n\t\tbrodcast_key x\n\t}\n}\n"), map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), "Caddyfile:3") || !strings.Contains(err.Error(), `unrecognized subdirective "brodcast_key"`) {
		t.Fatalf("adapt error: %v", err)
	}
	// No order option is needed and anycable_sse runs before encode.
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\tencode gzip\n\trespond ok\n\tanycable_sse\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if i, j := strings.Index(s, `"handler":"anycable_sse"`), strings.Index(s, `"handler":"encode"`); i < 0 || j < 0 || i > j {
		t.Fatalf("anycable_sse must come before encode:\n%s", s)
	}
	// Validation errors name the JSON field.
	for _, c := range []struct {
		h    Handler
		want string
	}{
		{Handler{Path: "events"}, "path must start with /"},
		{Handler{Path: "/x", BroadcastPath: "/x"}, "must differ"},
	} {
		c.h.applyDefaults()
		if err := c.h.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("validate %+v: %v", c.h, err)
		}
	}
}

// allowed_origins takes full origins and host patterns; an entry that can
// never match an Origin header, and enforce_origins without a list, are
// refused while adapting, with the line.
func TestCaddyfileOrigins(t *testing.T) {
	h, err := parse(t, `anycable_sse {
		allowed_origins https://example.com http://localhost:3000 *.example.io https://*.example.org
		enforce_origins
	}`)
	if err != nil || len(h.AllowedOrigins) != 4 || !h.EnforceOrigins {
		t.Fatalf("%+v %v", h, err)
	}
	for input, want := range map[string]string{
		"anycable_sse {\n\tallowed_origins https://example.com/\n}":     "allowed_origins \"https://example.com/\": an origin has no path (not even a trailing /): write scheme://host[:port], at Testfile:2",
		"anycable_sse {\n\tallowed_origins https://a.test?x=1\n}":       "allowed_origins \"https://a.test?x=1\": an origin has no query, at Testfile:2",
		"anycable_sse {\n\tallowed_origins https://u@a.test\n}":         "an origin has no userinfo",
		"anycable_sse {\n\tallowed_origins *example.com\n}":             "wildcard is only allowed as the whole first label",
		"anycable_sse {\n\tpath /e\n\tenforce_origins\n\tnoauth\n}":     "enforce_origins needs allowed_origins (with no list every origin is allowed), at Testfile:3",
		"anycable_sse {\n\tallowed_origins a.test:99999\n}":             "invalid port",
		"anycable_sse {\n\tallowed_origins ok.test https://a.test#x\n}": "no fragment",
	} {
		_, err := parse(t, input)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", input, err, want)
		}
	}
	// The same rules hold for JSON configs (Validate / Provision).
	v := Handler{EnforceOrigins: true}
	v.applyDefaults()
	if err := v.Validate(); err == nil || !strings.Contains(err.Error(), "enforce_origins needs allowed_origins") {
		t.Errorf("JSON enforce_origins without a list: %v", err)
	}
}
