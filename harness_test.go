package anycablesse

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// testPort is where the in-process Caddy listens; picked once per test
// binary, and again by loadOnTestPort if another process took it before
// Caddy bound it.
var testPort = freePort()

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func baseURL() string { return fmt.Sprintf("http://127.0.0.1:%d", testPort) }

// loadCaddy adapts a site block (the module's directive inside) and loads it
// into the in-process Caddy, replacing whatever config ran before: a second
// call is a reload. Configs are process-global, so these tests never run in
// parallel.
func loadCaddy(t testing.TB, site string) {
	t.Helper()
	loadCaddyWithGlobal(t, "", site)
}

func waitListening(t testing.TB) {
	// A reload shuts the old server down and with it the client's idle
	// keep-alive connections; never reuse one. A connection accepted by the
	// old server just before it stopped is reset, so wait until fresh
	// connections are answered several times in a row.
	http.DefaultClient.CloseIdleConnections()
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	ok := 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ok < 3 {
		resp, err := probe.Get(baseURL() + "/__harness_probe")
		if err == nil {
			resp.Body.Close()
			ok++
			continue
		}
		ok = 0
		time.Sleep(20 * time.Millisecond)
	}
	if ok < 3 {
		t.Fatal("caddy is not answering")
	}
}

// doRetry sends a request, again on a fresh connection when the transport
// fails before any response. Only a request that is safe to repeat (a GET:
// one more stream opened at worst) is sent again whatever the failure. Any
// other (a broadcast POST) is sent again only when the server cannot have
// served it: the dial failed, or the request went out on a kept-alive
// connection that the server closed as idle (a reload or shutdown closes
// idle connections; a Go server never drops one it has started reading a
// request from without answering). A fresh connection closed unanswered is
// not retried: the server may have read the broadcast and published it, and
// a second copy would be a duplicate that the test would blame on the
// module.
func doRetry(req *http.Request, body string) (*http.Response, error) {
	var err error
	reused := false
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			if !safeToResend(req.Method, reused, err) {
				return nil, err
			}
			http.DefaultClient.CloseIdleConnections()
			time.Sleep(50 * time.Millisecond)
			if body != "" {
				req.Body = io.NopCloser(strings.NewReader(body))
			}
		}
		reused = false
		trace := &httptrace.ClientTrace{GotConn: func(c httptrace.GotConnInfo) { reused = c.Reused }}
		var resp *http.Response
		resp, err = http.DefaultClient.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err == nil {
			return resp, nil
		}
		if req.Context().Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// safeToResend tells whether a request that failed with err may be sent
// again: a GET or HEAD always, anything else only if it never reached a
// server that could serve it (the dial failed, or a kept-alive connection
// was closed as idle).
func safeToResend(method string, reused bool, err error) bool {
	if method == http.MethodGet || method == http.MethodHead || reused {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// event is one parsed SSE event.
type event struct {
	Event, Data, ID, Retry string
	Comment                bool
}

// sseClient reads an event stream the way EventSource does (WHATWG rules:
// fields per line, data lines joined with LF, dispatch on a blank line).
type sseClient struct {
	t      testing.TB
	resp   *http.Response
	cancel context.CancelFunc
	events chan event
	raw    strings.Builder
	err    error
	mu     sync.Mutex
	done   chan struct{}
}

func openStream(t testing.TB, method, path string, body string, header http.Header) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := doRetry(req, body)
	if err != nil {
		cancel()
		t.Fatalf("%s %s: %v", method, path, err)
	}
	c := &sseClient{t: t, resp: resp, cancel: cancel, events: make(chan event, 10000), done: make(chan struct{})}
	if resp.StatusCode == http.StatusOK {
		go c.read()
	} else {
		close(c.events)
		close(c.done)
	}
	t.Cleanup(c.Close)
	return c
}

func subscribe(t testing.TB, query string) *sseClient {
	t.Helper()
	c := openStream(t, http.MethodGet, "/events?"+query, "", nil)
	if c.resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events?%s: status %d (%s)", query, c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	return c
}

func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.events)
	br := bufio.NewReader(c.resp.Body)
	var ev event
	var data []string
	has := false
	for {
		line, err := br.ReadString('\n')
		c.mu.Lock()
		c.raw.WriteString(line)
		if err != nil {
			c.err = err
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if has {
				ev.Data = strings.Join(data, "\n")
				c.events <- ev
			}
			ev, data, has = event{}, nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			c.events <- event{Comment: true, Data: strings.TrimPrefix(strings.TrimPrefix(line, ":"), " ")}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		has = true
		switch field {
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		case "id":
			ev.ID = value
		case "retry":
			ev.Retry = value
		}
	}
}

