package pubsub

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestBroker(t testing.TB, limit int, ttl time.Duration, clk *fakeClock) *MemoryBroker {
	t.Helper()
	b := NewMemoryBroker(MemoryOptions{HistoryLimit: limit, HistoryTTL: ttl, Now: clk.Now})
	t.Cleanup(func() { b.Close() })
	return b
}

func publishN(t testing.TB, b Broker, stream string, n int) []Message {
	t.Helper()
	out := make([]Message, 0, n)
	for i := 0; i < n; i++ {
		m, err := b.Publish(context.Background(), Publication{Stream: stream, Data: fmt.Sprintf("m%d", i)})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		out = append(out, m)
	}
	return out
}

func snapshot(t testing.TB, b Broker, stream string, req HistoryRequest) Snapshot {
	t.Helper()
	s, err := b.Snapshot(context.Background(), stream, req)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return s
}

func offsets(ms []Message) []uint64 {
	out := []uint64{}
	for _, m := range ms {
		out = append(out, m.Offset)
	}
	return out
}

func seq(from, to uint64) []uint64 {
	out := []uint64{}
	for o := from; o <= to; o++ {
		out = append(out, o)
	}
	return out
}

// TestMemoryRecoveryDecision runs the recovery table (shared with the Redis
// broker, recovery_test.go) against the memory broker.
func TestMemoryRecoveryDecision(t *testing.T) {
	for _, tc := range recoveryCases() {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			b := newTestBroker(t, tc.limit, tc.ttl, clk)
			if err := b.Start(nil); err != nil {
				t.Fatal(err)
			}
			checkRecoveryCase(t, tc, b, clk, false)
		})
	}
}

func TestMemoryUnknownStreamCreatesNothing(t *testing.T) {
	b := newTestBroker(t, 0, 0, newFakeClock())
	b.Start(nil)
	for i := 0; i < 100; i++ {
		snapshot(t, b, fmt.Sprint("chosen-", i), HistoryRequest{Since: 1})
	}
	if n := streamCount(b); n != 0 {
		t.Fatalf("100 snapshots of unknown names left %d streams", n)
	}
	checkUnknownStreamCreatesNothing(t, b)
}

