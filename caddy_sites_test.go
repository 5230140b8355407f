package anycablesse

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Two site blocks on one port (hosts 127.0.0.1 and localhost), each with
// its own broadcast key. broker is an extra line for both handlers.
func loadTwoSites(t *testing.T, broker string) {
	t.Helper()
	cf := func(port int) string {
		site := func(host, key string) string {
			return fmt.Sprintf("http://%s:%d {\n\tanycable_sse {\n\t\tpublic_streams\n\t\tbroadcast_key %s\n\t\t%s\n\t}\n}\n", host, port, key, broker)
		}
		return "{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n\tgrace_period 1s\n}\n" +
			site("127.0.0.1", "site-a-key") + site("localhost", "site-b-key")
	}
	if err := loadOnTestPort(cf); err != nil {
		t.Fatal(err)
	}
	waitListening(t)
}

// subscribeSite opens a public stream on the site named by host.
func subscribeSite(t *testing.T, host, query string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL()+"/events?"+query, nil)
	req.Host = fmt.Sprintf("%s:%d", host, testPort)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET %s /events?%s: status %d (%s)", host, query, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
	c := &sseClient{t: t, resp: resp, cancel: cancel, events: make(chan event, 100), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.Close)
	return c
}

// broadcastSite posts one broadcast to the site named by host.
func broadcastSite(t *testing.T, host, key, stream, data string) {
	t.Helper()
	body := fmt.Sprintf(`{"stream":%q,"data":%q}`, stream, data)
	req, _ := http.NewRequest(http.MethodPost, baseURL()+"/_broadcast", strings.NewReader(body))
	req.Host = fmt.Sprintf("%s:%d", host, testPort)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("broadcast to %s: status %d (%s)", host, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
}

// siteData is the next event carrying data (comments and control events
// skipped).
func siteData(c *sseClient) string {
	c.t.Helper()
	for {
		ev := c.mustNext()
		if strings.Contains(ev.Data, "from-") {
			return ev.Data
		}
	}
}

func TestSitesDoNotShareTheDefaultEngine(t *testing.T) {
	loadTwoSites(t, "")
	a := subscribeSite(t, "127.0.0.1", "stream=room")
	broadcastSite(t, "localhost", "site-b-key", "room", "from-b")
	// Site A's own broadcast is the barrier: had B's reached A, it would
	// come first.
	broadcastSite(t, "127.0.0.1", "site-a-key", "room", "from-a")
	if got := siteData(a); got != "from-a" {
		t.Fatalf("site A's subscriber got %q first: site B's broadcast reached it", got)
	}
}

func TestSitesShareAnExplicitPrefix(t *testing.T) {
	loadTwoSites(t, "broker memory prefix shared")
	a := subscribeSite(t, "127.0.0.1", "stream=room")
	broadcastSite(t, "localhost", "site-b-key", "room", "from-b")
	if got := siteData(a); got != "from-b" {
		t.Fatalf("site A's subscriber got %q, want site B's broadcast (same explicit prefix)", got)
	}
}

func TestSiteEngineSurvivesReload(t *testing.T) {
	loadTwoSites(t, "")
	since := time.Now().Unix() - 100
	broadcastSite(t, "127.0.0.1", "site-a-key", "kept", "from-a-before")
	loadTwoSites(t, "") // a reload of the same config
	a := subscribeSite(t, "127.0.0.1", fmt.Sprintf("stream=kept&history_since=%d", since))
	if got := siteData(a); got != "from-a-before" {
		t.Fatalf("after a reload site A's history gave %q", got)
	}
	b := subscribeSite(t, "localhost", fmt.Sprintf("stream=kept&history_since=%d", since))
	broadcastSite(t, "localhost", "site-b-key", "kept", "from-b")
	if got := siteData(b); got != "from-b" {
		t.Fatalf("site B's history holds site A's message: got %q", got)
	}
}