// readErr is how reading the stream ended ("" while it runs).
func (c *sseClient) readErr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return ""
	}
	return c.err.Error()
}

// Raw is every byte received so far.
func (c *sseClient) Raw() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw.String()
}

// next returns the next event that is not a ping or comment.
func (c *sseClient) next(timeout time.Duration) (event, bool) {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return event{}, false
			}
			if ev.Comment || ev.Event == "ping" {
				continue
			}
			return ev, true
		case <-deadline:
			return event{}, false
		}
	}
}

func (c *sseClient) mustNext() event {
	c.t.Helper()
	ev, ok := c.next(5 * time.Second)
	if !ok {
		c.t.Fatalf("no event within 5s; received so far:\n%s", c.Raw())
	}
	return ev
}

// expectMarkers is the "nothing else arrived" check without a sleep (a
// sleep proves nothing on a busy machine: the duplicate may come later).
// The test publishes markers (messages whose data is the marker) after the
// messages under test, one on each stream the client follows; a stream is
// delivered in order, so anything else (a duplicate, a message that should
// not have been delivered) arrives before its stream's marker. The next
// events must be exactly the markers, in any order across streams; they
// are returned as received.
func (c *sseClient) expectMarkers(markers ...string) []event {
	c.t.Helper()
	want := map[string]bool{}
	var got []event
	for _, m := range markers {
		want[m] = true
	}
	for range markers {
		ev := c.mustNext()
		data := ev.Data
		var wrapped struct { // a POST (multi-stream) event wraps the data
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(data), &wrapped) == nil && wrapped.Message != "" {
			data = wrapped.Message
		}
		if !want[data] {
			c.t.Fatalf("unexpected event before the markers %v: %+v", markers, ev)
		}
		delete(want, data)
		got = append(got, ev)
	}
	return got
}

var markerSeq atomic.Int64

// newMarker is a marker's data, unique in the test binary.
func newMarker() string { return fmt.Sprintf("marker-%d", markerSeq.Add(1)) }

// waitEnd waits until the server ends the response.
func (c *sseClient) waitEnd(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (c *sseClient) Close() {
	c.cancel()
	c.resp.Body.Close()
}

// broadcast posts a body to the broadcast endpoint and returns the status.
func broadcast(t testing.TB, key, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, baseURL()+"/_broadcast", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := doRetry(req, body)
	if err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	resp.Body.Close()
	return resp
}

func mustBroadcast(t testing.TB, key, body string) {
	t.Helper()
	if resp := broadcast(t, key, body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("broadcast %s: status %d (%s)", body, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
}

// loadCaddyWithGlobal is loadCaddy with extra global options.
func loadCaddyWithGlobal(t testing.TB, global, site string) {
	t.Helper()
	caddyfile := func(port int) string {
		return fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	grace_period 1s
	%s
}
http://127.0.0.1:%d {
%s
}
`, global, port, site)
	}
	if err := loadOnTestPort(caddyfile); err != nil {
		t.Fatal(err)
	}
	waitListening(t)
}

// loadOnTestPort adapts the Caddyfile that caddyfile writes for testPort
// and loads it. freePort releases the port it picks, so another process
// may bind it before Caddy does: then the load fails on the bind, and it
// is tried again on a fresh port. That can only happen before Caddy first
// listened (a reload keeps Caddy's listener), so no test holds the old
// port. Adapt and load errors are returned, wrapped.
func loadOnTestPort(caddyfile func(port int) string) error {
	for attempt := 0; ; attempt++ {
		cf := caddyfile(testPort)
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
		if err != nil {
			return fmt.Errorf("adapting Caddyfile: %w\n%s", err, cf)
		}
		err = caddy.Load(cfg, true)
		if err == nil || attempt == 4 || !strings.Contains(err.Error(), "address already in use") {
			if err != nil {
				return fmt.Errorf("loading config: %w", err)
			}
			return nil
		}
		testPort = freePort()
	}
}

func emptyKeySig(b64 string) string {
	m := hmac.New(sha256.New, nil)
	m.Write([]byte(b64))
	return hex.EncodeToString(m.Sum(nil))
}

func urlEncode(s string) string { return url.QueryEscape(s) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