func TestMemoryEpochs(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9]{8}$`)
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		e := newEpoch()
		if !re.MatchString(e) {
			t.Fatalf("epoch %q", e)
		}
		if seen[e] {
			t.Fatalf("epoch %q repeated", e)
		}
		seen[e] = true
	}
	clk := newFakeClock()
	b := newTestBroker(t, 0, 0, clk)
	b.Start(nil)
	a := publishN(t, b, "a", 1)[0]
	c := publishN(t, b, "c", 1)[0]
	if a.Epoch == c.Epoch {
		t.Fatalf("two streams share epoch %q", a.Epoch)
	}
}

func TestMemoryOffsetsAndTransient(t *testing.T) {
	clk := newFakeClock()
	b := newTestBroker(t, 0, 0, clk)
	var mu sync.Mutex
	var delivered []Message
	b.Start(func(m Message) {
		mu.Lock()
		delivered = append(delivered, m)
		mu.Unlock()
	})
	ctx := context.Background()
	m1, _ := b.Publish(ctx, Publication{Stream: "s", Data: "1"})
	tr, err := b.Publish(ctx, Publication{Stream: "s", Data: "t", Transient: true})
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := b.Publish(ctx, Publication{Stream: "s", Data: "2"})
	if m1.Offset != 1 || m2.Offset != 2 || tr.Offset != 0 {
		t.Fatalf("offsets %d %d transient %d", m1.Offset, m2.Offset, tr.Offset)
	}
	if tr.Epoch != m1.Epoch || m2.Epoch != m1.Epoch {
		t.Fatalf("epochs %q %q %q", m1.Epoch, tr.Epoch, m2.Epoch)
	}
	if m1.Time != clk.Now().UnixMilli() {
		t.Fatalf("time %d, want %d", m1.Time, clk.Now().UnixMilli())
	}
	if len(delivered) != 3 || delivered[1].Data != "t" || delivered[1].Offset != 0 {
		t.Fatalf("delivered %+v", delivered)
	}
	s := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: m1.Epoch}})
	if !slices.Equal(offsets(s.Messages), []uint64{1, 2}) || s.Top.Offset != 2 {
		t.Fatalf("history %v top %d: the transient message must not be stored", offsets(s.Messages), s.Top.Offset)
	}
	if _, err := b.Publish(ctx, Publication{}); err == nil {
		t.Fatal("publish without a stream succeeded")
	}
}

func TestMemoryDeliveryOrderUnderConcurrency(t *testing.T) {
	b := NewMemoryBroker(MemoryOptions{HistoryLimit: 10})
	defer b.Close()
	checkDeliveryOrderUnderConcurrency(t, b, 8, 500)
}

// checkDeliveryOrderUnderConcurrency: publishers × each publishes spread
// over three streams arrive at the broker's deliver callback in offset
// order per stream, none lost.
func checkDeliveryOrderUnderConcurrency(t *testing.T, b Broker, publishers, each int) {
	t.Helper()
	var mu sync.Mutex
	last := map[string]uint64{}
	var bad []string
	b.Start(func(m Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Offset != last[m.Stream]+1 {
			bad = append(bad, fmt.Sprintf("%s: %d after %d", m.Stream, m.Offset, last[m.Stream]))
		}
		last[m.Stream] = m.Offset
	})
	var wg sync.WaitGroup
	for g := 0; g < publishers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				b.Publish(context.Background(), Publication{Stream: fmt.Sprintf("s%d", i%3), Data: "x"})
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("out of order: %v", bad[:min(len(bad), 5)])
	}
	if got := last["s0"] + last["s1"] + last["s2"]; got != uint64(publishers*each) {
		t.Fatalf("delivered %v, want %d in all", last, publishers*each)
	}
}

func streamCount(b *MemoryBroker) int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.RLock()
		n += len(sh.streams)
		sh.mu.RUnlock()
	}
	return n
}

func TestMemoryEvictedStreamGetsNewEpoch(t *testing.T) {
	clk := newFakeClock()
	b := newTestBroker(t, 0, 10*time.Second, clk) // idle limit: max(100s, 1m) = 100s
	b.Start(nil)
	old := publishN(t, b, "s", 3)[2]

	clk.Add(50 * time.Second)
	b.sweep()
	if streamCount(b) != 1 {
		t.Fatal("stream evicted before its idle time")
	}
	// A read counts as activity.
	if s := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: old.Epoch, Offset: 3}}); s.Status != Recovered {
		t.Fatalf("up-to-date client: %+v", s)
	}
	clk.Add(99 * time.Second)
	b.sweep()
	if streamCount(b) != 1 {
		t.Fatal("stream evicted less than 100s after the last read")
	}
	clk.Add(time.Second)
	b.sweep()
	if streamCount(b) != 0 {
		t.Fatal("idle stream not evicted")
	}

	m := publishN(t, b, "s", 1)[0]
	if m.Epoch == old.Epoch {
		t.Fatalf("recreated stream reuses epoch %q", m.Epoch)
	}
	if m.Offset != 1 {
		t.Fatalf("recreated stream starts at %d", m.Offset)
	}
	s := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: old.Epoch, Offset: 3}})
	if s.Status != NotRecovered || s.Reason != "epoch mismatch" || len(s.Messages) != 0 {
		t.Fatalf("old position on the recreated stream: %+v", s)
	}
}

func TestMemoryEvictionMinimumAndWatchers(t *testing.T) {
	clk := newFakeClock()
	b := newTestBroker(t, 0, time.Second, clk) // idle limit: 1 minute
	b.Start(nil)
	publishN(t, b, "short", 1)
	clk.Add(59 * time.Second)
	b.sweep()
	if streamCount(b) != 1 {
		t.Fatal("evicted before one minute")
	}
	clk.Add(time.Second)
	b.sweep()
	if streamCount(b) != 0 {
		t.Fatal("not evicted after one minute")
	}

	b.Watch("w")
	b.Watch("w")
	e := publishN(t, b, "w", 1)[0].Epoch
	clk.Add(time.Hour)
	b.sweep()
	b.Unwatch("w")
	b.sweep()
	if streamCount(b) != 1 {
		t.Fatal("watched stream evicted")
	}
	if got := snapshot(t, b, "w", HistoryRequest{}).Top.Epoch; got != e {
		t.Fatalf("watched stream epoch changed %q -> %q", e, got)
	}
	b.Unwatch("w")
	clk.Add(time.Hour)
	b.sweep()
	if streamCount(b) != 0 {
		t.Fatal("unwatched idle stream not evicted")
	}
}

func TestMemoryJanitorRuns(t *testing.T) {
	clk := newFakeClock()
	b := NewMemoryBroker(MemoryOptions{HistoryTTL: time.Second, Now: clk.Now})
	b.Start(nil)
	publishN(t, b, "s", 1)
	clk.Add(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for streamCount(b) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("janitor did not evict the idle stream")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	if _, err := b.Publish(context.Background(), Publication{Stream: "s"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	if _, err := b.Snapshot(context.Background(), "s", HistoryRequest{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("snapshot after close: %v", err)
	}
}

func TestMemorySetLimits(t *testing.T) {
	clk := newFakeClock()
	b := newTestBroker(t, 100, time.Hour, clk)
	b.Start(nil)
	testSetLimits(t, b, clk) // shared with the Redis broker (redis_test.go)
}

func TestMemoryRingWrapsAndGrows(t *testing.T) {
	clk := newFakeClock()
	b := newTestBroker(t, 37, time.Hour, clk)
	b.Start(nil)
	var e string
	for n := 1; n <= 200; n++ {
		m := publishN(t, b, "s", 1)[0]
		e = m.Epoch
		if n%13 != 0 {
			continue
		}
		low := uint64(1)
		if n > 37 {
			low = uint64(n - 36)
		}
		s := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: e, Offset: low - 1}})
		if s.Status != Recovered || !slices.Equal(offsets(s.Messages), seq(low, uint64(n))) {
			t.Fatalf("after %d publishes: %v %q %v", n, s.Status, s.Reason, offsets(s.Messages))
		}
		for _, m := range s.Messages {
			if m.Data != "m0" {
				t.Fatalf("data %q", m.Data)
			}
		}
	}
}
