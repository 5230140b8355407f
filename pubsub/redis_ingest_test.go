package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ingestLog records what ingesters hand over, by payload.
type ingestLog struct {
	mu    sync.Mutex
	count map[string]int
	keys  map[string]string // payload -> idempotency key
	by    map[string]string // payload -> ingester
	total atomic.Int64
}

func newIngestLog() *ingestLog {
	return &ingestLog{count: map[string]int{}, keys: map[string]string{}, by: map[string]string{}}
}

func (l *ingestLog) handler(name string) IngestFunc {
	return func(ctx context.Context, payload []byte) error {
		l.mu.Lock()
		p := string(payload)
		l.count[p]++
		l.keys[p] = IdempotencyKey(ctx)
		l.by[p] = name
		l.mu.Unlock()
		l.total.Add(1)
		return nil
	}
}

func newStreamIngester(t *testing.T, srv *redisServer, o StreamIngesterOptions, h IngestFunc) *StreamIngester {
	t.Helper()
	o.URL = srv.URL()
	if o.BlockTimeout == 0 {
		o.BlockTimeout = 300 * time.Millisecond
	}
	in, err := NewStreamIngester(o, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	return in
}

// waitGroup waits until the consumer group exists (the ingester starts it
// at "$": entries added before are not read, as in AnyCable).
func waitGroup(t *testing.T, srv *redisServer, stream string) {
	t.Helper()
	eventually(t, 5*time.Second, "the consumer group", func() bool {
		gs, err := srv.Admin.XInfoGroups(context.Background(), stream).Result()
		return err == nil && len(gs) > 0
	})
}

func railsXAdd(t *testing.T, srv *redisServer, stream string, fields ...any) string {
	t.Helper()
	id, err := srv.Admin.Do(context.Background(), append([]any{"XADD", stream, "*"}, fields...)...).Text()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRedisxExactlyOnceAcrossTwoIngesters: entries that Rails adds are
// handled once across two nodes, acknowledged and deleted.
func TestRedisxExactlyOnceAcrossTwoIngesters(t *testing.T) {
	srv := startRedis(t)
	l := newIngestLog()
	a := newStreamIngester(t, srv, StreamIngesterOptions{Count: 5}, l.handler("a"))
	b := newStreamIngester(t, srv, StreamIngesterOptions{Count: 5}, l.handler("b"))
	if a.Consumer() == b.Consumer() {
		t.Fatalf("both consumers are named %q", a.Consumer())
	}
	waitGroup(t, srv, "__anycable__")
	const n = 300
	ids := map[string]string{}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf(`{"stream":"s","data":"%d"}`, i)
		ids[p] = railsXAdd(t, srv, "__anycable__", "payload", p)
	}
	eventually(t, 10*time.Second, "every entry handled", func() bool { return l.total.Load() >= n })
	eventually(t, 5*time.Second, "the stream emptied", func() bool {
		return srv.Admin.XLen(context.Background(), "__anycable__").Val() == 0
	})
	// Stop returns once the ingester's goroutine ended: no handler call (a
	// duplicate claimed by the other node included) can come after it.
	a.Stop()
	b.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	perNode := map[string]int{}
	for p, id := range ids {
		if l.count[p] != 1 {
			t.Errorf("%s handled %d times", p, l.count[p])
		}
		if want := "rx:__anycable__:" + id; l.keys[p] != want {
			t.Errorf("%s: idempotency key %q, want %q", p, l.keys[p], want)
		}
		perNode[l.by[p]]++
	}
	if l.total.Load() != n {
		t.Errorf("%d handled, want %d", l.total.Load(), n)
	}
	pend, err := srv.Admin.XPending(context.Background(), "__anycable__", "bx").Result()
	if err != nil || pend.Count != 0 {
		t.Fatalf("pending %+v %v", pend, err)
	}
	t.Logf("%d entries: %v per node", n, perNode)
}

// TestRedisxClaimsEntriesOfADeadConsumer: an entry read by a consumer that
// died before acknowledging it is claimed and handled by another.
func TestRedisxClaimsEntriesOfADeadConsumer(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	// A node that reads entries and dies without acknowledging them.
	if err := srv.Admin.XGroupCreateMkStream(ctx, "__anycable__", "bx", "$").Err(); err != nil {
		t.Fatal(err)
	}
	p1 := `{"stream":"s","data":"pending"}`
	id := railsXAdd(t, srv, "__anycable__", "payload", p1)
	srv.Do("XREADGROUP", "GROUP", "bx", "dead-node", "COUNT", "10", "STREAMS", "__anycable__", ">")

	l := newIngestLog()
	live := newStreamIngester(t, srv, StreamIngesterOptions{ClaimIdle: 200 * time.Millisecond}, l.handler("live"))
	eventually(t, 5*time.Second, "the dead consumer's entry", func() bool { return l.total.Load() == 1 })
	l.mu.Lock()
	if l.count[p1] != 1 || l.keys[p1] != "rx:__anycable__:"+id {
		t.Fatalf("claimed entry: %v %v", l.count, l.keys)
	}
	l.mu.Unlock()
	eventually(t, 2*time.Second, "the entry deleted", func() bool { return srv.Admin.XLen(ctx, "__anycable__").Val() == 0 })

	// A stopped ingester in the middle of a handler leaves its entry pending
	// and stays in the group; the live one claims the entry.
	release := make(chan struct{})
	var blocked atomic.Int32
	stuck := newStreamIngester(t, srv, StreamIngesterOptions{Consumer: "stuck", ClaimIdle: time.Hour},
		func(ctx context.Context, payload []byte) error {
			blocked.Add(1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-release:
				return nil
			}
		})
	live.Stop() // only "stuck" reads now
	p2 := `{"stream":"s","data":"stuck"}`
	railsXAdd(t, srv, "__anycable__", "payload", p2)
	eventually(t, 5*time.Second, "the stuck handler", func() bool { return blocked.Load() == 1 })
	if err := stuck.Stop(); err != nil {
		t.Fatal(err)
	}
	cs, _ := srv.Admin.XInfoConsumers(ctx, "__anycable__", "bx").Result()
	found := false
	for _, c := range cs {
		if c.Name == "stuck" && c.Pending == 1 {
			found = true
		}
		if c.Name == live.Consumer() {
			t.Errorf("stopped consumer %q without pending entries still in the group", c.Name)
		}
	}
	if !found {
		t.Fatalf("the stopped consumer with a pending entry left the group: %+v", cs)
	}
	other := newStreamIngester(t, srv, StreamIngesterOptions{ClaimIdle: 200 * time.Millisecond}, l.handler("other"))
	eventually(t, 5*time.Second, "the stuck entry claimed", func() bool { return l.total.Load() == 2 })
	l.mu.Lock()
	if l.count[p2] != 1 || l.by[p2] != "other" {
		t.Fatalf("stuck entry: %v by %v", l.count, l.by)
	}
	l.mu.Unlock()
	_ = other
}

// TestRedisxDropsAndRetries: an entry without payload is acknowledged (not
// left forever), a malformed payload is acknowledged and dropped, and an
// entry whose broker was unavailable is retried.
func TestRedisxDropsAndRetries(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	var calls sync.Map // payload -> *atomic.Int32
	var unavailableOnce atomic.Bool
	handler := func(ctx context.Context, payload []byte) error {
		c, _ := calls.LoadOrStore(string(payload), new(atomic.Int32))
		c.(*atomic.Int32).Add(1)
		var v map[string]any
		if err := json.Unmarshal(payload, &v); err != nil {
			return fmt.Errorf("malformed broadcast: %w", err)
		}
		if v["data"] == "flaky" && !unavailableOnce.Swap(true) {
			return fmt.Errorf("publish: %w", ErrUnavailable)
		}
		return nil
	}
	newStreamIngester(t, srv, StreamIngesterOptions{ClaimIdle: 200 * time.Millisecond}, handler)
	waitGroup(t, srv, "__anycable__")
	railsXAdd(t, srv, "__anycable__", "foo", "bar")
	railsXAdd(t, srv, "__anycable__", "payload", "{not json")
	railsXAdd(t, srv, "__anycable__", "payload", `{"stream":"s","data":"flaky"}`)
	eventually(t, 5*time.Second, "every entry finished", func() bool { return srv.Admin.XLen(ctx, "__anycable__").Val() == 0 })
	count := func(p string) int32 {
		c, ok := calls.Load(p)
		if !ok {
			return 0
		}
		return c.(*atomic.Int32).Load()
	}
	if n := count("{not json"); n != 1 {
		t.Errorf("malformed payload handled %d times, want 1", n)
	}
	if n := count(`{"stream":"s","data":"flaky"}`); n != 2 {
		t.Errorf("entry with an unavailable broker handled %d times, want 2 (a retry)", n)
	}
	n := 0
	calls.Range(func(any, any) bool { n++; return true })
	if n != 2 {
		t.Errorf("handler saw %d payloads, want 2 (the entry without payload never reaches it)", n)
	}
	if pend := srv.Admin.XPending(ctx, "__anycable__", "bx").Val(); pend.Count != 0 {
		t.Fatalf("pending %+v", pend)
	}
}

// TestRedisxRetryDoesNotPublishTwice: a node publishes an entry and fails
// before acknowledging it; the retry (here by the same node) publishes with
// the same idempotency key, so the stream holds one message.
func TestRedisxRetryDoesNotPublishTwice(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	var c collector
	b.Start(c.deliver)
	snapshot(t, b, "s", HistoryRequest{})
	var attempts atomic.Int32
	handler := func(ctx context.Context, payload []byte) error {
		if _, err := b.Publish(ctx, Publication{Stream: "s", Data: string(payload)}); err != nil {
			return err
		}
		if attempts.Add(1) == 1 {
			// Published, then "crashed" before the acknowledgement.
			return fmt.Errorf("node died: %w", ErrUnavailable)
		}
		return nil
	}
	in := newStreamIngester(t, srv, StreamIngesterOptions{ClaimIdle: 200 * time.Millisecond}, handler)
	waitGroup(t, srv, "__anycable__")
	railsXAdd(t, srv, "__anycable__", "payload", "hello")
	eventually(t, 5*time.Second, "the retry", func() bool { return attempts.Load() == 2 })
	eventually(t, 5*time.Second, "the entry deleted", func() bool {
		return srv.Admin.XLen(context.Background(), "__anycable__").Val() == 0
	})
	in.Stop()                    // no handler runs after it
	barrierBroker(t, b, "s", &c) // a delivered duplicate would precede it
	if top := snapshot(t, b, "s", HistoryRequest{}).Top.Offset; top != 1 {
		t.Fatalf("stream top %d after a retried entry, want 1", top)
	}
	if n := c.len(); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
}

// TestRedisxGroupRecreated: Redis loses the stream and the group (FLUSHALL,
// or a restart without persistence); the ingester recreates the group and
// handles what Rails adds next, including entries added before the group
// came back.
func TestRedisxGroupRecreated(t *testing.T) {
	srv := startRedis(t)
	l := newIngestLog()
	newStreamIngester(t, srv, StreamIngesterOptions{}, l.handler("a"))
	waitGroup(t, srv, "__anycable__")
	railsXAdd(t, srv, "__anycable__", "payload", "one")
	eventually(t, 5*time.Second, "the first entry", func() bool { return l.total.Load() == 1 })
	srv.FlushAll()
	railsXAdd(t, srv, "__anycable__", "payload", "two") // before the group exists again
	eventually(t, 10*time.Second, "the entry added after the flush", func() bool { return l.total.Load() == 2 })
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for l.total.Load() < 3 && time.Now().Before(deadline) {
		// Rails retries while Redis is coming back.
		if _, err := srv.Admin.XAdd(context.Background(), &redis.XAddArgs{Stream: "__anycable__", Values: []string{"payload", "three"}}).Result(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "the entry added after the restart", func() bool { return l.total.Load() == 3 })
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count["one"] != 1 || l.count["two"] != 1 || l.count["three"] != 1 {
		t.Fatalf("handled %v", l.count)
	}
}

// TestRedisxLateAckAfterLossSparesNewEntry: the stream is lost while an
// entry's handler runs, and Rails adds an entry that gets the same id (a new
// stream numbers from the clock again: same millisecond). The late
// acknowledgement of the first entry must not delete (or acknowledge) the
// new one. TestRedisxGroupRecreated hits this by chance; here it is forced.
func TestRedisxLateAckAfterLossSparesNewEntry(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after the loss and the new entry, before the late ack
		between func(t *testing.T, srv *redisServer)
	}{
		{"without group", func(*testing.T, *redisServer) {}},
		{"group recreated and entry read by another node", func(t *testing.T, srv *redisServer) {
			srv.Do("XGROUP", "CREATE", "__anycable__", "bx", "0")
			srv.Do("XREADGROUP", "GROUP", "bx", "other-node", "COUNT", "10", "STREAMS", "__anycable__", ">")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRedis(t)
			ctx := context.Background()
			l := newIngestLog()
			record := l.handler("a")
			started, release := make(chan struct{}), make(chan struct{})
			newStreamIngester(t, srv, StreamIngesterOptions{ClaimIdle: 200 * time.Millisecond},
				func(ctx context.Context, payload []byte) error {
					if string(payload) == "one" {
						close(started)
						<-release
					}
					return record(ctx, payload)
				})
			waitGroup(t, srv, "__anycable__")
			id := railsXAdd(t, srv, "__anycable__", "payload", "one")
			<-started
			srv.FlushAll()
			if got := railsXAddID(t, srv, id, "payload", "two"); got != id {
				t.Fatalf("XADD %s gave %s", id, got)
			}
			tc.between(t, srv)
			close(release)
			eventually(t, 10*time.Second, "the entry added after the loss", func() bool { return l.total.Load() == 2 })
			eventually(t, 5*time.Second, "the new entry deleted", func() bool { return srv.Admin.XLen(ctx, "__anycable__").Val() == 0 })
			if pend := srv.Admin.XPending(ctx, "__anycable__", "bx").Val(); pend.Count != 0 {
				t.Fatalf("pending %+v", pend)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.count["one"] != 1 || l.count["two"] != 1 {
				t.Fatalf("handled %v", l.count)
			}
		})
	}
}

// railsXAddID adds an entry with an explicit id.
func railsXAddID(t *testing.T, srv *redisServer, id string, fields ...any) string {
	t.Helper()
	got, err := srv.Admin.Do(context.Background(), append([]any{"XADD", "__anycable__", id}, fields...)...).Text()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRedisPubSubIngester: the legacy adapter receives PUBLISHed payloads,
// and again after Redis restarts.
func TestRedisPubSubIngester(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	l := newIngestLog()
	in, err := NewPubSubIngester(PubSubIngesterOptions{URL: srv.URL(), Timeout: 300 * time.Millisecond}, l.handler("ps"))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	subscribed := func() bool {
		n, err := srv.Admin.PubSubNumSub(ctx, "__anycable__").Result()
		return err == nil && n["__anycable__"] == 1
	}
	eventually(t, 5*time.Second, "the subscription", subscribed)
	for i := 0; i < 10; i++ {
		srv.Admin.Publish(ctx, "__anycable__", fmt.Sprintf(`{"stream":"s","data":"%d"}`, i))
	}
	eventually(t, 5*time.Second, "ten payloads", func() bool { return l.total.Load() == 10 })
	srv.Restart()
	eventually(t, 10*time.Second, "the subscription after the restart", subscribed)
	srv.Admin.Publish(ctx, "__anycable__", "after")
	eventually(t, 5*time.Second, "the payload after the restart", func() bool { return l.total.Load() == 11 })
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the unsubscription", func() bool {
		n, err := srv.Admin.PubSubNumSub(ctx, "__anycable__").Result()
		return err == nil && n["__anycable__"] == 0
	})
}

// TestRedisIngestersLeaveNoGoroutines: Stop ends every goroutine, also when
// Redis is unreachable.
func TestRedisIngestersLeaveNoGoroutines(t *testing.T) {
	srv := startRedis(t)
	noop := func(context.Context, []byte) error { return nil }
	cycle := func(url string) {
		s, err := NewStreamIngester(StreamIngesterOptions{URL: url, BlockTimeout: 100 * time.Millisecond}, noop)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPubSubIngester(PubSubIngesterOptions{URL: url, Timeout: 100 * time.Millisecond}, noop)
		if err != nil {
			t.Fatal(err)
		}
		s.Start(context.Background())
		p.Start(context.Background())
		time.Sleep(150 * time.Millisecond)
		s.Stop()
		p.Stop()
		if err := s.Start(context.Background()); err == nil {
			t.Fatal("a stopped ingester started again")
		}
	}
	cycle(srv.URL())
	base := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		cycle(srv.URL())
		cycle("redis://127.0.0.1:1")
	}
	eventually(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
	// An ingester stopped before it started is fine too.
	s, _ := NewStreamIngester(StreamIngesterOptions{URL: srv.URL()}, noop)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStreamIngester(StreamIngesterOptions{URL: srv.URL()}, nil); err == nil {
		t.Fatal("ingester without a handler")
	}
}

// TestRedisxKeepsOrderAcrossARetry: when the broker cannot store an entry,
// the entries after it wait: they are not published before it.
func TestRedisxKeepsOrderAcrossARetry(t *testing.T) {
	srv := startRedis(t)
	var mu sync.Mutex
	var published []string
	failFirst := atomic.Bool{}
	failFirst.Store(true)
	handler := func(ctx context.Context, payload []byte) error {
		p := string(payload)
		if p == "1" && failFirst.CompareAndSwap(true, false) {
			return fmt.Errorf("%w: broker briefly down", ErrUnavailable)
		}
		mu.Lock()
		published = append(published, p)
		mu.Unlock()
		return nil
	}
	newStreamIngester(t, srv, StreamIngesterOptions{}, handler)
	waitGroup(t, srv, "__anycable__")
	// One XADD pipeline, so the three entries arrive in one read.
	srv.Admin.Pipelined(context.Background(), func(p redis.Pipeliner) error {
		for _, v := range []string{"1", "2", "3"} {
			p.XAdd(context.Background(), &redis.XAddArgs{Stream: "__anycable__", Values: []string{"payload", v}})
		}
		return nil
	})
	eventually(t, 5*time.Second, "all three published", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(published) == 3
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(published, []string{"1", "2", "3"}) {
		t.Fatalf("published %v, want [1 2 3]", published)
	}
}

// TestRedisxRemovesStaleConsumers: consumers that crashed nodes left behind
// are removed once silent long enough, unless they still own entries.
func TestRedisxRemovesStaleConsumers(t *testing.T) {
	old := staleConsumerIdle
	staleConsumerIdle = 200 * time.Millisecond
	defer func() { staleConsumerIdle = old }()
	srv := startRedis(t)
	ctx := context.Background()
	if err := srv.Admin.XGroupCreateMkStream(ctx, "__anycable__", "bx", "$").Err(); err != nil {
		t.Fatal(err)
	}
	srv.Admin.XGroupCreateConsumer(ctx, "__anycable__", "bx", "ghost-idle")
	// A ghost that still owns an entry.
	railsXAdd(t, srv, "__anycable__", "payload", "owned")
	srv.Admin.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "bx", Consumer: "ghost-owner", Streams: []string{"__anycable__", ">"}, Count: 1})
	time.Sleep(300 * time.Millisecond)
	l := newIngestLog()
	newStreamIngester(t, srv, StreamIngesterOptions{ClaimIdle: time.Hour}, l.handler("a"))
	eventually(t, 5*time.Second, "the idle ghost removed", func() bool {
		cs, _ := srv.Admin.XInfoConsumers(ctx, "__anycable__", "bx").Result()
		names := map[string]bool{}
		for _, c := range cs {
			names[c.Name] = true
		}
		return !names["ghost-idle"] && names["ghost-owner"]
	})
}

