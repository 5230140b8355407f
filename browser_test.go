package anycablesse

// The browser test: Debian's headless Chromium, driven with chromedp, opens
// the demo pages (examples/demo) served by the in-process Caddy with the
// demo's own site block, and checks what a real EventSource and a real Turbo
// do with this module's streams.
//
// It needs /usr/bin/chromium (apt-get install chromium). Without it the test
// skips, unless ANYCABLE_SSE_REQUIRE_BROWSER=1 (CI), which makes it fail.
// UPDATE_SCREENSHOT=1 also writes examples/demo/screenshot.png; every run
// writes testdata/artifacts/demo.png and turbo.png.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

const (
	browserExecPath      = "/usr/bin/chromium"
	browserRequireEnv    = "ANYCABLE_SSE_REQUIRE_BROWSER"
	browserScreenshotEnv = "UPDATE_SCREENSHOT"
	demoCaddyfile        = "examples/demo/Caddyfile"
	demoTurboPage        = "examples/demo/turbo.html"
	browserArtifacts     = "testdata/artifacts"
)

func TestBrowser(t *testing.T) {
	if _, err := os.Stat(browserExecPath); err != nil {
		if os.Getenv(browserRequireEnv) == "1" {
			t.Fatalf("chromium not found at %s (%v), and %s=1: apt-get install chromium", browserExecPath, err, browserRequireEnv)
		}
		t.Skip("chromium not found: apt-get install chromium to run the browser test")
	}
	began := time.Now()
	defer func() { t.Logf("TestBrowser took %v", time.Since(began).Round(time.Millisecond)) }()

	site, secret := demoSite(t)
	loadCaddy(t, site)
	b := startBrowser(t)

	// One tab on the demo page for the first three subtests: they follow one
	// EventSource through two server-side disconnects and a reload.
	demo := b.newTab(t)
	demo.navigate(t, "/")
	demo.waitJS(t, "the page to connect", `window.demo && window.demo.state === 'connected' && window.demo.sid`, 5*time.Second)

	var want []string          // every message text the page must show, in order, once
	replayed := map[int]bool{} // the indexes in want that a resume replays
	step := func(name string, f func(t *testing.T)) {
		if t.Failed() {
			t.Logf("skipping %s: an earlier step failed", name)
			return
		}
		start := time.Now()
		t.Run(name, f)
		t.Logf("%s took %v", name, time.Since(start).Round(time.Millisecond))
	}

	step("BroadcastsArriveInOrder", func(t *testing.T) {
		for n := 1; n <= 4; n++ {
			text := fmt.Sprintf("live message %d", n)
			mustBroadcast(t, "", demoBroadcast("demo", text))
			want = append(want, text)
		}
		// The page's own form publishes through /_broadcast with fetch.
		const typed = "typed into the page's form"
		if err := demo.run(5*time.Second, chromedp.Steps(
			chromedp.SendKeys(chromedp.CSS("#text"), typed),
			chromedp.Click(chromedp.CSS("#publish button")),
		)); err != nil {
			t.Fatalf("publishing with the form: %v", err)
		}
		want = append(want, typed)
		// The form's POST races the test's marker: wait for the message
		// first, so that the marker comes after it.
		demo.waitJS(t, "the form's message", `[...document.querySelectorAll('#messages li .text')].some(e => e.textContent === "`+typed+`")`, 5*time.Second)
		st := demo.waitMessages(t, &want, publishDemo(t))
		demo.checkMessages(t, st, want)
		checkReplayed(t, st, replayed)
		// What the page renders, not only what it keeps.
		shown := browserEval[[]string](t, demo, `[...document.querySelectorAll('#messages li .text')].map(e => e.textContent)`)
		if strings.Join(shown, "\n") != strings.Join(want, "\n") {
			t.Errorf("rendered list %q, want %q", shown, want)
		}
		if st.State != "connected" || st.LastEventID != st.Messages[len(st.Messages)-1].ID {
			t.Errorf("state %q, last event id %q (last message %q)", st.State, st.LastEventID, st.Messages[len(st.Messages)-1].ID)
		}
	})

	step("ResumeAfterRemoteDisconnect", func(t *testing.T) {
		before := demo.state(t)
		lastID := before.LastEventID
		requests := len(demo.eventRequests())

		// The server ends the connection: a remote disconnect for the
		// connection identifiers, which are {"sid":"<sid>"} without rpc_url.
		mustBroadcast(t, "", demoDisconnect(before.Sid))
		demo.waitJS(t, "EventSource to notice", `window.demo.state === 'reconnecting'`, 3*time.Second)

		// Published while the browser is away.
		for n := 1; n <= 3; n++ {
			text := fmt.Sprintf("missed message %d", n)
			mustBroadcast(t, "", demoBroadcast("demo", text))
			want = append(want, text)
		}
		if s := browserEval[string](t, demo, `window.demo.state`); s != "reconnecting" {
			t.Fatalf("the page came back (%q) before the missed messages were published: the test proves nothing", s)
		}

		demo.waitJS(t, "EventSource to reconnect and resume", `window.demo.state === 'resumed'`, 10*time.Second)
		mustBroadcast(t, "", demoBroadcast("demo", "after the resume"))
		want = append(want, "after the resume")
		st := demo.waitMessages(t, &want, publishDemo(t))
		demo.checkMessages(t, st, want)
		for i := len(before.Messages); i < len(before.Messages)+3; i++ {
			replayed[i] = true
		}
		checkReplayed(t, st, replayed)

		if !st.hasEvent("disconnect", "reason remote, reconnect true") {
			t.Errorf("no disconnect event with reason remote and reconnect true: %+v", st.Events)
		}
		if st.Sid == before.Sid || st.Opens != before.Opens+1 {
			t.Errorf("expected one new connection: sid %q -> %q, opens %d -> %d", before.Sid, st.Sid, before.Opens, st.Opens)
		}
		// EventSource reconnected by itself, once, with the last id it saw.
		again := demo.eventRequests()[requests:]
		if len(again) != 1 || again[0].LastEventID != lastID || again[0].Status != http.StatusOK {
			t.Errorf("reconnect requests %+v, want one with Last-Event-ID %q answered 200", again, lastID)
		}
	})

	step("ResumeAcrossReload", func(t *testing.T) {
		before := demo.state(t)
		epoch := idEpoch(t, before.LastEventID)

		// caddy reload with a changed setting while the page is open.
		reloaded := strings.Replace(site, "anycable_sse {", "anycable_sse {\n\t\tping_interval 1s", 1)
		if reloaded == site {
			t.Fatal("cannot find 'anycable_sse {' in the demo site block")
		}
		loadCaddy(t, reloaded)
		// The old server's grace period (1s in loadCaddy) ends with every
		// connection it still holds closed, unless the module keeps streams
		// apart from it: wait past it.
		time.Sleep(1500 * time.Millisecond)

		// The open stream survived the reload: same connection, still live.
		mustBroadcast(t, "", demoBroadcast("demo", "after the reload"))
		want = append(want, "after the reload")
		st := demo.waitMessages(t, &want, publishDemo(t))
		if st.Sid != before.Sid || st.Errors != before.Errors {
			t.Fatalf("the reload ended the page's stream: sid %q -> %q, errors %d -> %d", before.Sid, st.Sid, before.Errors, st.Errors)
		}
		if got := idEpoch(t, st.LastEventID); got != epoch {
			t.Fatalf("epoch changed across the reload: %q -> %q", epoch, got)
		}

		// The demo's own button: a remote disconnect sent from the page, which
		// then publishes three messages while it is away.
		if !browserEval[bool](t, demo, `document.getElementById('publish-while-away').checked`) {
			t.Fatal("the 'publish while away' box should start checked")
		}
		requests := len(demo.eventRequests())
		lastID := st.LastEventID
		if err := demo.run(5*time.Second, chromedp.Click(chromedp.CSS("#kick"))); err != nil {
			t.Fatalf("clicking the disconnect button: %v", err)
		}
		demo.waitJS(t, "the page to go away and resume",
			fmt.Sprintf(`window.demo.errors > %d && window.demo.state === 'resumed' && window.demo.messages.length >= %d`, st.Errors, len(want)+3), 10*time.Second)
		st = demo.state(t)
		for n := 1; n <= 3; n++ {
			prefix := fmt.Sprintf("published while away #%d ", n)
			if i := len(want); i < len(st.Messages) && strings.HasPrefix(st.Messages[i].Text, prefix) {
				want = append(want, st.Messages[i].Text)
			} else {
				want = append(want, prefix+"(...)")
			}
		}
		demo.checkMessages(t, st, want)
		for i := len(want) - 3; i < len(want); i++ {
			replayed[i] = true
		}
		checkReplayed(t, st, replayed)
		again := demo.eventRequests()[requests:]
		if len(again) != 1 || again[0].LastEventID != lastID || again[0].Status != http.StatusOK {
			t.Errorf("reconnect requests %+v, want one with Last-Event-ID %q answered 200", again, lastID)
		}
		if got := idEpoch(t, st.LastEventID); got != epoch {
			t.Errorf("epoch changed: %q -> %q", epoch, got)
		}

		// The new connection is served by the reloaded configuration: two
		// pings within 3s happen with ping_interval 1s, never with the
		// default 3s (first ping after 1.5s-4.5s, then every 3s).
		pings := st.Pings
		demo.waitJS(t, "pings at the reloaded interval", fmt.Sprintf(`window.demo.pings >= %d`, pings+2), 3*time.Second)

		png := demo.screenshot(t)
		writeArtifact(t, "demo.png", png)
		if os.Getenv(browserScreenshotEnv) == "1" {
			if err := os.WriteFile("examples/demo/screenshot.png", png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Log("wrote examples/demo/screenshot.png")
		}
	})
	demo.checkNoExceptions(t)
	demo.close()

	step("TurboStreamSource", func(t *testing.T) {
		// The signed name in turbo.html is the Caddyfile's secret's.
		page, err := os.ReadFile(demoTurboPage)
		if err != nil {
			t.Fatal(err)
		}
		signed := protocol.SignStream([]byte(secret), "demo_turbo")
		src := `src="/events?turbo_signed_stream_name=` + signed + `"`
		if !bytes.Contains(page, []byte(src)) {
			t.Fatalf("%s lacks %s: re-sign demo_turbo with the Caddyfile's streams_secret", demoTurboPage, src)
		}

		tab := b.newTab(t)
		defer tab.close()
		tab.navigate(t, "/turbo.html")
		// Once the EventSource is open the subscription is in place: the
		// module joins the stream before it sends the 200.
		tab.waitJS(t, "Turbo's EventSource to open",
			`(s => s && s.streamSource && s.streamSource.readyState === 1)(document.querySelector('turbo-stream-source'))`, 5*time.Second)

		html := `<turbo-stream action="append" target="messages"><template><p id="from-go">Appended by Turbo from a broadcast</p></template></turbo-stream>`
		data, _ := json.Marshal(html)
		body, _ := json.Marshal(map[string]string{"stream": "demo_turbo", "data": string(data)})
		mustBroadcast(t, "", string(body))
		tab.waitJS(t, "Turbo to append the broadcast",
			`(p => p && p.textContent === 'Appended by Turbo from a broadcast')(document.querySelector('#messages #from-go'))`, 5*time.Second)

		// The page's form: the text is escaped into the <turbo-stream> HTML.
		const typed = `<b>not bold</b> & "quoted"`
		if err := tab.run(5*time.Second, chromedp.Steps(
			chromedp.SendKeys(chromedp.CSS("#text"), typed),
			chromedp.Click(chromedp.CSS("#publish button")),
		)); err != nil {
			t.Fatalf("publishing with the form: %v", err)
		}
		tab.waitJS(t, "the form's message", `document.querySelectorAll('#messages p').length === 2`, 5*time.Second)
		texts := browserEval[[]string](t, tab, `[...document.querySelectorAll('#messages p')].map(p => p.textContent)`)
		if len(texts) != 2 || texts[1] != typed || browserEval[int](t, tab, `document.querySelectorAll('#messages b').length`) != 0 {
			t.Errorf("turbo messages %q: the typed text should appear once, literally", texts)
		}
		// The page polls the EventSource's state every 250 ms.
		tab.waitJS(t, "the page to show connected", `document.getElementById('state').textContent === 'connected'`, 2*time.Second)
		writeArtifact(t, "turbo.png", tab.screenshot(t))
		tab.checkNoExceptions(t)
	})

	step("NoCredentialsIsFatal", func(t *testing.T) {
		app := newFakeApp(t, func(method string, _ map[string]any, _ *http.Request) (int, string) {
			if method == "connect" {
				return http.StatusOK, `{"status":2}`
			}
			return http.StatusOK, `{"status":0}`
		})
		loadCaddy(t, fmt.Sprintf(`
	root * testdata/browser
	anycable_sse {
		rpc_url %s
	}
	file_server`, app.URL))

		tab := b.newTab(t)
		defer tab.close()
		tab.navigate(t, "/secret.html")
		tab.waitJS(t, "EventSource to give up", `window.secret && window.secret.source.readyState === EventSource.CLOSED`, 5*time.Second)
		// Whatever could still arrive has time to.
		time.Sleep(300 * time.Millisecond)
		var got struct {
			Opens, Errors int
			Events        []json.RawMessage
			ReadyStates   []int
			State         int
		}
		raw := browserEval[string](t, tab, `JSON.stringify({opens: secret.opens, errors: secret.errors, events: secret.events, readyStates: secret.readyStates, state: secret.source.readyState})`)
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatal(err)
		}
		if got.Opens != 0 || len(got.Events) != 0 || got.Errors != 1 || got.State != 2 || len(got.ReadyStates) != 1 || got.ReadyStates[0] != 2 {
			t.Errorf("page without credentials: %s; want no open, no event, one error in state CLOSED", raw)
		}
		reqs := tab.eventRequests()
		if len(reqs) != 1 || reqs[0].Status != http.StatusUnauthorized {
			t.Errorf("/events requests %+v, want one answered 401", reqs)
		}
		if m := app.methods(); len(m) != 1 || m[0] != "connect" {
			t.Errorf("app calls %v, want one connect (EventSource must not retry a 401)", m)
		}
		tab.checkNoExceptions(t)
	})
}

