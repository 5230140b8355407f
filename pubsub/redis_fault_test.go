package pubsub

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// publishRetry publishes through h until Redis accepts it (it may be coming
// back) and fails the test after timeout. Every failure must be
// ErrUnavailable and carry no message.
func publishRetry(t *testing.T, h *Hub, p Publication, timeout time.Duration) Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, err := h.Publish(context.Background(), p)
		if err == nil {
			return m
		}
		if !errors.Is(err, ErrUnavailable) || m != (Message{}) {
			t.Fatalf("publish failed with %v and returned %+v", err, m)
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish still failing after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *recSub) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func waitGot(t *testing.T, r *recSub, n int) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("%d deliveries to %s", n, r.sid), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.got) >= n
	})
}

// TestRedisDataLossResetsThenContinues: Redis loses everything (FLUSHALL, or
// a restart without persistence). The live subscriber gets one Reset("epoch
// changed"), then every message of the new epoch in order.
func TestRedisDataLossResetsThenContinues(t *testing.T) {
	for _, how := range []string{"flushall", "restart"} {
		t.Run(how, func(t *testing.T) {
			srv := startRedis(t)
			b := newRedisTestBroker(t, srv, RedisOptions{BlockTimeout: 500 * time.Millisecond}, nil)
			h := newRedisHub(t, b, HubOptions{})
			r := &recSub{sid: "a"}
			s, _ := join(t, h, r, "s", HistoryRequest{})
			s.Release()
			var old []Message
			for i := 0; i < 3; i++ {
				old = append(old, pub(t, h, Publication{Stream: "s", Data: fmt.Sprint("old", i)}))
			}
			waitGot(t, r, 3)
			if how == "flushall" {
				srv.FlushAll()
			} else {
				srv.Restart()
			}
			var fresh []Message
			for i := 0; i < 5; i++ {
				fresh = append(fresh, publishRetry(t, h, Publication{Stream: "s", Data: fmt.Sprint("new", i)}, 10*time.Second))
			}
			if fresh[0].Epoch == old[0].Epoch || fresh[0].Offset != 1 {
				t.Fatalf("first publish after the loss: %s/%d (old epoch %s)", fresh[0].Epoch, fresh[0].Offset, old[0].Epoch)
			}
			waitGot(t, r, 8)
			barrierHub(t, h, "s", r) // an extra or duplicate delivery would precede it
			got := r.messages()
			want := append(slices.Clone(old), fresh...)
			if len(got) != len(want) {
				t.Fatalf("got %d messages %v, want %d", len(got), offsets(got), len(want))
			}
			for i := range want {
				if got[i].Epoch != want[i].Epoch || got[i].Offset != want[i].Offset || got[i].Data != want[i].Data {
					t.Fatalf("message %d: %s/%d %q, want %s/%d %q", i, got[i].Epoch, got[i].Offset, got[i].Data,
						want[i].Epoch, want[i].Offset, want[i].Data)
				}
			}
			if rs := r.resetList(); !slices.Equal(rs, []string{ResetEpochChanged}) {
				t.Fatalf("resets %v, want one %q", rs, ResetEpochChanged)
			}
			if p := s.Position(); p.Epoch != fresh[0].Epoch || p.Offset != 5 {
				t.Fatalf("position %+v", p)
			}
			// The old position is explicitly not recovered.
			snap := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: old[0].Epoch, Offset: 3}})
			if snap.Status != NotRecovered || snap.Reason != "epoch mismatch" {
				t.Fatalf("old position after the loss: %+v", snap)
			}
			h.Leave(s)
		})
	}
}