// An entry that Redis keeps refusing with an error reply (here WRONGTYPE,
// as the broker's publish would get on a key of the wrong type) is tried
// maxEntryAttempts times, counted, acknowledged and passed: the entries
// behind it are published. Before, it was retried forever and blocked them.
func TestRedisxGivesUpOnAPoisonedEntry(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	srv.Admin.Set(ctx, "plain", "v", 0)
	wrongType := srv.Admin.LPush(ctx, "plain", "x").Err()
	if wrongType == nil {
		t.Fatal("no WRONGTYPE error to inject")
	}
	var poisoned, after atomic.Int32
	handler := func(ctx context.Context, payload []byte) error {
		if string(payload) == "poison" {
			poisoned.Add(1)
			return unavailable(wrongType)
		}
		after.Add(1)
		return nil
	}
	in := newStreamIngester(t, srv, StreamIngesterOptions{ClaimIdle: 200 * time.Millisecond}, handler)
	waitGroup(t, srv, "__anycable__")
	railsXAdd(t, srv, "__anycable__", "payload", "poison")
	railsXAdd(t, srv, "__anycable__", "payload", "next")
	eventually(t, 20*time.Second, "the entry behind the poisoned one", func() bool { return after.Load() == 1 })
	if n := poisoned.Load(); n != maxEntryAttempts {
		t.Errorf("poisoned entry tried %d times, want %d", n, maxEntryAttempts)
	}
	if in.DeadEntries() != 1 {
		t.Errorf("dead entries %d", in.DeadEntries())
	}
	eventually(t, 5*time.Second, "every entry finished", func() bool { return srv.Admin.XLen(ctx, "__anycable__").Val() == 0 })
}