// demoSite is the site block of the demo's Caddyfile (between ":8080 {" and
// its closing brace) and its streams_secret. Its root is relative to the
// repository root, which is the test's working directory too.
func demoSite(t *testing.T) (site, secret string) {
	t.Helper()
	raw, err := os.ReadFile(demoCaddyfile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	start, end := -1, -1
	for i, l := range lines {
		switch {
		case start < 0 && strings.TrimSpace(l) == ":8080 {":
			start = i
		case start >= 0 && l == "}":
			end = i
		}
	}
	if start < 0 || end < 0 {
		t.Fatalf("%s: no ':8080 {' ... '}' site block", demoCaddyfile)
	}
	site = strings.Join(lines[start+1:end], "\n")
	m := regexp.MustCompile(`(?m)^\s*streams_secrets?\s+(\S+)\s*$`).FindStringSubmatch(site)
	if m == nil {
		t.Fatalf("%s: no streams_secret in the site block", demoCaddyfile)
	}
	return site, m[1]
}

// publishDemo publishes through the in-process Caddy's keyless (loopback)
// broadcast endpoint.
func publishDemo(t *testing.T) func(body string) {
	return func(body string) { mustBroadcast(t, "", body) }
}

func demoBroadcast(stream, text string) string {
	data, _ := json.Marshal(map[string]string{"text": text})
	body, _ := json.Marshal(map[string]string{"stream": stream, "data": string(data)})
	return string(body)
}

func demoDisconnect(sid string) string {
	ids, _ := json.Marshal(map[string]string{"sid": sid})
	body, _ := json.Marshal(map[string]any{
		"command": "disconnect",
		"payload": map[string]any{"identifier": string(ids), "reconnect": true},
	})
	return string(body)
}

// idEpoch is the epoch of an "<offset>/<epoch>/<stream>" event id.
func idEpoch(t *testing.T, id string) string {
	t.Helper()
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		t.Fatalf("event id %q is not <offset>/<epoch>/<stream>", id)
	}
	return parts[1]
}

func writeArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(browserArtifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(browserArtifacts, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(data))
}

// demoPageState is window.demo of examples/demo/app.js.
type demoPageState struct {
	State       string `json:"state"`
	Sid         string `json:"sid"`
	LastEventID string `json:"lastEventId"`
	Opens       int    `json:"opens"`
	Errors      int    `json:"errors"`
	Pings       int    `json:"pings"`
	Messages    []struct {
		Text     string `json:"text"`
		ID       string `json:"id"`
		Replayed bool   `json:"replayed"`
	} `json:"messages"`
	Events []struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	} `json:"events"`
}

func (s *demoPageState) hasEvent(typ, detail string) bool {
	for _, e := range s.Events {
		if e.Type == typ && e.Detail == detail {
			return true
		}
	}
	return false
}

// checkReplayed: the messages at these indexes arrived in the history burst
// of a reconnect (between the open and confirm_history), the rest live.
func checkReplayed(t *testing.T, st *demoPageState, replayed map[int]bool) {
	t.Helper()
	for i, m := range st.Messages {
		if want := replayed[i]; m.Replayed != want {
			t.Errorf("message %d %q: replayed %v, want %v", i, m.Text, m.Replayed, want)
		}
	}
}

// browser is one headless Chromium for the whole test.
type browser struct {
	ctx     context.Context
	dataDir string
	output  *browserOutput
}

type browserOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *browserOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *browserOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.buf.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// startBrowser starts Chromium with the common flags and any extra ones.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	dataDir := t.TempDir() // removed after the cleanup below has ended Chromium
	out := &browserOutput{}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browserExecPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(dataDir),
		chromedp.WindowSize(1200, 900),
		chromedp.CombinedOutput(out),
	}, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx, dataDir: dataDir, output: out}
	t.Cleanup(func() {
		// Close gracefully, then make sure nothing of this Chromium is left.
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_ = chromedp.Cancel(cctx)
		ccancel()
		cancel()
		cancelAlloc()
		if left := b.processes(3 * time.Second); len(left) > 0 {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("chromium processes left behind (killed): %v", left)
		}
	})

	// Start the browser. The first Run must not carry a timeout (it would
	// stop the browser when it ends), so bound it from outside.
	started := make(chan error, 1)
	begin := time.Now()
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v\n%s", browserExecPath, err, out)
		}
	case <-time.After(20 * time.Second):
		cancelAlloc()
		t.Fatalf("%s did not start within 20s\n%s", browserExecPath, out)
	}
	t.Logf("chromium started in %v", time.Since(begin).Round(time.Millisecond))
	return b
}

// processes waits up to d for every process that runs with this browser's
// user data directory to exit, and returns those still running.
func (b *browser) processes(d time.Duration) []int {
	want := []byte("--user-data-dir=" + b.dataDir)
	deadline := time.Now().Add(d)
	for {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for _, arg := range bytes.Split(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					pids = append(pids, pid)
					break
				}
			}
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browserTab is one tab, with what it saw on the network and its uncaught
// exceptions.
type browserTab struct {
	b      *browser
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	requests   []*browserRequest
	byID       map[network.RequestID]*browserRequest
	extra      map[network.RequestID]network.Headers // ExtraInfo can come first
	exceptions []string
}

// browserRequest is one request to the SSE endpoint, as the browser sent it.
type browserRequest struct {
	URL         string
	LastEventID string
	Status      int64
	Protocol    string // as the browser negotiated it: "http/1.1", "h2", "h3"
}

func (b *browser) newTab(t *testing.T) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tab := &browserTab{b: b, ctx: ctx, cancel: cancel,
		byID: map[network.RequestID]*browserRequest{}, extra: map[network.RequestID]network.Headers{}}
	if err := chromedp.Listen(ctx, tab.observe); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v\n%s", err, b.output)
	}
	return tab
}

