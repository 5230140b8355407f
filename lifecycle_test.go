package anycablesse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/cableway/caddy-anycable-sse/internal/redistest"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// TestProvisionKeepsPlaceholders: Provision resolves {env.X} in secrets and
// URLs for its own use, and the handler's exported config (what json.Marshal
// shows, what Caddy's config API would show) still says {env.X}.
func TestProvisionKeepsPlaceholders(t *testing.T) {
	t.Setenv("ACS_LC_RPC", "http://127.0.0.1:9/_anycable")
	t.Setenv("ACS_LC_REDIS", "redis://:redispw@127.0.0.1:9")
	t.Setenv("ACS_LC_SECRET", "lc-top-secret")
	h := &Handler{
		Secret:            "{env.ACS_LC_SECRET}",
		RPCURL:            "{env.ACS_LC_RPC}",
		RedisURL:          "{env.ACS_LC_REDIS}",
		Broker:            &BrokerConfig{Type: "redis"},
		BroadcastAdapters: []string{"http", "redisx"},
	}
	ctx := provisionContext(t)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	// Resolved for use: the RPC client and the broker got the values.
	if h.sse.Opts.RPC == nil || h.urls.rpc != "http://127.0.0.1:9/_anycable" || h.urls.broker != "redis://:redispw@127.0.0.1:9" {
		t.Fatalf("not resolved: rpc client %v, urls %+v", h.sse.Opts.RPC != nil, *h.urls)
	}
	if h.broadcastKey == "" {
		t.Fatal("no broadcast key derived from the resolved secret")
	}
	out, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"secret":"{env.ACS_LC_SECRET}"`, `"rpc_url":"{env.ACS_LC_RPC}"`, `"redis_url":"{env.ACS_LC_REDIS}"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("marshalled config lacks %s:\n%s", want, out)
		}
	}
	for _, leak := range []string{"lc-top-secret", "redispw", "127.0.0.1:9", h.broadcastKey} {
		if bytes.Contains(out, []byte(leak)) {
			t.Errorf("marshalled config holds the resolved %q:\n%s", leak, out)
		}
	}
	// The broker's URL defaults to redis_url without being written back.
	if h.Broker.URL != "" {
		t.Errorf("broker url written back: %q", h.Broker.URL)
	}
}

// provisionContext is a caddy.Context with a config (ctx.App works) for
// provisioning a handler outside an HTTP server.
func provisionContext(t *testing.T) caddy.Context {
	t.Helper()
	base, err := caddy.ProvisionContext(&caddy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(base)
	t.Cleanup(cancel)
	return ctx
}

// lifecycleProbe is a test handler placed after anycable_sse in a route:
// it provisions after it, runs probeHook then (the moment a goroutine or a
// connection that Provision started would still exist), and fails the
// config when Fail is set: an error that shows only at a later
// provisioning step.
type lifecycleProbe struct {
	Fail bool `json:"fail,omitempty"`
}

var probeHook func()

func init() { caddy.RegisterModule(lifecycleProbe{}) }

func (lifecycleProbe) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.lifecycle_probe", New: func() caddy.Module { return new(lifecycleProbe) }}
}

func (p *lifecycleProbe) Provision(caddy.Context) error {
	if probeHook != nil {
		probeHook()
	}
	if p.Fail {
		return errors.New("lifecycle_probe: refused on purpose")
	}
	return nil
}

func (p *lifecycleProbe) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return next.ServeHTTP(w, r)
}

// moduleGoroutines returns the goroutines (by id) whose stack runs code of
// this module's packages or of the libraries its brokers start (go-redis,
// pebble), leaving out the calling goroutine (a test, or Provision on it).
func moduleGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine comes first
			continue
		}
		if !strings.Contains(g, "github.com/cableway/caddy-anycable-sse") && !strings.Contains(g, "github.com/redis/go-redis") &&
			!strings.Contains(g, "github.com/cockroachdb/pebble") {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
		out[id] = g
	}
	return out
}

// newGoroutines lists the module goroutines not in before.
func newGoroutines(before map[string]string) []string {
	var added []string
	for id, g := range moduleGoroutines() {
		if _, ok := before[id]; !ok {
			added = append(added, g)
		}
	}
	return added
}

