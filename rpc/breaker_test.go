package rpc

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type rpcFakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newRPCFakeClock() *rpcFakeClock {
	return &rpcFakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *rpcFakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *rpcFakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// record admits one attempt and reports its outcome.
func rpcRecord(t *testing.T, b *rpcBreaker, o rpcOutcome) {
	t.Helper()
	done, ok := b.allow()
	if !ok {
		t.Fatalf("attempt refused in state %v", b.State())
	}
	done(o)
}

func rpcWantState(t *testing.T, b *rpcBreaker, want rpcBreakerState) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state = %v, want %v", got, want)
	}
}

func TestBreakerTripsAtThreshold(t *testing.T) {
	clk := newRPCFakeClock()
	b := newRPCBreaker(clk.Now)
	for range 9 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	rpcWantState(t, b, rpcBreakerClosed) // 9 < 10 requests
	rpcRecord(t, b, rpcOutcomeFailure)
	rpcWantState(t, b, rpcBreakerOpen)
	if _, ok := b.allow(); ok {
		t.Fatal("open breaker admitted an attempt")
	}
	if b.ready() {
		t.Fatal("open breaker ready")
	}

	// 80% exactly trips; 70% does not.
	b = newRPCBreaker(clk.Now)
	rpcRecord(t, b, rpcOutcomeSuccess)
	rpcRecord(t, b, rpcOutcomeSuccess)
	for range 7 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	rpcWantState(t, b, rpcBreakerClosed)
	rpcRecord(t, b, rpcOutcomeFailure) // 8 of 10
	rpcWantState(t, b, rpcBreakerOpen)

	b = newRPCBreaker(clk.Now)
	for range 3 {
		rpcRecord(t, b, rpcOutcomeSuccess)
	}
	for range 7 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	rpcWantState(t, b, rpcBreakerClosed) // 7 of 10
	for range 4 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	rpcWantState(t, b, rpcBreakerClosed) // 11 of 14 = 78.6%
	rpcRecord(t, b, rpcOutcomeFailure)
	rpcWantState(t, b, rpcBreakerOpen) // 12 of 15 = 80%
}

func TestBreakerRollingWindow(t *testing.T) {
	clk := newRPCFakeClock()
	b := newRPCBreaker(clk.Now)
	for range 9 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	clk.Advance(10 * time.Second) // those nine leave the window
	rpcRecord(t, b, rpcOutcomeFailure)
	rpcWantState(t, b, rpcBreakerClosed)

	b = newRPCBreaker(clk.Now)
	for range 5 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	clk.Advance(9 * time.Second) // still inside the window
	for range 4 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	rpcWantState(t, b, rpcBreakerClosed)
	rpcRecord(t, b, rpcOutcomeFailure)
	rpcWantState(t, b, rpcBreakerOpen)
}

func TestBreakerHalfOpenAfterFiveSeconds(t *testing.T) {
	clk := newRPCFakeClock()
	b := newRPCBreaker(clk.Now)
	for range 10 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	rpcWantState(t, b, rpcBreakerOpen)
	clk.Advance(4999 * time.Millisecond)
	rpcWantState(t, b, rpcBreakerOpen)
	clk.Advance(time.Millisecond)
	rpcWantState(t, b, rpcBreakerHalfOpen)

	// Up to five trials at once.
	var trials []func(rpcOutcome)
	for range 5 {
		done, ok := b.allow()
		if !ok {
			t.Fatal("half-open refused a trial")
		}
		trials = append(trials, done)
	}
	if _, ok := b.allow(); ok {
		t.Fatal("sixth concurrent trial admitted")
	}
	if b.ready() {
		t.Fatal("ready with all trial slots taken")
	}
	trials[0](rpcOutcomeNeutral) // a cancelled trial frees its slot
	done, ok := b.allow()
	if !ok {
		t.Fatal("freed trial slot not reusable")
	}
	trials[0] = done

	trials[1](rpcOutcomeSuccess)
	rpcWantState(t, b, rpcBreakerClosed)
	// Trials of the half-open generation reporting late change nothing.
	trials[2](rpcOutcomeFailure)
	rpcWantState(t, b, rpcBreakerClosed)
	for range 50 {
		rpcRecord(t, b, rpcOutcomeSuccess)
	}
	rpcWantState(t, b, rpcBreakerClosed)
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	clk := newRPCFakeClock()
	b := newRPCBreaker(clk.Now)
	for range 10 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	clk.Advance(5 * time.Second)
	rpcWantState(t, b, rpcBreakerHalfOpen)
	rpcRecord(t, b, rpcOutcomeFailure)
	rpcWantState(t, b, rpcBreakerOpen)
	clk.Advance(4 * time.Second)
	rpcWantState(t, b, rpcBreakerOpen) // a fresh 5 s
	clk.Advance(time.Second)
	rpcWantState(t, b, rpcBreakerHalfOpen)
}

