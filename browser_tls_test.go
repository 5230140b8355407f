package anycablesse

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOverHTTPS: the demo page served over https with `tls internal`
// (Chromium told to ignore the unknown CA, QUIC off): a real EventSource
// negotiates HTTP/2, receives live messages, and after a remote disconnect
// reconnects by itself over HTTP/2 with Last-Event-ID and resumes without
// loss or duplicate.
func TestBrowserOverHTTPS(t *testing.T) {
	if _, err := os.Stat(browserExecPath); err != nil {
		if os.Getenv(browserRequireEnv) == "1" {
			t.Fatalf("chromium not found at %s (%v), and %s=1: apt-get install chromium", browserExecPath, err, browserRequireEnv)
		}
		t.Skip("chromium not found: apt-get install chromium to run the browser test")
	}
	site, _ := demoSite(t)
	loadTLSCaddy(t, site)
	// The demo's /_broadcast takes loopback clients without a key.
	pub := newTLSSession(t, tlsProtocols[0])
	pub.key = ""

	b := startBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	tab := b.newTab(t)
	defer tab.close()
	if err := tab.run(10*time.Second, chromedp.Navigate(tlsURL("/"))); err != nil {
		t.Fatalf("navigating to %s: %v", tlsURL("/"), err)
	}
	tab.waitJS(t, "the page to connect", `window.demo && window.demo.state === 'connected' && window.demo.sid`, 5*time.Second)
	if p := browserEval[string](t, tab, `location.protocol`); p != "https:" {
		t.Fatalf("page loaded over %q", p)
	}

	var want []string
	for n := 1; n <= 3; n++ {
		text := fmt.Sprintf("over h2 %d", n)
		pub.broadcast(demoBroadcast("demo", text))
		want = append(want, text)
	}
	before := tab.waitMessages(t, &want, func(b string) { pub.broadcast(b) })
	tab.checkMessages(t, before, want)
	reqs := tab.eventRequests()
	if len(reqs) != 1 || reqs[0].Status != http.StatusOK || reqs[0].Protocol != "h2" {
		t.Fatalf("/events requests %+v, want one answered 200 over h2", reqs)
	}

	// A remote disconnect; three messages while the page is away.
	pub.broadcast(demoDisconnect(before.Sid))
	tab.waitJS(t, "EventSource to notice", `window.demo.state === 'reconnecting'`, 3*time.Second)
	for n := 1; n <= 3; n++ {
		text := fmt.Sprintf("missed over h2 %d", n)
		pub.broadcast(demoBroadcast("demo", text))
		want = append(want, text)
	}
	if s := browserEval[string](t, tab, `window.demo.state`); s != "reconnecting" {
		t.Fatalf("the page came back (%q) before the missed messages were published: the test proves nothing", s)
	}
	tab.waitJS(t, "EventSource to reconnect and resume", `window.demo.state === 'resumed'`, 10*time.Second)
	pub.broadcast(demoBroadcast("demo", "after the resume"))
	want = append(want, "after the resume")
	st := tab.waitMessages(t, &want, func(b string) { pub.broadcast(b) })
	tab.checkMessages(t, st, want)
	checkReplayed(t, st, map[int]bool{4: true, 5: true, 6: true}) // after 3 messages and a marker

	again := tab.eventRequests()[1:]
	if len(again) != 1 || again[0].LastEventID != before.LastEventID || again[0].Status != http.StatusOK || again[0].Protocol != "h2" {
		t.Errorf("reconnect requests %+v, want one over h2 with Last-Event-ID %q answered 200", again, before.LastEventID)
	}
	tab.checkNoExceptions(t)
}