// settleGoroutines stops the in-process Caddy and waits (bounded) for the
// module goroutines of earlier tests to end, so that a goroutine that
// appears later is this test's. It returns what is left.
func settleGoroutines(t *testing.T) map[string]string {
	t.Helper()
	caddy.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(moduleGoroutines()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	left := moduleGoroutines()
	if len(left) > 0 {
		t.Logf("%d module goroutines of earlier tests still run; compared by id", len(left))
	}
	return left
}

// redisConnections is Redis' count of connections ever accepted: a client
// that connected and left since the last look moves it.
func redisConnections(t *testing.T, srv *redistest.Server) int64 {
	t.Helper()
	info, _ := srv.Do("INFO", "stats").(string)
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "total_connections_received:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no total_connections_received in INFO stats:\n%s", info)
	return 0
}

// lifecycleConfig is a JSON config: a server on port whose route runs
// anycable_sse with the Redis broker and the redisx adapter on url, then
// the probe.
func lifecycleConfig(port int, url, prefix string, fail bool) []byte {
	return []byte(fmt.Sprintf(`{"admin":{"disabled":true},"apps":{"http":{"servers":{"lc":{"listen":["127.0.0.1:%d"],"routes":[{"handle":[
		{"handler":"anycable_sse","public_streams":true,"broker":{"type":"redis","url":%q,"prefix":%q},"redis_url":%q,
		 "broadcast_adapters":["http","redisx"],"redisx_stream":%q},
		{"handler":"lifecycle_probe","fail":%v}]}]}}}}}`, port, url, prefix, url, prefix+"_in", fail))
}

// TestValidateStartsNothing: validating a config with the Redis broker and
// the redisx adapter opens no connection to Redis and starts no goroutine,
// neither while the config is provisioned nor after.
func TestValidateStartsNothing(t *testing.T) {
	settleGoroutines(t)
	redistest.Quiet()
	srv := redistest.Start(t)
	before := moduleGoroutines()
	conns := redisConnections(t, srv)
	var during []string
	probed := false
	probeHook = func() { during, probed = newGoroutines(before), true }
	t.Cleanup(func() { probeHook = nil })

	var cfg caddy.Config
	if err := json.Unmarshal(lifecycleConfig(freePort(), srv.URL(), "lcv", false), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatal(err)
	}
	if !probed {
		t.Fatal("the probe handler was not provisioned")
	}
	if len(during) > 0 {
		t.Errorf("goroutines started by Provision:\n%s", strings.Join(during, "\n\n"))
	}
	if after := newGoroutines(before); len(after) > 0 {
		t.Errorf("goroutines left by caddy validate:\n%s", strings.Join(after, "\n\n"))
	}
	if n := redisConnections(t, srv); n != conns {
		t.Errorf("caddy validate connected to Redis: %d connections received, %d before", n, conns)
	}
	if n := srv.Do("EXISTS", "lcv_in"); n != int64(0) {
		t.Errorf("caddy validate created the redisx stream (EXISTS=%v)", n)
	}
}