func (tab *browserTab) observe(ev any) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if !strings.Contains(ev.Request.URL, "/events") {
			return
		}
		r := &browserRequest{URL: ev.Request.URL, LastEventID: headerValue(ev.Request.Headers, "Last-Event-ID")}
		if r.LastEventID == "" {
			r.LastEventID = headerValue(tab.extra[ev.RequestID], "Last-Event-ID")
		}
		tab.requests = append(tab.requests, r)
		tab.byID[ev.RequestID] = r
	case *network.EventRequestWillBeSentExtraInfo:
		// The headers as sent on the wire; this event may come before or
		// after requestWillBeSent.
		if r := tab.byID[ev.RequestID]; r != nil {
			if r.LastEventID == "" {
				r.LastEventID = headerValue(ev.Headers, "Last-Event-ID")
			}
		} else {
			tab.extra[ev.RequestID] = ev.Headers
		}
	case *network.EventResponseReceived:
		if r := tab.byID[ev.RequestID]; r != nil {
			r.Status = ev.Response.Status
			r.Protocol = ev.Response.Protocol
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		tab.exceptions = append(tab.exceptions, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
	}
}

func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

func (tab *browserTab) eventRequests() []browserRequest {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	out := make([]browserRequest, len(tab.requests))
	for i, r := range tab.requests {
		out[i] = *r
	}
	return out
}

func (tab *browserTab) checkNoExceptions(t *testing.T) {
	t.Helper()
	tab.mu.Lock()
	defer tab.mu.Unlock()
	for _, e := range tab.exceptions {
		t.Errorf("uncaught exception in the page: %s", e)
	}
}

func (tab *browserTab) close() {
	ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
	defer cancel()
	_ = chromedp.Cancel(ctx)
	tab.cancel()
}

