package rpc

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rpcCaptured is one request as the stub app saw it.
type rpcCaptured struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   string
}

// rpcStub is an httptest app that records requests and answers with a
// handler-chosen reply.
type rpcStub struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []rpcCaptured
}

func newRPCStub(t testing.TB, reply func(w http.ResponseWriter, r *http.Request)) *rpcStub {
	t.Helper()
	s := &rpcStub{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, rpcCaptured{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		s.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rpcStub) requests() []rpcCaptured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rpcCaptured(nil), s.reqs...)
}

func rpcReplyJSON(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func rpcReplyStatus(code int, ctype, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func newTestRPCClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func rpcKind(t *testing.T, err error, want string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error of kind %s, got nil", want)
	}
	var rerr *Error
	if !errors.As(err, &rerr) {
		t.Fatalf("want *Error, got %T: %v", err, err)
	}
	if rerr.Kind != want {
		t.Fatalf("kind = %q, want %q (%v)", rerr.Kind, want, err)
	}
	return rerr
}

// The env of spec §6.3's captured requests.
const rpcSpecURL = "http://127.0.0.1:18080/events?identifier=%7B%22channel%22%3A%22ChatChannel%22%2C%22room%22%3A1%7D&foo=bar"

func rpcSpecHeaders() map[string]string {
	return map[string]string{"REMOTE_ADDR": "127.0.0.1", "cookie": "session=abc; other=1"}
}

func rpcCheckHeaders(t *testing.T, h http.Header, secret, sid string) {
	t.Helper()
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := h.Get("X-Anycable-Meta-Protov"); got != "v1" {
		t.Errorf("X-Anycable-Meta-Protov = %q", got)
	}
	if got := h.Get("X-Anycable-Meta-Sid"); got != sid {
		t.Errorf("X-Anycable-Meta-Sid = %q, want %q", got, sid)
	}
	if secret == "" {
		if v, ok := h["Authorization"]; ok {
			t.Errorf("Authorization sent without a secret: %q", v)
		}
	} else if got := h.Get("Authorization"); got != "Bearer "+secret {
		t.Errorf("Authorization = %q, want Bearer %s", got, secret)
	}
}

func TestRPCConnectWire(t *testing.T) {
	stub := newRPCStub(t, rpcReplyJSON(`{"status":1,"identifiers":"{\"user_id\":42}","transmissions":["{\"type\":\"welcome\"}"],"env":{"cstate":{"user":"u42"}}}`))
	// The secret derived from "s3cr3t" in spec §6.2; a query on the mount URL is kept.
	const secret = "4b7da2749fe2a4534cec0d2acbd16277a800cf2acd31158ac4edae4a62a8f18d"
	c := newTestRPCClient(t, Config{URL: stub.URL + "/_anycable?tenant=a", Secret: secret})

	res, err := c.Connect(context.Background(), "sid-1", &ConnectRequest{Env: Env{URL: rpcSpecURL, Headers: rpcSpecHeaders()}})
	if err != nil {
		t.Fatal(err)
	}
	reqs := stub.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/_anycable/connect" || r.Query != "tenant=a" {
		t.Errorf("request line = %s %s?%s", r.Method, r.Path, r.Query)
	}
	rpcCheckHeaders(t, r.Header, secret, "sid-1")
	want := `{"env":{"url":"` + rpcSpecURL + `","headers":{"REMOTE_ADDR":"127.0.0.1","cookie":"session=abc; other=1"}}}`
	if r.Body != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	if res.Status != StatusSuccess || res.Identifiers != `{"user_id":42}` ||
		len(res.Transmissions) != 1 || res.Transmissions[0] != `{"type":"welcome"}` ||
		res.Env == nil || res.Env.CState["user"] != "u42" {
		t.Errorf("response = %+v", res)
	}
}