// TestRejectedReloadStartsNothing: a reload that fails after anycable_sse
// was provisioned (a later handler refuses its config) leaves the running
// config serving, and opened no connection and started no goroutine, not
// even for a broker the running config does not use.
func TestRejectedReloadStartsNothing(t *testing.T) {
	settleGoroutines(t)
	redistest.Quiet()
	srv := redistest.Start(t)
	// No pings: a taken-over stream's pinger starts when the pool adopts
	// it, which may come after the client read its backlog.
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		ping_interval 0
	}`)
	c := subscribe(t, "stream=kept")
	c.mustNext()
	c.mustNext()

	before := moduleGoroutines()
	conns := redisConnections(t, srv)
	var during []string
	probed := false
	probeHook = func() { during, probed = newGoroutines(before), true }
	t.Cleanup(func() { probeHook = nil })
	err := caddy.Load(lifecycleConfig(freePort(), srv.URL(), "lcr", true), false)
	if err == nil || !strings.Contains(err.Error(), "refused on purpose") {
		t.Fatalf("reload: %v", err)
	}
	if !probed {
		t.Fatal("the probe handler was not provisioned")
	}
	if len(during) > 0 {
		t.Errorf("goroutines started by Provision:\n%s", strings.Join(during, "\n\n"))
	}
	if after := newGoroutines(before); len(after) > 0 {
		t.Errorf("goroutines left by the rejected reload:\n%s", strings.Join(after, "\n\n"))
	}
	if n := redisConnections(t, srv); n != conns {
		t.Errorf("the rejected reload connected to Redis: %d connections received, %d before", n, conns)
	}
	// The running config still delivers.
	mustBroadcast(t, testKey, `{"stream":"kept","data":"after"}`)
	if ev := c.mustNext(); ev.Data != "after" {
		t.Fatalf("after the rejected reload: %+v", ev)
	}
}

// failingApp is a Caddy app that refuses to start: a config holding it is
// rejected after every module was provisioned, and after some apps (in
// Caddy's map order: sometimes this module's) started.
type failingApp struct{}

func init() { caddy.RegisterModule(failingApp{}) }

func (failingApp) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "lifecycle_fail_app", New: func() caddy.Module { return new(failingApp) }}
}
func (failingApp) Start() error { return errors.New("lifecycle_fail_app: refused on purpose") }
func (failingApp) Stop() error  { return nil }

// TestReloadRejectedAtStartKeepsSettings: a reload that changes
// history_limit and is rejected because another app fails to start leaves
// the running config's limit in the shared engine, whether or not the
// anycable_sse app had started before the failing one (Caddy starts apps in
// map order, so the reload is tried several times), and the running config
// goes on delivering.
func TestReloadRejectedAtStartKeepsSettings(t *testing.T) {
	loadCaddy(t, historySite) // history_limit 5
	for i := 0; i < 6; i++ {
		cf := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n\tgrace_period 1s\n}\nhttp://127.0.0.1:%d {\n%s\n}\n",
			testPort, strings.Replace(historySite, "history_limit 5", "history_limit 2", 1))
		adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(adapted, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg["apps"].(map[string]any)["lifecycle_fail_app"] = map[string]any{}
		raw, _ := json.Marshal(cfg)
		if err := caddy.Load(raw, false); err == nil || !strings.Contains(err.Error(), "refused on purpose") {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	waitListening(t)
	stream := fmt.Sprintf("kept-limit-%d", time.Now().UnixNano())
	first := lastID(t, stream) // offset 1
	publishN(t, stream, 2, 6)
	// With the running limit (5) offsets 2..6 are kept: resuming from 1
	// replays them; with the rejected config's limit (2) it would be a
	// reject_history.
	c := resumeWith(t, stream, first)
	if ev := c.mustNext(); ev.Data != `{"n":2}` {
		t.Fatalf("resume after the rejected reloads: %+v (the rejected history_limit 2 applies)", ev)
	}
}

// TestFileBrokerProvisionTakesNoLock: Provision of a file broker checks the
// path without opening the store: a path that is a file, or under one, is
// refused; a good path is neither created nor locked (another opener gets
// the store while the handler is provisioned, as a running Caddy holds it
// while `caddy validate` runs).
func TestFileBrokerProvisionTakesNoLock(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{file, filepath.Join(file, "store")} {
		h := &Handler{Broker: &BrokerConfig{Type: "file", Path: bad}}
		err := h.Provision(provisionContext(t))
		if err == nil || !strings.Contains(err.Error(), "is not a directory") {
			t.Errorf("path %s: %v", bad, err)
		}
		_ = h.Cleanup()
	}

	store := filepath.Join(dir, "data", "store")
	h := &Handler{Broker: &BrokerConfig{Type: "file", Path: store}}
	if err := h.Provision(provisionContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	if _, err := os.Stat(filepath.Dir(store)); !os.IsNotExist(err) {
		t.Fatalf("Provision created the store's directory: %v", err)
	}
	fb, err := pubsub.NewFileBroker(pubsub.FileOptions{Path: store, LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("the store is locked by a provisioned handler: %v", err)
	}
	fb.Close()
}
