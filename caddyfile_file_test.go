package anycablesse

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

func TestCaddyfileBrokerFile(t *testing.T) {
	for _, c := range []struct {
		input string
		want  BrokerConfig
	}{
		{"anycable_sse {\n\tbroker file\n}", BrokerConfig{Type: "file"}},
		{"anycable_sse {\n\tbroker file /var/lib/sse {\n\t\tprefix site1\n\t\tsync_interval 100ms\n\t}\n}",
			BrokerConfig{Type: "file", Path: "/var/lib/sse", Prefix: "site1", SyncInterval: caddy.Duration(100 * time.Millisecond)}},
		{"anycable_sse {\n\tbroker file {\n\t\tsync_interval 0\n\t}\n}", BrokerConfig{Type: "file"}},
	} {
		h, err := parse(t, c.input)
		if err != nil {
			t.Fatalf("%q: %v", c.input, err)
		}
		if *h.Broker != c.want {
			t.Errorf("%q: broker %+v, want %+v", c.input, *h.Broker, c.want)
		}
	}
	for _, c := range []struct{ input, want string }{
		{"anycable_sse {\n\tbroker file a b\n}", `broker file: unexpected "b"`},
		{"anycable_sse {\n\tbroker file {\n\t\tsync_intervl 1s\n\t}\n}", `broker file: unrecognized option "sync_intervl" (known: prefix, sync_interval), at Testfile:3`},
		{"anycable_sse {\n\tbroker file {\n\t\tsync_interval soon\n\t}\n}", `sync_interval: invalid duration "soon"`}, {"anycable_sse {\n\tbroker file {\n\t\tsync_interval soon\n\t}\n}", "at Testfile:3"},
		{"anycable_sse {\n\tbroker file {\n\t\tsync_interval -1s\n\t}\n}", `sync_interval: must be positive, got "-1s", at Testfile:3`},
		{"anycable_sse {\n\tbroker file {\n\t\tprefix ../etc\n\t}\n}", `broker file: prefix "../etc": must be a plain name (it names the store's directory), at Testfile:3`},
		{"anycable_sse {\n\tbroker file {\n\t\tprefix\n\t}\n}", "wrong argument count"},
		{"anycable_sse {\n\tbroker flie\n}", `unknown broker "flie" (known: memory, file, redis), at Testfile:2`},
	} {
		_, err := parse(t, c.input)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.input, err, c.want)
		}
	}
	// Through the adapter, the error names the user's file and line.
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\tanycable_sse {\n\t\tbroker file {\n\t\t\tsync_interval x\n\t\t}\n\t}\n}\n"), map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), "Caddyfile:4") {
		t.Fatalf("adapt error: %v", err)
	}
}

func TestFileBrokerDefaultPath(t *testing.T) {
	b := &BrokerConfig{Type: "file"}
	p, err := b.filePath()
	if want := filepath.Join(caddy.AppDataDir(), "anycable_sse", "acs"); err != nil || p != want {
		t.Fatalf("default path %q %v, want %q", p, err, want)
	}
	b.Prefix = "site2"
	if p, _ := b.filePath(); p != filepath.Join(caddy.AppDataDir(), "anycable_sse", "site2") {
		t.Fatalf("path with a prefix: %q", p)
	}
	b.Path = "rel/store"
	if p, _ := b.filePath(); !filepath.IsAbs(p) || !strings.HasSuffix(p, "rel/store") {
		t.Fatalf("explicit relative path: %q", p)
	}
	t.Setenv("SSE_STORE_TEST", "/srv/sse")
	if p, _ := (&BrokerConfig{Type: "file", Path: "{env.SSE_STORE_TEST}/x"}).filePath(); p != "/srv/sse/x" {
		t.Fatalf("path with a placeholder: %q", p)
	}
	// A path that resolves to nothing is not the working directory.
	if p, err := (&BrokerConfig{Type: "file", Path: "{env.SSE_STORE_UNSET_TEST}"}).filePath(); err == nil || !strings.Contains(err.Error(), "resolves to nothing") {
		t.Fatalf("empty resolved path: %q %v", p, err)
	}
	if (&BrokerConfig{Type: "file", Prefix: "a"}).engineKey("") == (&BrokerConfig{Type: "file", Prefix: "b"}).engineKey("") {
		t.Fatal("two prefixes share an engine")
	}
}