func TestBreakerNeutralAndStragglers(t *testing.T) {
	clk := newRPCFakeClock()
	b := newRPCBreaker(clk.Now)
	for range 100 {
		rpcRecord(t, b, rpcOutcomeNeutral)
	}
	for range 9 {
		rpcRecord(t, b, rpcOutcomeFailure)
	}
	rpcWantState(t, b, rpcBreakerClosed) // neutral outcomes are not requests

	straggler, _ := b.allow()
	rpcRecord(t, b, rpcOutcomeFailure)
	rpcWantState(t, b, rpcBreakerOpen)
	clk.Advance(5 * time.Second)
	rpcWantState(t, b, rpcBreakerHalfOpen)
	straggler(rpcOutcomeSuccess) // admitted while closed: ignored
	rpcWantState(t, b, rpcBreakerHalfOpen)
	straggler(rpcOutcomeFailure) // second call of done is a no-op
	rpcWantState(t, b, rpcBreakerHalfOpen)
}

// rpcSwitchTransport fails like a refused dial while down, else forwards.
type rpcSwitchTransport struct {
	rt   http.RoundTripper
	down atomic.Bool
	n    atomic.Int64
}

func (s *rpcSwitchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.n.Add(1)
	if s.down.Load() {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return s.rt.RoundTrip(r)
}

// Spec §10 row 53 / §12.8: two calls to an app that is down (5 attempts
// each) open the breaker; the third call fails at once. 5 s later a trial
// call goes through and closes it.
func TestRPCBreakerOpensAfterTwoFailedCalls(t *testing.T) {
	t.Parallel()
	stub := newRPCStub(t, rpcReplyJSON(`{"status":1}`))
	st := &rpcSwitchTransport{rt: &http.Transport{}}
	st.down.Store(true)
	c := newTestRPCClient(t, Config{URL: stub.URL, Timeout: 1600 * time.Millisecond, Transport: st})
	clk := newRPCFakeClock()
	c.breaker = newRPCBreaker(clk.Now)

	for i := range 2 {
		_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
		rpcKind(t, err, KindUnavailable)
		if n := st.n.Load(); n != int64(5*(i+1)) {
			t.Fatalf("after call %d: %d attempts, want %d", i+1, n, 5*(i+1))
		}
	}
	rpcWantState(t, c.breaker, rpcBreakerOpen)

	start := time.Now()
	_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
	rerr := rpcKind(t, err, KindBreakerOpen)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("breaker_open took %v", d)
	}
	if st.n.Load() != 10 {
		t.Errorf("an attempt was made while open")
	}
	t.Log(rerr)

	st.down.Store(false)
	clk.Advance(4 * time.Second)
	_, err = c.Command(context.Background(), "s", &CommandRequest{})
	rpcKind(t, err, KindBreakerOpen)

	clk.Advance(time.Second)
	rpcWantState(t, c.breaker, rpcBreakerHalfOpen)
	if _, err := c.Connect(context.Background(), "s", &ConnectRequest{}); err != nil {
		t.Fatalf("half-open trial: %v", err)
	}
	rpcWantState(t, c.breaker, rpcBreakerClosed)
	if n := len(stub.requests()); n != 1 {
		t.Errorf("app saw %d requests, want 1", n)
	}
}

func TestRPCBreakerCountsTimeoutsNotHTTPErrors(t *testing.T) {
	t.Parallel()
	var slow atomic.Bool
	stub := newRPCStub(t, func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "oops")
	})
	c := newTestRPCClient(t, Config{URL: stub.URL, Timeout: 40 * time.Millisecond})
	clk := newRPCFakeClock()
	c.breaker = newRPCBreaker(clk.Now)

	for range 20 {
		_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
		rpcKind(t, err, KindHTTPStatus)
	}
	rpcWantState(t, c.breaker, rpcBreakerClosed)

	// Callers leaving are not the app's fault.
	clk.Advance(11 * time.Second) // forget the 20 successes
	slow.Store(true)
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, err := c.Connect(ctx, "s", &ConnectRequest{})
		cancel()
		rpcKind(t, err, KindTimeout) // the caller's deadline, not ours
	}
	rpcWantState(t, c.breaker, rpcBreakerClosed)

	for range 10 {
		_, err := c.Connect(context.Background(), "s", &ConnectRequest{})
		rpcKind(t, err, KindTimeout)
	}
	rpcWantState(t, c.breaker, rpcBreakerOpen)
	before := len(stub.requests())
	_, err := c.Disconnect(context.Background(), "s", &DisconnectRequest{})
	rpcKind(t, err, KindBreakerOpen)
	if len(stub.requests()) != before {
		t.Error("a request reached the app while the breaker was open")
	}
}

// While the breaker is open a call fails at once, even when every
// concurrency slot is taken (it does not queue first).
func TestRPCBreakerOpenDoesNotQueue(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	stub := newRPCStub(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, `{"status":1}`)
	})
	t.Cleanup(func() { close(release) })
	c := newTestRPCClient(t, Config{URL: stub.URL, Concurrency: 1})
	clk := newRPCFakeClock()
	c.breaker = newRPCBreaker(clk.Now)

	go func() { _, _ = c.Connect(context.Background(), "s", &ConnectRequest{}) }()
	<-arrived // the only slot is held
	for range 10 {
		rpcRecord(t, c.breaker, rpcOutcomeFailure)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.Connect(ctx, "s", &ConnectRequest{})
	rpcKind(t, err, KindBreakerOpen)
	if c.Pending() != 0 {
		t.Errorf("Pending() = %d", c.Pending())
	}
}
