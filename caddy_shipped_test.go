package anycablesse

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// shippedCaddyfile is what a shipped Caddyfile documents: the broadcast key
// and streams secret it uses when the environment sets nothing, and the
// variables that replace them.
type shippedCaddyfile struct {
	path                  string
	key                   string // "" = no key: loopback clients only
	secret                string
	keyEnv, secretEnv     string // "" = not taken from the environment
	welcomePath, demoPage string
}

var shippedCaddyfiles = []shippedCaddyfile{
	{path: "example.Caddyfile", key: "local-dev-key", secret: "local-dev-secret",
		keyEnv: "ANYCABLE_BROADCAST_KEY", secretEnv: "ANYCABLE_STREAMS_SECRET"},
	{path: "examples/demo/Caddyfile", key: "", secret: "demo-streams-secret",
		keyEnv: "ANYCABLE_BROADCAST_KEY"},
}

// TestShippedCaddyfiles loads every Caddyfile in the repository as shipped
// (only the listener and admin endpoint are moved to private ones), with
// and without the environment variables they document, and checks what
// they promise: a stream signed with the documented secret subscribes, the
// documented broadcast key is in force (a wrong key is refused, from
// loopback too), and the environment variables take effect.
func TestShippedCaddyfiles(t *testing.T) {
	known := map[string]bool{}
	for _, sc := range shippedCaddyfiles {
		known[sc.path] = true
	}
	_ = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || (d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && (d.Name() == "Caddyfile" || strings.HasSuffix(d.Name(), ".Caddyfile")) && !known[filepath.ToSlash(p)] {
			t.Errorf("%s is shipped but not checked here: add it to shippedCaddyfiles", p)
		}
		return nil
	})

	for _, sc := range shippedCaddyfiles {
		t.Run(sc.path+"/defaults", func(t *testing.T) {
			unsetEnv(t, "ANYCABLE_BROADCAST_KEY", "ANYCABLE_STREAMS_SECRET")
			loadShipped(t, sc.path)
			checkShipped(t, sc.key, sc.secret, "wrong-key", "wrong-secret")
		})
		if sc.keyEnv == "" && sc.secretEnv == "" {
			continue
		}
		t.Run(sc.path+"/environment", func(t *testing.T) {
			unsetEnv(t, "ANYCABLE_BROADCAST_KEY", "ANYCABLE_STREAMS_SECRET")
			key, secret := sc.key, sc.secret
			if sc.keyEnv != "" {
				key = "key-from-env"
				t.Setenv(sc.keyEnv, key)
			}
			if sc.secretEnv != "" {
				secret = "secret-from-env"
				t.Setenv(sc.secretEnv, secret)
			}
			loadShipped(t, sc.path)
			// The documented defaults no longer work: the variables won.
			wrongKey, wrongSecret := sc.key, sc.secret
			if sc.key == "" {
				wrongKey = "wrong-key"
			}
			if sc.secretEnv == "" {
				wrongSecret = "wrong-secret"
			}
			checkShipped(t, key, secret, wrongKey, wrongSecret)
		})
	}
	// A variable set to nothing is a configuration error, not "no key".
	t.Run("empty variable", func(t *testing.T) {
		t.Setenv("ANYCABLE_BROADCAST_KEY", "")
		raw, err := os.ReadFile("example.Caddyfile")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": "example.Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), "broadcast_key: no value") || !strings.Contains(err.Error(), "example.Caddyfile:") {
			t.Fatalf("ANYCABLE_BROADCAST_KEY set to nothing: %v", err)
		}
	})
}

func unsetEnv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "") // restores the old value after the test
		os.Unsetenv(n)
	}
}

// loadShipped adapts a shipped Caddyfile unchanged and loads it with its
// servers on the test port, the admin endpoint off and a short grace
// period (tests must not bind well-known ports or wait for streams).
func loadShipped(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": path})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, w := range warnings {
		t.Logf("%s: adapt warning: %s", path, w.Message)
	}
	var cfg map[string]any
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["admin"] = map[string]any{"disabled": true}
	httpApp := cfg["apps"].(map[string]any)["http"].(map[string]any)
	httpApp["grace_period"] = "1s"
	delete(httpApp, "http_port")
	for _, srv := range httpApp["servers"].(map[string]any) {
		srv.(map[string]any)["listen"] = []string{fmt.Sprintf("127.0.0.1:%d", testPort)}
	}
	out, _ := json.Marshal(cfg)
	if err := caddy.Load(out, true); err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	waitListening(t)
}

// checkShipped checks the running config against the key and secret it
// should use, and that the wrong ones are refused.
func checkShipped(t *testing.T, key, secret, wrongKey, wrongSecret string) {
	t.Helper()
	stream := "proof_" + strings.ReplaceAll(t.Name(), "/", "_")
	signed := protocol.SignStream([]byte(secret), stream)
	c := subscribe(t, "signed_stream="+urlEncode(signed))
	if ev := c.mustNext(); ev.Event != "welcome" {
		t.Fatalf("welcome: %+v", ev)
	}
	if ev := c.mustNext(); ev.Event != "confirm_subscription" {
		t.Fatalf("signed with %q: %+v", secret, ev)
	}
	bad := openStream(t, http.MethodGet, "/events?signed_stream="+urlEncode(protocol.SignStream([]byte(wrongSecret), stream)), "", nil)
	if bad.resp.StatusCode != http.StatusBadRequest {
		t.Errorf("signed with %q: %d, want 400", wrongSecret, bad.resp.StatusCode)
	}
	body := `{"stream":"` + stream + `","data":"\"hello\""}`
	// From loopback, as these tests are: a wrong key is refused whenever a
	// key is in force; without one, loopback clients may publish.
	if r := broadcast(t, wrongKey, body); r.StatusCode != http.StatusUnauthorized && key != "" {
		t.Errorf("broadcast with %q: %d, want 401", wrongKey, r.StatusCode)
	}
	if key != "" {
		if r := broadcast(t, "", body); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("broadcast without a key from loopback: %d, want 401", r.StatusCode)
		}
	}
	mustBroadcast(t, key, body)
	if ev := c.mustNext(); ev.Data != "hello" {
		t.Fatalf("after broadcasting with %q: %+v", key, ev)
	}
	c.Close()
}