// TestRedisDownThenBack: while Redis is stopped, publishes fail with
// ErrUnavailable and invent nothing, subscribers stay registered; after the
// restart every message published reaches them.
func TestRedisDownThenBack(t *testing.T) {
	srv := startRedis(t)
	block := 500 * time.Millisecond
	b := newRedisTestBroker(t, srv, RedisOptions{BlockTimeout: block}, nil)
	h := newRedisHub(t, b, HubOptions{})
	r := &recSub{sid: "a"}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	s.Release()
	pub(t, h, Publication{Stream: "s", Data: "before"})
	waitGot(t, r, 1)

	srv.Stop()
	errsBefore := b.busErrors.Load()
	for i := 0; i < 3; i++ {
		start := time.Now()
		m, err := h.Publish(context.Background(), Publication{Stream: "s", Data: "lost"})
		if !errors.Is(err, ErrUnavailable) || m != (Message{}) {
			t.Fatalf("publish with Redis down: %+v %v", m, err)
		}
		if d := time.Since(start); d > 2*block {
			t.Fatalf("publish took %v to fail", d)
		}
	}
	if _, err := b.Snapshot(context.Background(), "s", HistoryRequest{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("snapshot with Redis down: %v", err)
	}
	eventually(t, 3*block, "bus readers noticing", func() bool { return b.busErrors.Load() > errsBefore })
	eventually(t, 3*block, "every reader reported failing", func() bool {
		return b.Stats().FailingReaders == len(b.parts)
	})
	if h.Subscriptions() != 1 {
		t.Fatalf("%d subscriptions while Redis is down", h.Subscriptions())
	}

	srv.Start()
	var after []Message
	for i := 0; i < 10; i++ {
		after = append(after, publishRetry(t, h, Publication{Stream: "s", Data: fmt.Sprint("after", i)}, 10*time.Second))
	}
	waitGot(t, r, 11)
	eventually(t, 5*time.Second, "every reader healthy", func() bool { return b.Stats().FailingReaders == 0 })
	if st := b.Stats(); st.Watched != 1 || st.BusErrors == 0 {
		t.Fatalf("stats %+v", st)
	}
	got := r.messages()
	if len(got) != 11 {
		t.Fatalf("got %v", offsets(got))
	}
	for i, m := range after {
		if g := got[i+1]; g.Epoch != m.Epoch || g.Offset != m.Offset || g.Data != m.Data {
			t.Fatalf("after the restart, message %d: %+v, want %+v", i, g, m)
		}
	}
	if rs := r.resetList(); !slices.Equal(rs, []string{ResetEpochChanged}) {
		t.Fatalf("resets %v", rs)
	}
	h.Leave(s)
}

// TestRedisFreezeDetected: a stalled Redis (SIGSTOP) fails publishes,
// snapshots and bus reads within about BlockTimeout; after SIGCONT
// everything resumes without loss.
func TestRedisFreezeDetected(t *testing.T) {
	srv := startRedis(t)
	block := 500 * time.Millisecond
	b := newRedisTestBroker(t, srv, RedisOptions{BlockTimeout: block}, nil)
	h := newRedisHub(t, b, HubOptions{})
	r := &recSub{sid: "a"}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	s.Release()
	for i := 0; i < 3; i++ {
		pub(t, h, Publication{Stream: "s"})
	}
	waitGot(t, r, 3)

	errsBefore := b.busErrors.Load()
	srv.Freeze()
	start := time.Now()
	eventually(t, 3*block, "bus readers detecting the stall", func() bool { return b.busErrors.Load() > errsBefore })
	if d := time.Since(start); d > block+block/2 {
		t.Fatalf("bus readers took %v to notice the stall (block %v)", d, block)
	} else {
		t.Logf("frozen Redis: first bus reader error after %v", d.Round(time.Millisecond))
	}
	start = time.Now()
	m, err := h.Publish(context.Background(), Publication{Stream: "s", Data: "frozen"})
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) || m != (Message{}) {
		t.Fatalf("publish to a frozen Redis: %+v %v", m, err)
	}
	if took > block+block/2 {
		t.Fatalf("publish to a frozen Redis took %v to fail (block %v)", took, block)
	}
	start = time.Now()
	if _, err := b.Snapshot(context.Background(), "s", HistoryRequest{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("snapshot of a frozen Redis: %v", err)
	}
	t.Logf("frozen Redis: publish failed after %v, snapshot after %v", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if n := b.Stats().FailingReaders; n == 0 {
		t.Fatal("no reader reports failing while Redis is frozen")
	}
	srv.Thaw()

	for i := 0; i < 5; i++ {
		publishRetry(t, h, Publication{Stream: "s"}, 10*time.Second)
	}
	// The frozen publish may have run when Redis resumed: it is then a
	// message like any other, delivered in order.
	top := snapshot(t, b, "s", HistoryRequest{}).Top.Offset
	if top != 8 && top != 9 {
		t.Fatalf("top %d, want 8 (or 9 if the timed-out publish ran)", top)
	}
	waitGot(t, r, int(top))
	if got := r.offsets(); !slices.Equal(got, seq(1, top)) {
		t.Fatalf("offsets %v, want 1..%d", got, top)
	}
	if rs := r.resetList(); len(rs) != 0 {
		t.Fatalf("resets %v", rs)
	}
	h.Leave(s)
}

// TestRedisLostReplyIdempotency: a publish whose reply is lost (the client
// times out while Redis is frozen; Redis runs it when it resumes) and that
// the caller retries with the same idempotency key is one message. Without
// a key, the same sequence makes two (go-redis must not retry on its own:
// MaxRetries -1).
func TestRedisLostReplyIdempotency(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	var c collector
	b.Start(c.deliver)
	top := func(stream string) uint64 { return snapshot(t, b, stream, HistoryRequest{}).Top.Offset }

	lost := func(ctx context.Context, stream string) {
		t.Helper()
		if _, err := b.Publish(context.Background(), Publication{Stream: stream, Data: "first"}); err != nil {
			t.Fatal(err)
		}
		srv.Freeze()
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		m, err := b.Publish(tctx, Publication{Stream: stream, Data: "second"})
		cancel()
		srv.Thaw()
		if !errors.Is(err, ErrUnavailable) || m != (Message{}) {
			t.Fatalf("publish with a lost reply: %+v %v", m, err)
		}
		var retry Message
		for i := 0; ; i++ {
			retry, err = b.Publish(ctx, Publication{Stream: stream, Data: "second"})
			if err == nil {
				break
			}
			if i > 100 {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if retry.Offset < 2 {
			t.Fatalf("retry numbered %d", retry.Offset)
		}
	}

	// Without a key: the timed-out publish ran as well.
	lost(context.Background(), "nokey")
	eventually(t, 3*time.Second, "the timed-out publish to run", func() bool { return top("nokey") == 3 })

	// With a key: one message whichever attempt ran first.
	lost(WithIdempotencyKey(context.Background(), "entry-1"), "key")
	// The timed-out attempt was in Redis's socket buffer before the thaw, so
	// it ran before the retry; the marker makes its delivery final too.
	barrierBroker(t, b, "key", &c)
	if n := top("key"); n != 2 {
		t.Fatalf("top %d after a retried publish with a key, want 2", n)
	}
	if n := srv.Admin.XLen(context.Background(), b.part("key").histKey("key")).Val(); n != 2 {
		t.Fatalf("history holds %d entries, want 2", n)
	}
	n := 0
	for _, m := range c.list() {
		if m.Stream == "key" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d deliveries on the stream with a key, want 2", n)
	}
}

// slowSub delays every delivery, holding up its node's bus reader.
type slowSub struct {
	recSub
	delay time.Duration
}

func (s *slowSub) Deliver(sub *Subscription, d *Delivery) {
	time.Sleep(s.delay)
	s.recSub.Deliver(sub, d)
}

// TestRedisBusTrimmedCatchUp: a node falls further behind than the bus
// keeps. Its reader notices that its cursor was trimmed away, resyncs, and
// catches its watched stream up from history: no loss, no reset.
func TestRedisBusTrimmedCatchUp(t *testing.T) {
	srv := startRedis(t)
	prefix := fmt.Sprintf("trim%d", redisPrefixSeq.Add(1))
	slow := newRedisTestBroker(t, srv, RedisOptions{Prefix: prefix, BusMaxLen: 10, Partitions: 1, HistoryLimit: 2000}, nil)
	fast := newRedisTestBroker(t, srv, RedisOptions{Prefix: prefix, BusMaxLen: 10, Partitions: 1, HistoryLimit: 2000}, nil)
	hs, hf := newRedisHub(t, slow, HubOptions{}), newRedisHub(t, fast, HubOptions{})
	r := &slowSub{recSub: recSub{sid: "slow"}, delay: 2 * time.Millisecond}
	s, _ := join(t, hs, r, "s", HistoryRequest{})
	s.Release()
	const n = 600
	for i := 0; i < n; i++ {
		pub(t, hf, Publication{Stream: "s"})
		if i%50 == 0 {
			pub(t, hf, Publication{Stream: "other"}) // unwatched: skipped by the resync
		}
	}
	waitGot(t, &r.recSub, n)
	if got := r.offsets(); !slices.Equal(got, seq(1, n)) {
		t.Fatalf("slow node delivered %d offsets, not 1..%d", len(got), n)
	}
	if rs := r.resetList(); len(rs) != 0 {
		t.Fatalf("resets %v", rs)
	}
	if slow.resyncs.Load() == 0 {
		t.Fatal("the slow node never resynced: the test did not trim its cursor away")
	}
	t.Logf("slow node: %d resyncs for %d messages through a bus of %d", slow.resyncs.Load(), n, 10)
	hs.Leave(s)
}

// TestRedisRegressionBumpsEpoch: Redis lost acknowledged writes (simulated:
// the meta's top and the history go back), so offsets are reused under the
// same epoch. The node must not deliver the reused offset as if it were the
// old one: it replaces the epoch, and the subscriber is reset.
func TestRedisRegressionBumpsEpoch(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	h := newRedisHub(t, b, HubOptions{})
	r := &recSub{sid: "a"}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	s.Release()
	var ms []Message
	for i := 0; i < 5; i++ {
		ms = append(ms, pub(t, h, Publication{Stream: "s", Data: fmt.Sprint("v1-", i)}))
	}
	waitGot(t, r, 5)
	p := b.part("s")
	srv.Do("HSET", p.metaKey("s"), "s", 2)
	srv.Do("XDEL", p.histKey("s"), "3-0", "4-0", "5-0")
	reused := pub(t, h, Publication{Stream: "s", Data: "v2-3"})
	if reused.Offset != 3 || reused.Epoch != ms[0].Epoch {
		t.Fatalf("simulation failed: %s/%d", reused.Epoch, reused.Offset)
	}
	eventually(t, 5*time.Second, "the regression to be detected", func() bool { return b.regressions.Load() == 1 })
	next := pub(t, h, Publication{Stream: "s", Data: "v2-4"})
	if next.Epoch == ms[0].Epoch {
		t.Fatalf("epoch %q kept after the regression", next.Epoch)
	}
	eventually(t, 5*time.Second, "the reset", func() bool { return len(r.resetList()) > 0 })
	for _, m := range r.messages() {
		if m.Data == "v2-3" {
			t.Fatalf("the reused offset was delivered: %+v", m)
		}
	}
	if rs := r.resetList(); rs[0] != ResetEpochChanged {
		t.Fatalf("resets %v", rs)
	}
	// A client at the lost offset 5 is not told it is up to date.
	snap := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: ms[0].Epoch, Offset: 5}})
	if snap.Status != NotRecovered {
		t.Fatalf("client of the lost writes: %+v", snap)
	}
	h.Leave(s)
}

// TestRedisWatchedMetaKeptAlive: the epoch of a watched, idle stream
// outlives MetaTTL; an unwatched one expires and comes back with a new
// epoch.
func TestRedisWatchedMetaKeptAlive(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{MetaTTL: 2 * time.Second, HistoryTTL: time.Second}, nil)
	h := newRedisHub(t, b, HubOptions{})
	r := &recSub{sid: "a"}
	publishN(t, b, "watched", 1)
	s, snap := join(t, h, r, "watched", HistoryRequest{})
	s.Release()
	cold := publishN(t, b, "cold", 1)[0].Epoch
	time.Sleep(3500 * time.Millisecond)
	if e := snapshot(t, b, "watched", HistoryRequest{}).Top.Epoch; e != snap.Top.Epoch {
		t.Fatalf("watched stream's epoch changed %q -> %q", snap.Top.Epoch, e)
	}
	if e := snapshot(t, b, "cold", HistoryRequest{}).Top.Epoch; e == cold {
		t.Fatalf("unwatched stream's epoch %q survived its meta TTL", e)
	}
	h.Leave(s)
}

// TestRedisCloseLeavesNoGoroutines: Close stops every goroutine the broker
// started (readers, keep-alive, client pools).
func TestRedisCloseLeavesNoGoroutines(t *testing.T) {
	srv := startRedis(t)
	run := func() {
		b, err := NewRedisBroker(RedisOptions{URL: srv.URL(), Prefix: fmt.Sprintf("g%d", redisPrefixSeq.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		h := NewHub(b, HubOptions{})
		if err := h.Start(); err != nil {
			t.Fatal(err)
		}
		r := &recSub{}
		s, _ := join(t, h, r, "s", HistoryRequest{})
		s.Release()
		pub(t, h, Publication{Stream: "s"})
		waitGot(t, r, 1)
		h.Leave(s)
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	run() // warm up process-wide goroutines (go-redis's clock)
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	for i := 0; i < 3; i++ {
		run()
		peak.Store(max(peak.Load(), int64(runtime.NumGoroutine())))
	}
	eventually(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}