func TestRPCCommandWire(t *testing.T) {
	stub := newRPCStub(t, rpcReplyJSON(`{"status":1,"streams":["chat_a","chat_b"],"stopped_streams":["old"],"stop_streams":true,"disconnect":true,
		"transmissions":["{\"type\":\"confirm_subscription\"}"],"env":{"cstate":{"k":""},"istate":{"room":"1"}},"presence":{"type":"join","id":"1"},"stopStreams":false}`))
	c := newTestRPCClient(t, Config{URL: stub.URL + "/_anycable/"})

	id := `{"channel":"ChatChannel","room":1}`
	res, err := c.Command(context.Background(), "sid-2", &CommandRequest{
		Command: "subscribe", Identifier: id, ConnectionIdentifiers: `{"user_id":42}`,
		Env: Env{URL: rpcSpecURL, Headers: rpcSpecHeaders(), CState: map[string]string{"user": "u42"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// message with data, no connection identifiers, no headers
	if _, err := c.Command(context.Background(), "sid-2", &CommandRequest{
		Command: "message", Identifier: id, Data: `{"action":"speak"}`, Env: Env{URL: "http://x/"},
	}); err != nil {
		t.Fatal(err)
	}
	reqs := stub.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if reqs[0].Path != "/_anycable/command" || reqs[0].Query != "" {
		t.Errorf("path = %s?%s", reqs[0].Path, reqs[0].Query)
	}
	rpcCheckHeaders(t, reqs[0].Header, "", "sid-2")
	want := `{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","connection_identifiers":"{\"user_id\":42}",` +
		`"env":{"url":"` + rpcSpecURL + `","headers":{"REMOTE_ADDR":"127.0.0.1","cookie":"session=abc; other=1"},"cstate":{"user":"u42"}}}`
	if reqs[0].Body != want {
		t.Errorf("subscribe body\n got %s\nwant %s", reqs[0].Body, want)
	}
	want = `{"command":"message","identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","data":"{\"action\":\"speak\"}","env":{"url":"http://x/"}}`
	if reqs[1].Body != want {
		t.Errorf("message body\n got %s\nwant %s", reqs[1].Body, want)
	}

	if res.Status != StatusSuccess || !res.Disconnect || !res.StopStreams ||
		strings.Join(res.Streams, ",") != "chat_a,chat_b" || strings.Join(res.StoppedStreams, ",") != "old" ||
		len(res.Transmissions) != 1 || res.Env == nil || res.Env.IState["room"] != "1" {
		t.Errorf("response = %+v", res)
	}
	if v, ok := res.Env.CState["k"]; !ok || v != "" {
		t.Errorf("cstate deletion marker lost: %v", res.Env.CState)
	}
}

func TestRPCDisconnectWire(t *testing.T) {
	stub := newRPCStub(t, rpcReplyJSON(`{"status":1}`))
	c := newTestRPCClient(t, Config{URL: stub.URL + "/_anycable"})

	id := `{"channel":"ChatChannel","room":1}`
	res, err := c.Disconnect(context.Background(), "sid-3", &DisconnectRequest{
		Identifiers: `{"user_id":42}`, Subscriptions: []string{id},
		Env: Env{URL: rpcSpecURL, Headers: rpcSpecHeaders(), CState: map[string]string{"user": "u42"}, IState: map[string]string{id: `{"room":"1"}`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusSuccess {
		t.Errorf("status = %d", res.Status)
	}
	req := &DisconnectRequest{Env: Env{URL: "http://x/"}}
	if _, err := c.Disconnect(context.Background(), "sid-3", req); err != nil {
		t.Fatal(err)
	}
	if req.Subscriptions != nil {
		t.Error("Disconnect modified the caller's request")
	}
	reqs := stub.requests()
	if reqs[0].Path != "/_anycable/disconnect" {
		t.Errorf("path = %s", reqs[0].Path)
	}
	rpcCheckHeaders(t, reqs[0].Header, "", "sid-3")
	want := `{"identifiers":"{\"user_id\":42}","subscriptions":["{\"channel\":\"ChatChannel\",\"room\":1}"],` +
		`"env":{"url":"` + rpcSpecURL + `","headers":{"REMOTE_ADDR":"127.0.0.1","cookie":"session=abc; other=1"},` +
		`"cstate":{"user":"u42"},"istate":{"{\"channel\":\"ChatChannel\",\"room\":1}":"{\"room\":\"1\"}"}}}`
	if reqs[0].Body != want {
		t.Errorf("body\n got %s\nwant %s", reqs[0].Body, want)
	}
	if want := `{"identifiers":"","subscriptions":[],"env":{"url":"http://x/"}}`; reqs[1].Body != want {
		t.Errorf("empty disconnect body\n got %s\nwant %s", reqs[1].Body, want)
	}
}

func TestRPCNewClientValidation(t *testing.T) {
	for _, u := range []string{"", "localhost:50051", "127.0.0.1:50051", "grpc://h:1", "ftp://h/", "http://", "https:///x", "/_anycable", "http:opaque", "http://h/\x00"} {
		if _, err := NewClient(Config{URL: u}); err == nil {
			t.Errorf("NewClient(%q) = nil error", u)
		}
	}
	if _, err := NewClient(Config{URL: "http://h/", Secret: "a\r\nX-Evil: 1"}); err == nil {
		t.Error("secret with CRLF accepted")
	}
	for _, tc := range []struct{ base, want string }{
		{"http://h:3000/_anycable", "http://h:3000/_anycable/connect"},
		{"HTTPS://h/_anycable/", "https://h/_anycable/connect"},
		{"http://h", "http://h/connect"},
		{"http://h/a/b?x=1&y=2#frag", "http://h/a/b/connect?x=1&y=2"},
	} {
		c, err := NewClient(Config{URL: tc.base})
		if err != nil {
			t.Errorf("NewClient(%q): %v", tc.base, err)
			continue
		}
		if c.connectURL != tc.want {
			t.Errorf("%q → %q, want %q", tc.base, c.connectURL, tc.want)
		}
		if c.timeout != 3*time.Second || cap(c.sem) != 28 {
			t.Errorf("defaults: timeout %v, concurrency %d", c.timeout, cap(c.sem))
		}
	}
}

func TestRPCDecodeStatuses(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		errMsg     string
	}{
		{"success", `{"status":1,"identifiers":"x"}`, StatusSuccess, ""},
		{"failure", `{"status":2,"transmissions":["{\"type\":\"disconnect\",\"reason\":\"unauthorized\",\"reconnect\":false}"]}`, StatusFailure, ""},
		{"error", `{"status":0,"error_msg":"boom"}`, StatusError, "boom"},
		{"empty object is error", `{}`, StatusError, ""},
		{"unknown keys and nulls", `{"status":1,"transmissions":null,"env":null,"extra":{"a":[1]}}`, StatusSuccess, ""},
		{"camelCase ignored", `{"status":0,"errorMsg":"x"}`, StatusError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := newRPCStub(t, rpcReplyJSON(tc.body))
			c := newTestRPCClient(t, Config{URL: stub.URL})
			res, err := c.Connect(context.Background(), "s", &ConnectRequest{Env: Env{URL: "http://x/"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.ErrorMsg != tc.errMsg {
				t.Errorf("got status %d error_msg %q", res.Status, res.ErrorMsg)
			}
		})
	}
}

func TestRPCErrorResponses(t *testing.T) {
	html := "<!DOCTYPE html><html><body>" + strings.Repeat("x", 2000) + "</body></html>"
	for _, tc := range []struct {
		name     string
		reply    func(http.ResponseWriter, *http.Request)
		kind     string
		status   int
		contains []string
	}{
		{"string status", rpcReplyJSON(`{"status":"SUCCESS"}`), KindDecode, 0, []string{"connect", "SUCCESS"}},
		{"fractional status", rpcReplyJSON(`{"status":1.5}`), KindDecode, 0, nil},
		{"html 200", rpcReplyStatus(200, "text/html", html), KindDecode, 0, []string{"<!DOCTYPE html>"}},
		{"empty 200", rpcReplyStatus(200, "application/json", ""), KindDecode, 0, nil},
		{"trailing garbage", rpcReplyJSON(`{"status":1} x`), KindDecode, 0, nil},
		{"500", rpcReplyStatus(500, "text/plain", "Internal failure: NoMethodError"), KindHTTPStatus, 500, []string{"HTTP 500", "unknown", "NoMethodError"}},
		{"401", rpcReplyStatus(401, "text/plain", "bad token"), KindHTTPStatus, 401, []string{"unauthenticated", "bad token"}},
		{"422", rpcReplyStatus(422, "application/json", `{"error":"invalid"}`), KindHTTPStatus, 422, []string{"invalid argument", `\"invalid\"`}},
		{"400", rpcReplyStatus(400, "text/plain", "nope"), KindHTTPStatus, 400, []string{"invalid argument"}},
		{"404 html", rpcReplyStatus(404, "text/html", html), KindHTTPStatus, 404, []string{"unknown", "<!DOCTYPE html>"}},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere/_anycable/connect", http.StatusFound)
		}, KindHTTPStatus, 302, []string{"redirect", "elsewhere"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := newRPCStub(t, tc.reply)
			c := newTestRPCClient(t, Config{URL: stub.URL + "/_anycable"})
			res, err := c.Connect(context.Background(), "s", &ConnectRequest{Env: Env{URL: "http://x/"}})
			if res != nil {
				t.Errorf("response with an error: %+v", res)
			}
			rerr := rpcKind(t, err, tc.kind)
			if rerr.Status != tc.status {
				t.Errorf("Status = %d, want %d", rerr.Status, tc.status)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if len(err.Error()) > 800 {
				t.Errorf("error text not truncated: %d bytes", len(err.Error()))
			}
			if n := len(stub.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry after a response)", n)
			}
		})
	}
}

// rpcFreeAddr returns an address nothing listens on.
func rpcFreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// rpcCountingTransport counts round trips.
type rpcCountingTransport struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (c *rpcCountingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

func TestRPCAppDownRetriesUntilTimeout(t *testing.T) {
	ct := &rpcCountingTransport{rt: &http.Transport{}}
	// Attempts at 0, 100, 300, 700 and 1500 ms; the next (3100 ms) is past the
	// timeout, so the call ends at the timeout with 5 attempts, as AnyCable's
	// 5 attempts in 3.02 s with the 3 s default.
	timeout := 1600 * time.Millisecond
	c := newTestRPCClient(t, Config{URL: "http://" + rpcFreeAddr(t) + "/_anycable", Timeout: timeout, Transport: ct})

	start := time.Now()
	_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
	elapsed := time.Since(start)
	rerr := rpcKind(t, err, KindUnavailable)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error does not unwrap to ECONNREFUSED: %v", err)
	}
	if !strings.Contains(rerr.Msg, "attempt 5") {
		t.Errorf("msg %q does not name the last attempt", rerr.Msg)
	}
	if n := ct.n.Load(); n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
	if elapsed < timeout-50*time.Millisecond || elapsed > timeout+500*time.Millisecond {
		t.Errorf("returned after %v, want ≈%v", elapsed, timeout)
	}
}

func TestRPCSlowAppTimesOut(t *testing.T) {
	seenCancel := make(chan struct{}, 1)
	stub := newRPCStub(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			seenCancel <- struct{}{}
		case <-time.After(5 * time.Second):
			_, _ = io.WriteString(w, `{"status":1}`)
		}
	})
	timeout := 300 * time.Millisecond
	c := newTestRPCClient(t, Config{URL: stub.URL, Timeout: timeout})

	start := time.Now()
	_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
	elapsed := time.Since(start)
	rpcKind(t, err, KindTimeout)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not unwrap to DeadlineExceeded: %v", err)
	}
	if elapsed < timeout || elapsed > timeout+400*time.Millisecond {
		t.Errorf("returned after %v, want ≈%v", elapsed, timeout)
	}
	select {
	case <-seenCancel:
	case <-time.After(2 * time.Second):
		t.Error("the app's request context was not cancelled at the timeout")
	}
	if n := len(stub.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (no retry after a timeout)", n)
	}
}

func TestRPCCancelledContextAbortsCall(t *testing.T) {
	arrived := make(chan struct{})
	seenCancel := make(chan struct{})
	stub := newRPCStub(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(seenCancel)
		case <-time.After(5 * time.Second):
		}
	})
	c := newTestRPCClient(t, Config{URL: stub.URL, Timeout: 10 * time.Second})

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Connect(ctx, "s", &ConnectRequest{})
		errc <- err
	}()
	<-arrived
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("returned %v after cancel", d)
		}
		rpcKind(t, err, KindCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error does not unwrap to context.Canceled: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("call did not return after cancel")
	}
	select {
	case <-seenCancel:
	case <-time.After(2 * time.Second):
		t.Fatal("the app did not see its request context cancelled")
	}
	if n := len(stub.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	// Already cancelled: no request at all.
	if _, err := c.Disconnect(ctx, "s", &DisconnectRequest{}); err == nil {
		t.Fatal("call with a cancelled context succeeded")
	} else {
		rpcKind(t, err, KindCanceled)
	}
	if n := len(stub.requests()); n != 1 {
		t.Errorf("%d requests after a pre-cancelled call, want 1", n)
	}
}

func TestRPCCancelDuringRetryBackoff(t *testing.T) {
	ct := &rpcCountingTransport{rt: &http.Transport{}}
	c := newTestRPCClient(t, Config{URL: "http://" + rpcFreeAddr(t), Timeout: 5 * time.Second, Transport: ct})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel) // during the 200 ms backoff after attempt 2
	start := time.Now()
	_, err := c.Command(ctx, "s", &CommandRequest{Command: "subscribe"})
	rpcKind(t, err, KindCanceled)
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("returned after %v", d)
	}
	if n := ct.n.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestRPCConcurrencyLimit(t *testing.T) {
	var inFlight, maxInFlight atomic.Int64
	release := make(chan struct{})
	stub := newRPCStub(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		_, _ = io.WriteString(w, `{"status":1}`)
	})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the stub's Close, even when the test fails early
	const limit = 2
	c := newTestRPCClient(t, Config{URL: stub.URL, Concurrency: limit, Timeout: 10 * time.Second})

	var wg sync.WaitGroup
	errs := make(chan error, limit+2)
	call := func(ctx context.Context) {
		defer wg.Done()
		_, err := c.Connect(ctx, "s", &ConnectRequest{})
		errs <- err
	}
	for range limit {
		wg.Add(1)
		go call(context.Background())
	}
	rpcEventually(t, "limit calls in flight", func() bool { return inFlight.Load() == limit })

	wg.Add(1)
	go call(context.Background()) // the (limit+1)th waits
	rpcEventually(t, "Pending() == 1", func() bool { return c.Pending() == 1 })

	// A waiting call whose client leaves gives up its place.
	ctx, cancel := context.WithCancel(context.Background())
	wg.Add(1)
	go call(ctx)
	rpcEventually(t, "Pending() == 2", func() bool { return c.Pending() == 2 })
	cancel()
	rpcEventually(t, "Pending() back to 1", func() bool { return c.Pending() == 1 })
	if err := <-errs; err == nil {
		t.Fatal("cancelled waiting call succeeded")
	} else {
		rpcKind(t, err, KindCanceled)
	}

	time.Sleep(50 * time.Millisecond)
	if n := inFlight.Load(); n != limit {
		t.Fatalf("%d in flight, want %d", n, limit)
	}
	unblock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if m := maxInFlight.Load(); m != limit {
		t.Errorf("max in flight %d, want %d", m, limit)
	}
	if p := c.Pending(); p != 0 {
		t.Errorf("Pending() = %d after all calls", p)
	}
	if n := len(stub.requests()); n != limit+1 {
		t.Errorf("%d requests, want %d", n, limit+1)
	}
}

func rpcEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRPCInvalidSid(t *testing.T) {
	stub := newRPCStub(t, rpcReplyJSON(`{"status":1}`))
	c := newTestRPCClient(t, Config{URL: stub.URL})
	_, err := c.Connect(context.Background(), "a\nb", &ConnectRequest{})
	rpcKind(t, err, KindInvalidRequest)
	_, err = c.Connect(context.Background(), "s", nil)
	rpcKind(t, err, KindInvalidRequest)
	if n := len(stub.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	// An empty sid is sent without the header.
	if _, err := c.Connect(context.Background(), "", &ConnectRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := stub.requests()[0].Header["X-Anycable-Meta-Sid"]; ok {
		t.Error("empty sid header sent")
	}
}

func TestRPCKeepAlive(t *testing.T) {
	var conns atomic.Int64
	stub := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":1}`)
	}))
	stub.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	stub.Start()
	defer stub.Close()
	c := newTestRPCClient(t, Config{URL: stub.URL})
	for range 20 {
		if _, err := c.Connect(context.Background(), "s", &ConnectRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 20 sequential calls, want 1", n)
	}
}

func BenchmarkRPCConnectRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":1,"identifiers":"{\"user_id\":42}","transmissions":["{\"type\":\"welcome\"}"],"env":{"cstate":{"user":"u42"}}}`)
	}))
	defer srv.Close()
	c, err := NewClient(Config{URL: srv.URL + "/_anycable", Secret: "secret"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	req := &ConnectRequest{Env: Env{URL: rpcSpecURL, Headers: rpcSpecHeaders()}}
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Connect(context.Background(), "sid", req)
		if err != nil || res.Status != StatusSuccess {
			b.Fatal(res, err)
		}
	}
}

// A call waits for a concurrency slot at most QueueTimeout: callers behind
// an app that stopped answering do not pile up without limit.
func TestRPCQueueWaitIsCapped(t *testing.T) {
	release := make(chan struct{})
	stub := newRPCStub(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, `{"status":1}`)
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	c := newTestRPCClient(t, Config{URL: stub.URL, Concurrency: 1, Timeout: time.Minute, QueueTimeout: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
		done <- err
	}()
	rpcEventually(t, "the first call holds the slot", func() bool { return len(stub.requests()) == 1 })
	_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
	rpcKind(t, err, KindQueueTimeout)
	if !Unavailable(err) {
		t.Errorf("a queue timeout must count as the app being unavailable: %v", err)
	}
	if p := c.Pending(); p != 0 {
		t.Errorf("Pending() = %d after the capped wait", p)
	}
	unblock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRPCUnavailableClassifies(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&Error{Kind: KindUnavailable}, true},
		{&Error{Kind: KindTimeout}, true},
		{&Error{Kind: KindBreakerOpen}, true},
		{&Error{Kind: KindQueueTimeout}, true},
		{&Error{Kind: KindHTTPStatus, Status: 502}, true},
		{&Error{Kind: KindHTTPStatus, Status: 401}, false},
		{&Error{Kind: KindDecode}, false},
		{&Error{Kind: KindCanceled}, false},
		{errors.New("other"), false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}
