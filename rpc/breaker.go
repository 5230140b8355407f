package rpc

import (
	"sync"
	"time"
)

// Circuit breaker parameters, as in AnyCable's HTTP RPC (rpc/http.go there
// configures sony/gobreaker with these numbers).
const (
	rpcBreakerWindow      = 10 * time.Second // rolling window for the failure ratio
	rpcBreakerBuckets     = 10               // the window is kept in 1 s buckets
	rpcBreakerMinRequests = 10               // no trip below this many outcomes in the window
	rpcBreakerFailNum     = 4                // trip at a failure ratio of at least
	rpcBreakerFailDen     = 5                // rpcBreakerFailNum/rpcBreakerFailDen (80%)
	rpcBreakerOpenFor     = 5 * time.Second  // how long the breaker stays open
	rpcBreakerHalfOpenMax = 5                // trial requests admitted while half-open
)

type rpcBreakerState int

const (
	rpcBreakerClosed rpcBreakerState = iota
	rpcBreakerOpen
	rpcBreakerHalfOpen
)

func (s rpcBreakerState) String() string {
	switch s {
	case rpcBreakerClosed:
		return "closed"
	case rpcBreakerOpen:
		return "open"
	default:
		return "half-open"
	}
}

// rpcOutcome is what one HTTP attempt tells the breaker.
type rpcOutcome int

const (
	// rpcOutcomeNeutral: the attempt says nothing about the app's health (the
	// caller went away, or the caller's own deadline ended it).
	rpcOutcomeNeutral rpcOutcome = iota
	// rpcOutcomeSuccess: any HTTP response, whatever its status.
	rpcOutcomeSuccess
	// rpcOutcomeFailure: a transport failure (connection error, or our own
	// per-call timeout before a response arrived).
	rpcOutcomeFailure
)

type rpcBreakerBucket struct {
	sec      int64 // the Unix second this bucket counts; stale buckets are ignored
	requests int
	failures int
}

// rpcBreaker is a circuit breaker over HTTP attempts (not over calls: one call
// that retries five times is five outcomes, which is how AnyCable trips after
// two calls to an app that is down).
//
// Closed: outcomes are counted in a rolling window; when the window holds at
// least rpcBreakerMinRequests outcomes and the failure ratio is at least
// 80%, it opens. Open: every attempt is refused for
// rpcBreakerOpenFor. Half-open: up to rpcBreakerHalfOpenMax attempts are let
// through at once; the first success closes the breaker, the first failure
// opens it again. Outcomes of attempts admitted under an earlier state are
// ignored (a generation counter), so a slow straggler cannot flip the state.
type rpcBreaker struct {
	now func() time.Time

	mu        sync.Mutex
	state     rpcBreakerState
	gen       uint64
	openUntil time.Time
	trials    int // half-open attempts in flight
	buckets   [rpcBreakerBuckets]rpcBreakerBucket
}

func newRPCBreaker(now func() time.Time) *rpcBreaker {
	if now == nil {
		now = time.Now
	}
	return &rpcBreaker{now: now}
}

// currentState moves open to half-open once the open period is over. b.mu held.
func (b *rpcBreaker) currentState(now time.Time) rpcBreakerState {
	if b.state == rpcBreakerOpen && !now.Before(b.openUntil) {
		b.setState(rpcBreakerHalfOpen, now)
	}
	return b.state
}

// setState starts a new generation. b.mu held.
func (b *rpcBreaker) setState(s rpcBreakerState, now time.Time) {
	b.state = s
	b.gen++
	b.trials = 0
	b.buckets = [rpcBreakerBuckets]rpcBreakerBucket{}
	if s == rpcBreakerOpen {
		b.openUntil = now.Add(rpcBreakerOpenFor)
	}
}

// State reports the state (for tests and metrics).
func (b *rpcBreaker) State() rpcBreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.currentState(b.now())
}

// ready tells whether an attempt would be admitted now, without taking a
// half-open trial slot; used to fail fast before queueing for concurrency.
func (b *rpcBreaker) ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.currentState(b.now()) {
	case rpcBreakerOpen:
		return false
	case rpcBreakerHalfOpen:
		return b.trials < rpcBreakerHalfOpenMax
	default:
		return true
	}
}

// allow admits one attempt. The returned function must be called exactly once
// with the attempt's outcome.
func (b *rpcBreaker) allow() (func(rpcOutcome), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.currentState(b.now()) {
	case rpcBreakerOpen:
		return nil, false
	case rpcBreakerHalfOpen:
		if b.trials >= rpcBreakerHalfOpenMax {
			return nil, false
		}
		b.trials++
	}
	gen := b.gen
	var once sync.Once
	return func(o rpcOutcome) { once.Do(func() { b.done(gen, o) }) }, true
}

func (b *rpcBreaker) done(gen uint64, o rpcOutcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.gen {
		return // admitted under a state that has since changed
	}
	now := b.now()
	switch b.state {
	case rpcBreakerHalfOpen:
		b.trials--
		switch o {
		case rpcOutcomeSuccess:
			b.setState(rpcBreakerClosed, now)
		case rpcOutcomeFailure:
			b.setState(rpcBreakerOpen, now)
		}
	case rpcBreakerClosed:
		if o == rpcOutcomeNeutral {
			return
		}
		sec := now.Unix()
		bk := &b.buckets[uint64(sec)%rpcBreakerBuckets]
		if bk.sec != sec {
			*bk = rpcBreakerBucket{sec: sec}
		}
		bk.requests++
		if o == rpcOutcomeFailure {
			bk.failures++
			if b.shouldTrip(sec) {
				b.setState(rpcBreakerOpen, now)
			}
		}
	}
}

// shouldTrip sums the buckets inside the rolling window ending at sec. b.mu held.
func (b *rpcBreaker) shouldTrip(sec int64) bool {
	oldest := sec - int64(rpcBreakerWindow/time.Second) + 1
	var requests, failures int
	for _, bk := range b.buckets {
		if bk.sec >= oldest && bk.sec <= sec {
			requests += bk.requests
			failures += bk.failures
		}
	}
	return requests >= rpcBreakerMinRequests &&
		failures*rpcBreakerFailDen >= requests*rpcBreakerFailNum
}
