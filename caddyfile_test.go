package anycablesse

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parse(t *testing.T, input string) (*Handler, error) {
	t.Helper()
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return h, err
}

// subdirectiveCases parse each subdirective alone; want is the JSON the
// handler marshals to. Every subdirective sets the JSON field of its own
// name (public's option excepted: it sets allow_remote_broadcast).
var subdirectiveCases = []struct{ line, want string }{
	{"websocket_path /cable", `{"websocket_path":"/cable"}`},
	{"sessions_ttl 2m", `{"sessions_ttl":120000000000}`},
	{"path /sse", `{"path":"/sse"}`},
	{"broadcast_path /pub", `{"broadcast_path":"/pub"}`},
	{"secret {env.ANYCABLE_SECRET}", `{"secret":"{env.ANYCABLE_SECRET}"}`},
	{"broadcast_key k", `{"broadcast_key":"k"}`},
	{"public_streams", `{"public_streams":true}`},
	{"streams_secrets new old", `{"streams_secrets":["new","old"]}`},
	{"turbo_streams_secrets t1", `{"turbo_streams_secrets":["t1"]}`},
	{"turbo_secret_key_base skb", `{"turbo_secret_key_base":"skb"}`},
	{"cable_ready_secrets c1 c2", `{"cable_ready_secrets":["c1","c2"]}`},
	{"ping_interval 0", `{"ping_interval":0}`},
	{"broker redis redis://r:6379/1 prefix p", `{"broker":{"type":"redis","url":"redis://r:6379/1","prefix":"p"}}`},
	{"redis_url redis://r:6380", `{"redis_url":"redis://r:6380"}`},
	{"broadcast_adapters http redisx", `{"broadcast_adapters":["http","redisx"]}`},
	{"redisx_stream s", `{"redisx_stream":"s"}`},
	{"redis_channel ch", `{"redis_channel":"ch"}`},
	{"history_limit 10", `{"history_limit":10}`},
	{"history_ttl 1m", `{"history_ttl":60000000000}`},
	{"rpc_url http://127.0.0.1:3000/_anycable", `{"rpc_url":"http://127.0.0.1:3000/_anycable"}`},
	{"rpc_secret r", `{"rpc_secret":"r"}`},
	{"rpc_timeout 500ms", `{"rpc_timeout":500000000}`},
	{"rpc_concurrency 4", `{"rpc_concurrency":4}`},
	{"headers Cookie X-Api-Token", `{"headers":["Cookie","X-Api-Token"]}`},
	{"jwt_secrets j1 j2", `{"jwt_secrets":["j1","j2"]}`},
	{"jwt_param token", `{"jwt_param":"token"}`},
	{"enforce_jwt\n\tsecret s", `{"secret":"s","enforce_jwt":true}`},
	{"leeway 5s", `{"leeway":5000000000}`},
	{"noauth", `{"noauth":true}`},
	{"public allow_remote_broadcast", `{"public":true,"allow_remote_broadcast":true}`},
	{"allowed_origins example.com", `{"allowed_origins":["example.com"]}`},
	{"enforce_origins\n\tallowed_origins example.com", `{"allowed_origins":["example.com"],"enforce_origins":true}`},
	{"write_timeout 5s", `{"write_timeout":5000000000}`},
	{"max_pending 256KiB", `{"max_pending":262144}`},
	{"max_broadcast_body 2MB", `{"max_broadcast_body":2000000}`},
	{"max_broadcast_batch 10", `{"max_broadcast_batch":10}`},
	{"max_post_body 1KiB", `{"max_post_body":1024}`},
	{"max_url_length 2KiB", `{"max_url_length":2048}`},
	{"max_identifier_length 512B", `{"max_identifier_length":512}`},
	{"max_streams_per_connection 7", `{"max_streams_per_connection":7}`},
	{"max_connections_per_ip 3", `{"max_connections_per_ip":3}`},
	{"max_live_streams 1000", `{"max_live_streams":1000}`},
	{"max_subscriptions 5000", `{"max_subscriptions":5000}`},
	{"send_buffer 128KiB", `{"send_buffer":131072}`},
	{"http1_takeover off", `{"http1_takeover":false}`},
	{"stream_close_delay 0", `{}`},
	{"stream_close_delay 2s", `{"stream_close_delay":2000000000}`},
}

