package anycablesse

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserServerRestartFileBroker: the demo page's EventSource across a
// restart of the Caddy process with `broker file`. The page is kicked out,
// three messages are published while it is away, the process is stopped
// (SIGTERM) and started again on the same port; EventSource reconnects by
// itself with its Last-Event-ID and gets the three messages, marked
// replayed, then live ones. With `broker memory` the same steps end in
// reject_history.
func TestBrowserServerRestartFileBroker(t *testing.T) {
	if _, err := os.Stat(browserExecPath); err != nil {
		if os.Getenv(browserRequireEnv) == "1" {
			t.Fatalf("chromium not found at %s (%v), and %s=1", browserExecPath, err, browserRequireEnv)
		}
		t.Skip("chromium not found: apt-get install chromium to run the browser test")
	}
	site, _ := demoSite(t)
	root, err := filepath.Abs("examples/demo")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	site = strings.Replace(site, "root * examples/demo", "root * "+root, 1)
	site = strings.Replace(site, "anycable_sse {", "anycable_sse {\n\t\tbroker file "+filepath.Join(dir, "store"), 1)
	if !strings.Contains(site, "broker file") || !strings.Contains(site, root) {
		t.Fatalf("cannot adapt the demo site block:\n%s", site)
	}
	n := mustStartFileNode(t, dir, site)
	b := startBrowser(t)
	tab := b.newTab(t)
	defer tab.close()
	if err := tab.run(10*time.Second, chromedp.Navigate(n.url("/"))); err != nil {
		t.Fatal(err)
	}
	tab.waitJS(t, "the page to connect", `window.demo && window.demo.state === 'connected' && window.demo.sid`, 10*time.Second)

	var want []string
	for i := 1; i <= 2; i++ {
		text := fmt.Sprintf("before the restart %d", i)
		n.broadcast(t, demoBroadcast("demo", text))
		want = append(want, text)
	}
	before := tab.waitMessages(t, &want, func(b string) { n.broadcast(t, b) })
	n.broadcast(t, demoDisconnect(before.Sid))
	tab.waitJS(t, "EventSource to notice", `window.demo.state === 'reconnecting'`, 5*time.Second)
	for i := 1; i <= 3; i++ {
		text := fmt.Sprintf("missed across the restart %d", i)
		if st := n.broadcast(t, demoBroadcast("demo", text)); st != 201 {
			t.Fatalf("broadcast: %d", st)
		}
		want = append(want, text)
	}
	n.stop(t, "sigterm")
	n2, out := startFileNodeOn(t, dir, site, n.port)
	if n2 == nil {
		t.Fatalf("restart on port %d:\n%s", n.port, out)
	}
	tab.waitJS(t, "EventSource to reconnect and resume", `window.demo.state === 'resumed'`, 30*time.Second)
	n2.broadcast(t, demoBroadcast("demo", "after the restart"))
	want = append(want, "after the restart")
	st := tab.waitMessages(t, &want, func(b string) { n2.broadcast(t, b) })
	tab.checkMessages(t, st, want)
	checkReplayed(t, st, map[int]bool{3: true, 4: true, 5: true}) // after 2 messages and a marker
	if idEpoch(t, st.LastEventID) != idEpoch(t, before.LastEventID) {
		t.Errorf("epoch changed across the restart: %q -> %q", before.LastEventID, st.LastEventID)
	}
	for _, e := range st.Events {
		if strings.Contains(e.Type, "reject") {
			t.Errorf("history rejected: %+v", e)
		}
	}
	tab.checkNoExceptions(t)
}