// run runs an action on the tab, bounded by d.
func (tab *browserTab) run(d time.Duration, a chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab.ctx, d)
	defer cancel()
	_, err := chromedp.Run(ctx, a)
	return err
}

func (tab *browserTab) navigate(t *testing.T, path string) {
	t.Helper()
	if err := tab.run(10*time.Second, chromedp.Navigate(baseURL()+path)); err != nil {
		t.Fatalf("navigating to %s: %v", path, err)
	}
}

// browserEval evaluates a JavaScript expression in the tab (5s at most).
func browserEval[T any](t *testing.T, tab *browserTab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the expression is truthy, at most d.
func (tab *browserTab) waitJS(t *testing.T, what, expr string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, d+2*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		t.Fatalf("waiting %v for %s (%s): %v\n%s", d, what, expr, err, tab.dump())
	}
}

// dump is what the page knows, for failure messages.
func (tab *browserTab) dump() string {
	ctx, cancel := context.WithTimeout(tab.ctx, 2*time.Second)
	defer cancel()
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({demo: window.demo, secret: window.secret && {opens: secret.opens, errors: secret.errors, events: secret.events}, text: document.body && document.body.innerText.slice(0, 2000)})`))
	if err != nil {
		page = "(page state unavailable: " + err.Error() + ")"
	}
	tab.mu.Lock()
	var reqs []string
	for _, r := range tab.requests {
		reqs = append(reqs, fmt.Sprintf("%+v", *r))
	}
	exc := strings.Join(tab.exceptions, "\n")
	tab.mu.Unlock()
	return fmt.Sprintf("page: %s\n/events requests: %s\nexceptions: %s", page, strings.Join(reqs, ", "), exc)
}

func (tab *browserTab) state(t *testing.T) *demoPageState {
	t.Helper()
	raw := browserEval[string](t, tab, `JSON.stringify(window.demo)`)
	st := new(demoPageState)
	if err := json.Unmarshal([]byte(raw), st); err != nil {
		t.Fatalf("window.demo: %v: %s", err, raw)
	}
	return st
}

// waitMessages publishes a marker message on the demo stream (through
// publish, a broadcast body), appends it to *want, waits until the page
// shows it (5s) and returns the page's state. The stream is delivered in
// order, so a duplicate of an earlier message shows before the marker
// (waiting a little longer proves nothing on a busy machine).
func (tab *browserTab) waitMessages(t *testing.T, want *[]string, publish func(body string)) *demoPageState {
	t.Helper()
	marker := newMarker()
	publish(demoBroadcast("demo", marker))
	*want = append(*want, marker)
	tab.waitJS(t, "the marker message", fmt.Sprintf(`window.demo.messages.some(m => m.text === %q)`, marker), 5*time.Second)
	return tab.state(t)
}

// checkMessages: the page shows exactly want, in order, each once, with ids
// whose offsets go up by one in one epoch. A want entry ending in "(...)"
// matches by prefix.
func (tab *browserTab) checkMessages(t *testing.T, st *demoPageState, want []string) {
	t.Helper()
	var got []string
	for _, m := range st.Messages {
		got = append(got, m.Text)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		if p, prefix := strings.CutSuffix(want[i], "(...)"); prefix {
			ok = strings.HasPrefix(got[i], p)
		} else {
			ok = got[i] == want[i]
		}
	}
	if !ok {
		t.Fatalf("messages on the page:\n  %s\nwant, in this order, each once:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	var first uint64
	var epoch string
	for i, m := range st.Messages {
		parts := strings.SplitN(m.ID, "/", 3)
		off, err := strconv.ParseUint(parts[0], 10, 64)
		if len(parts) != 3 || err != nil || parts[2] != "demo" {
			t.Fatalf("message %d id %q is not <offset>/<epoch>/demo", i, m.ID)
		}
		if i == 0 {
			first, epoch = off, parts[1]
		}
		if off != first+uint64(i) || parts[1] != epoch {
			t.Fatalf("message %d id %q: want offset %d in epoch %s (ids must go up by one)", i, m.ID, first+uint64(i), epoch)
		}
	}
}

// screenshot is a PNG of the whole page.
func (tab *browserTab) screenshot(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		// Some versions hand back base64.
		if dec, err := base64.StdEncoding.DecodeString(string(png)); err == nil {
			png = dec
		}
	}
	return png
}