func TestCaddyfileEverySubdirectiveSetsItsJSONField(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range subdirectiveCases {
		h, err := parse(t, "anycable_sse {\n\t"+c.line+"\n}")
		if err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		got, _ := json.Marshal(h)
		if string(got) != c.want {
			t.Errorf("%s: JSON %s, want %s", c.line, got, c.want)
		}
		name := strings.Fields(c.line)[0]
		var fields map[string]json.RawMessage
		_ = json.Unmarshal([]byte(c.want), &fields)
		if _, ok := fields[name]; !ok && c.want != "{}" {
			t.Errorf("%s: the subdirective does not set the JSON field of its name", c.line)
		}
		for k := range fields {
			covered[k] = true
		}
	}
	// Every JSON field of the handler has a subdirective of its name.
	for _, f := range jsonFields(reflect.TypeOf(Handler{})) {
		if !covered[f] {
			t.Errorf("JSON field %q has no subdirective case", f)
		}
	}
}

// AnyCable's singular spellings are accepted for the list subdirectives,
// and count as the same subdirective.
func TestCaddyfileSingularAliases(t *testing.T) {
	h, err := parse(t, "anycable_sse {\n\tstreams_secret a\n\tjwt_secret b\n\tturbo_streams_secret c\n\tcable_ready_secret d\n\tbroadcast_adapter http\n}")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(h)
	want := `{"streams_secrets":["a"],"turbo_streams_secrets":["c"],"cable_ready_secrets":["d"],"broadcast_adapters":["http"],"jwt_secrets":["b"]}`
	if string(got) != want {
		t.Fatalf("aliases: %s, want %s", got, want)
	}
	if _, err := parse(t, "anycable_sse {\n\tstreams_secret a\n\tstreams_secrets b\n}"); err == nil || !strings.Contains(err.Error(), `duplicate subdirective "streams_secrets"`) {
		t.Fatalf("alias and plural together: %v", err)
	}
}

// jsonFields lists the JSON names of a struct's exported fields.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
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
		{"anycable_sse {\n\tstreams_secret\n}", `streams_secret: no value (an environment variable substituted with nothing?)`},
		{"anycable_sse {\n\tbroadcast_key\n}", `broadcast_key: no value`},
		{"anycable_sse {\n\tpublic_streams maybe\n}", `expected on, off, true or false`},
		{"anycable_sse {\n\tmax_pending lots\n}", `max_pending: invalid size "lots"`},
		{"anycable_sse extra", `wrong argument count`},
		// Provision-time errors of old, now with the file and line.
		{"anycable_sse {\n\tpath events\n}", `path: must start with /, got "events", at Testfile:2`},
		{"anycable_sse {\n\tbroadcast_path pub\n}", `broadcast_path: must start with /, got "pub", at Testfile:2`},
		{"anycable_sse {\n\trpc_url 127.0.0.1:3000/_anycable\n}", `rpc_url: anycable rpc: `},
		{"anycable_sse {\n\trpc_url 127.0.0.1:3000/_anycable\n}", `, at Testfile:2`},
		{"anycable_sse {\n\tpath /x\n\tbroadcast_path /x\n}", `path and broadcast_path are both "/x": they must differ, at Testfile:2`},
		{"anycable_sse {\n\tpath /_broadcast\n}", `they must differ, at Testfile:2`},
		{"anycable_sse {\n\tbroker redis\n\tbroadcast_adapters http redis\n}", `use redisx, at Testfile:3`},
		{"anycable_sse {\n\tbroker redis redis://localhost:99999\n}", `port must be 1-65535, at Testfile:2`},
		{"anycable_sse {\n\tredis_url redis://localhost:0\n}", `port must be 1-65535, at Testfile:2`},
		{"anycable_sse {\n\tbroadcast_adapters http http\n}", `"http" listed twice, at Testfile:2`},
		{"anycable_sse {\n\tjwt_param a:b\n}", `jwt_param: invalid name "a:b", at Testfile:2`},
		{"anycable_sse {\n\tstreams_secrets a none\n}", `"none" can only stand alone, at Testfile:2`},
		{"anycable_sse {\n\tbroker memory prefix\n}", `prefix needs a value, at Testfile:2`},
		{"anycable_sse {\n\tbroker memory redis://x:1\n}", `broker memory: unexpected "redis://x:1"`},
		{"anycable_sse {\n\tbroker memory prefix a {\n\t\tprefix b\n\t}\n}", `prefix given twice, at Testfile:3`},
	}
	for _, c := range cases {
		_, err := parse(t, c.input)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.input, err, c.want)
		}
	}
}

// broker takes its prefix inline or in a block; both mean the same. (A
// block on one line, "{ prefix p }", is refused by Caddy's own parser.)
func TestCaddyfileBrokerPrefixForms(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		{"anycable_sse {\n\tbroker memory prefix p1\n}", `{"broker":{"type":"memory","prefix":"p1"}}`},
		{"anycable_sse {\n\tbroker memory {\n\t\tprefix p1\n\t}\n}", `{"broker":{"type":"memory","prefix":"p1"}}`},
		{"anycable_sse {\n\tbroker redis prefix p2\n}", `{"broker":{"type":"redis","prefix":"p2"}}`},
		{"anycable_sse {\n\tbroker redis redis://r:1 {\n\t\tprefix p3\n\t}\n}", `{"broker":{"type":"redis","url":"redis://r:1","prefix":"p3"}}`},
	} {
		h, err := parse(t, c.input)
		if err != nil {
			t.Errorf("%q: %v", c.input, err)
			continue
		}
		if got, _ := json.Marshal(h); string(got) != c.want {
			t.Errorf("%q: %s, want %s", c.input, got, c.want)
		}
	}
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\tanycable_sse {\n\t\tbroker memory { prefix p1 }\n\t}\n}\n"), map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), "Caddyfile:3") {
		t.Fatalf("one-line block: %v", err)
	}
}

// `caddy validate` refuses what only a connection would have found, in the
// JSON path too (no Caddyfile checks there).
func TestValidateRefusesBadURLsAndConflicts(t *testing.T) {
	for _, c := range []struct{ handler, want string }{
		{`{"handler":"anycable_sse","broker":{"type":"redis","url":"redis://localhost:99999"}}`, "broker: "},
		{`{"handler":"anycable_sse","broker":{"type":"redis","url":"redis://:p%zz@h:1"}}`, "invalid URL escape"},
		{`{"handler":"anycable_sse","redis_url":"redis://localhost:99999"}`, "redis_url: "},
		{`{"handler":"anycable_sse","rpc_url":"127.0.0.1:3000/_anycable"}`, "rpc_url: "},
		{`{"handler":"anycable_sse","path":"events"}`, "path: must start with /"},
		{`{"handler":"anycable_sse","path":"/_broadcast"}`, "path and broadcast_path"},
		{`{"handler":"anycable_sse","broker":{"type":"redis"},"broadcast_adapters":["redis"]}`, "broadcast_adapters redis"},
		{`{"handler":"anycable_sse","allow_remote_broadcast":true}`, "allow_remote_broadcast: only applies to public mode"},
		{`{"handler":"anycable_sse","broker":{"type":"nats"}}`, `broker: unknown type "nats"`},
	} {
		err := validateHandlerJSON(t, c.handler)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.handler, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "p%zz") {
			t.Errorf("%s: password in %v", c.handler, err)
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
		{Handler{Path: "events"}, "path: must start with /"},
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
