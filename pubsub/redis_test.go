package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var redisPrefixSeq atomic.Int64

// newRedisTestBroker returns a started broker on srv with a prefix of its
// own (so tests sharing a server do not meet), closed when the test ends.
// clk, when not nil, is the scripts' clock.
func newRedisTestBroker(t testing.TB, srv *redisServer, o RedisOptions, clk *fakeClock) *RedisBroker {
	t.Helper()
	o.URL = srv.URL()
	if o.Prefix == "" {
		o.Prefix = fmt.Sprintf("t%d", redisPrefixSeq.Add(1))
	}
	b, err := NewRedisBroker(o)
	if err != nil {
		t.Fatal(err)
	}
	if clk != nil {
		b.now = clk.Now
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// newRedisHub returns a started hub over b (another node when b is).
func newRedisHub(t testing.TB, b *RedisBroker, opts HubOptions) *Hub {
	t.Helper()
	h := NewHub(b, opts)
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRedisRecoveryDecision runs the recovery table (recovery_test.go) that
// the memory broker passes: the Redis broker must decide exactly the same.
func TestRedisRecoveryDecision(t *testing.T) {
	srv := startRedis(t)
	for _, tc := range recoveryCases() {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			b := newRedisTestBroker(t, srv, RedisOptions{HistoryLimit: tc.limit, HistoryTTL: tc.ttl}, clk)
			if err := b.Start(nil); err != nil {
				t.Fatal(err)
			}
			checkRecoveryCase(t, tc, b, clk, true)
		})
	}
}

// TestRedisHistoryGone: a meta without its history (the history key expired
// or was evicted) cannot recover a client behind the top.
func TestRedisHistoryGone(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	ms := publishN(t, b, "s", 4)
	srv.Do("DEL", b.part("s").histKey("s"))
	s := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: ms[0].Epoch, Offset: 2}})
	if s.Status != NotRecovered || s.Reason != "expired" || s.Top.Offset != 4 {
		t.Fatalf("snapshot %+v", s)
	}
	if s := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: ms[0].Epoch, Offset: 4}}); s.Status != Recovered {
		t.Fatalf("up-to-date client: %+v", s)
	}
}

func TestRedisSetLimits(t *testing.T) {
	srv := startRedis(t)
	clk := newFakeClock()
	testSetLimits(t, newRedisTestBroker(t, srv, RedisOptions{HistoryLimit: 100, HistoryTTL: time.Hour}, clk), clk)
}

func TestRedisUnknownStreamCreatesNothing(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	for i := 0; i < 100; i++ {
		snapshot(t, b, fmt.Sprint("chosen-", i), HistoryRequest{Since: 1})
	}
	if n := srv.Admin.DBSize(context.Background()).Val(); n != 0 {
		keys := srv.Admin.Keys(context.Background(), "*").Val()
		t.Fatalf("100 snapshots of unknown names left %d keys: %.5v", n, keys)
	}
	m1 := checkUnknownStreamCreatesNothing(t, b)
	// Another stream gets another epoch; the meta carries a TTL.
	if o := publishN(t, b, "other", 1)[0]; o.Epoch == m1.Epoch {
		t.Fatalf("two streams share epoch %q", o.Epoch)
	}
	if ttl := srv.Admin.TTL(context.Background(), b.part("fresh").metaKey("fresh")).Val(); ttl <= 0 {
		t.Fatalf("meta TTL %v", ttl)
	}
}

// collector records what a broker delivers.
type collector struct {
	mu  sync.Mutex
	got []Message
}

func (c *collector) deliver(m Message) {
	c.mu.Lock()
	c.got = append(c.got, m)
	c.mu.Unlock()
}

func (c *collector) list() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func TestRedisOffsetsTransientAndMeta(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	var c collector
	if err := b.Start(c.deliver); err != nil {
		t.Fatal(err)
	}
	snapshot(t, b, "s", HistoryRequest{}) // takes the bus cursors
	ctx := context.Background()
	m1, err := b.Publish(ctx, Publication{Stream: "s", Data: "1", BroadcastType: "typed"})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.Publish(ctx, Publication{Stream: "s", Data: "t", Transient: true})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := b.Publish(ctx, Publication{Stream: "s", Data: "2", ExcludeSocket: "sid-1"})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Offset != 1 || m2.Offset != 2 || tr.Offset != 0 {
		t.Fatalf("offsets %d %d transient %d", m1.Offset, m2.Offset, tr.Offset)
	}
	if tr.Epoch != m1.Epoch || m2.Epoch != m1.Epoch {
		t.Fatalf("epochs %q %q %q", m1.Epoch, tr.Epoch, m2.Epoch)
	}
	if d := time.Since(time.UnixMilli(m1.Time)); d < -time.Second || d > 5*time.Second {
		t.Fatalf("time %d is %v from now", m1.Time, d)
	}
	eventually(t, 5*time.Second, "three deliveries", func() bool { return c.len() >= 3 })
	got := c.list()
	if len(got) != 3 {
		t.Fatalf("delivered %+v", got)
	}
	want := []Message{m1, tr, m2}
	for i := range want {
		w := want[i]
		w.Transient = w.Offset == 0
		if got[i] != w {
			t.Errorf("delivery %d: %+v, want %+v", i, got[i], w)
		}
	}
	s := snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: m1.Epoch}})
	if !slices.Equal(offsets(s.Messages), []uint64{1, 2}) || s.Top.Offset != 2 {
		t.Fatalf("history %v top %d: the transient message must not be stored", offsets(s.Messages), s.Top.Offset)
	}
	if h := s.Messages; h[0].BroadcastType != "typed" || h[1].ExcludeSocket != "sid-1" || h[0].Data != "1" || h[0].Time != m1.Time {
		t.Fatalf("history lost fields: %+v", h)
	}
	if _, err := b.Publish(ctx, Publication{}); err == nil {
		t.Fatal("publish without a stream succeeded")
	}
	// Stream names with tags, slashes and spaces stay in their partition.
	for _, name := range []string{"a{b}c", "{x}", "chat/1/2", "with space"} {
		m := publishN(t, b, name, 2)[1]
		s := snapshot(t, b, name, HistoryRequest{From: &Position{Epoch: m.Epoch, Offset: 0}})
		if s.Status != Recovered || len(s.Messages) != 2 || s.Messages[1].Stream != name {
			t.Fatalf("stream %q: %+v", name, s)
		}
	}
}

func TestRedisIdempotentPublish(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	var c collector
	b.Start(c.deliver)
	snapshot(t, b, "s", HistoryRequest{})
	ctx := WithIdempotencyKey(context.Background(), "k1")
	m1, err := b.Publish(ctx, Publication{Stream: "s", Data: "x"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := b.Publish(ctx, Publication{Stream: "s", Data: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Offset != 1 || m2.Offset != 1 || m1.Epoch != m2.Epoch || m1.Time != m2.Time {
		t.Fatalf("retry gave %+v, first %+v", m2, m1)
	}
	m3, _ := b.Publish(WithIdempotencyKey(context.Background(), "k2"), Publication{Stream: "s", Data: "y"})
	o, _ := b.Publish(ctx, Publication{Stream: "other", Data: "z"}) // keys are per stream
	if m3.Offset != 2 || o.Offset != 1 {
		t.Fatalf("second key %d, other stream %d", m3.Offset, o.Offset)
	}
	eventually(t, 5*time.Second, "deliveries", func() bool { return c.len() >= 3 })
	barrierBroker(t, b, "s", &c) // a delivered duplicate of "s" would precede it
	if n := c.len(); n != 3 {
		t.Fatalf("%d deliveries, want 3 (the duplicate must not be delivered)", n)
	}
	if n := srv.Admin.XLen(context.Background(), b.part("s").histKey("s")).Val(); n != 2 {
		t.Fatalf("history holds %d entries, want 2", n)
	}
}

func TestRedisOptionsAndNoIOConstructor(t *testing.T) {
	bad := []RedisOptions{
		{URL: ""},
		{URL: "localhost:6379"},
		{URL: "http://localhost"},
		{URL: "redis://localhost", Prefix: "a{b"},
		{URL: "redis://localhost", HistoryTTL: time.Hour, MetaTTL: time.Minute},
		{URL: "redis://localhost", Partitions: -1},
		{URL: "redis://localhost", BusMaxLen: 1},
		{URL: "redis://localhost", BlockTimeout: time.Millisecond},
		{URL: "redis+sentinel://localhost:26379"},
		{URL: "redis://h1:1,h2:1/3"},
	}
	for _, o := range bad {
		if _, err := NewRedisBroker(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	kinds := map[string]string{
		"redis://:secret@localhost:6379/2":                      "standalone",
		"rediss://user:pw@cache.example:6380":                   "standalone",
		"unix:///var/run/redis.sock?db=1":                       "standalone",
		"redis://:pw@h1:7000,h2:7001,h3:7002":                   "cluster",
		"redis://h1:7000,redis://h2:7001":                       "cluster",
		"redis+cluster://h1:7000":                               "cluster",
		"redis://h1:7000?addr=h2:7001&cluster=true":             "cluster",
		"redis+sentinel://:pw@s1:26379,s2:26379/mymaster/1":     "sentinel",
		"rediss+sentinel://s1/mymaster?sentinel_password=other": "sentinel",
	}
	for u, want := range kinds {
		got, err := CheckRedisURL(u)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", u, got, err, want)
		}
	}
	if _, err := CheckRedisURL("redis://user:hunter2@h1:1,h2"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v must exist and hide the password", err)
	}
	// A broker on a port where nothing listens: the constructor does no
	// I/O; a publish fails with ErrUnavailable and no message.
	b, err := NewRedisBroker(RedisOptions{URL: "redis://127.0.0.1:1", BlockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m, err := b.Publish(context.Background(), Publication{Stream: "s"})
	if !errors.Is(err, ErrUnavailable) || m != (Message{}) {
		t.Fatalf("publish without Redis: %+v %v", m, err)
	}
	if _, err := b.Snapshot(context.Background(), "s", HistoryRequest{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("snapshot without Redis: %v", err)
	}
	// go-redis must never re-send a publish on its own (MaxRetries -1,
	// which go-redis stores as 0 once initialised; 0 would have become 3).
	for _, c := range []any{b.cmd, b.rd} {
		if o := c.(*redis.Client).Options(); o.MaxRetries != 0 || !o.ContextTimeoutEnabled || o.ReadTimeout != 200*time.Millisecond {
			t.Fatalf("client options: retries %d, context timeouts %v, read timeout %v", o.MaxRetries, o.ContextTimeoutEnabled, o.ReadTimeout)
		}
	}
	if err := b.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ping without Redis: %v", err)
	}
	b.Close()
	if _, err := b.Publish(context.Background(), Publication{Stream: "s"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// TestRedisTwoNodes: two brokers with a hub each on one Redis behave as
// one server.
func TestRedisTwoNodes(t *testing.T) {
	srv := startRedis(t)
	prefix := fmt.Sprintf("two%d", redisPrefixSeq.Add(1))
	ba := newRedisTestBroker(t, srv, RedisOptions{Prefix: prefix}, nil)
	bb := newRedisTestBroker(t, srv, RedisOptions{Prefix: prefix}, nil)
	ha, hb := newRedisHub(t, ba, HubOptions{}), newRedisHub(t, bb, HubOptions{})

	ra, rb := &recSub{sid: "a"}, &recSub{sid: "b"}
	sa, snapA := join(t, ha, ra, "room", HistoryRequest{})
	sa.Release()
	sb, snapB := join(t, hb, rb, "room", HistoryRequest{})
	sb.Release()
	if snapA.Top != snapB.Top || snapA.Top.Epoch != "" {
		t.Fatalf("nodes disagree on the empty stream: %+v %+v", snapA.Top, snapB.Top)
	}
	var pubs []Message
	for i := 0; i < 20; i++ {
		h := ha
		if i%2 == 1 {
			h = hb
		}
		pubs = append(pubs, pub(t, h, Publication{Stream: "room", Data: fmt.Sprint(i)}))
	}
	// Transient messages cross nodes too.
	pub(t, hb, Publication{Stream: "room", Data: "t", Transient: true})
	for i, m := range pubs {
		if m.Offset != uint64(i+1) || m.Epoch != pubs[0].Epoch {
			t.Fatalf("publish %d numbered %s/%d", i, m.Epoch, m.Offset)
		}
	}
	for _, r := range []*recSub{ra, rb} {
		eventually(t, 5*time.Second, "deliveries on "+r.sid, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.got) >= 21
		})
	}
	barrierHub(t, ha, "room", ra, rb) // a duplicate would precede it
	for _, r := range []*recSub{ra, rb} {
		r.mu.Lock()
		got := slices.Clone(r.got)
		r.mu.Unlock()
		if len(got) != 21 {
			t.Fatalf("%s got %d messages", r.sid, len(got))
		}
		for i, m := range got[:20] {
			if m.Offset != pubs[i].Offset || m.Epoch != pubs[i].Epoch || m.Data != pubs[i].Data {
				t.Fatalf("%s message %d: %+v, published %+v", r.sid, i, m, pubs[i])
			}
		}
		if got[20].Offset != 0 || got[20].Data != "t" {
			t.Fatalf("%s transient %+v", r.sid, got[20])
		}
		if rs := r.resetList(); len(rs) != 0 {
			t.Fatalf("%s resets %v", r.sid, rs)
		}
	}
	// A client that read up to 12 on node A resumes on node B.
	rc := &recSub{sid: "c"}
	sc, snapC := join(t, hb, rc, "room", HistoryRequest{From: &Position{Epoch: pubs[11].Epoch, Offset: 12}})
	if snapC.Status != Recovered || !slices.Equal(offsets(snapC.Messages), seq(13, 20)) {
		t.Fatalf("resume on node B: %v %q %v", snapC.Status, snapC.Reason, offsets(snapC.Messages))
	}
	sc.Release()
	m := pub(t, ha, Publication{Stream: "room", Data: "after"})
	eventually(t, 5*time.Second, "live after resume", func() bool { return slices.Equal(rc.offsets(), []uint64{21}) })
	if m.Offset != 21 {
		t.Fatalf("offset %d", m.Offset)
	}
	ha.Leave(sa)
	hb.Leave(sb)
	hb.Leave(sc)
}

// TestRedisRandomisedTwoNodes: clients join and leave random streams on
// random nodes while publishers publish through random nodes. Every client
// must see every offset of its streams once, in order, with no reset.
func TestRedisRandomisedTwoNodes(t *testing.T) {
	const (
		nStreams    = 4
		nSubs       = 30
		nPublishers = 4
		perPub      = 400
	)
	srv := startRedis(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	prefix := fmt.Sprintf("rnd%d", redisPrefixSeq.Add(1))
	opts := RedisOptions{Prefix: prefix, HistoryLimit: nPublishers * perPub, Partitions: 4}
	hubs := make([]*Hub, 2)
	for i := range hubs {
		hubs[i] = newRedisHub(t, newRedisTestBroker(t, srv, opts, nil), HubOptions{JoinBufferLimit: nPublishers * perPub})
	}
	streams := make([]string, nStreams)
	for i := range streams {
		streams[i] = fmt.Sprintf("stream-%d", i)
	}
	var pubDone atomic.Bool
	var subWG sync.WaitGroup
	pubs := startRandomPublishers(t, seed, streams, nPublishers, perPub, 300*time.Microsecond, func(rng *rand.Rand) *Hub { return hubs[rng.IntN(2)] })
	subs := make([]*randSub, nSubs)
	var switches atomic.Int64
	for i := range subs {
		r := &randSub{t: t, sid: fmt.Sprintf("sub-%d", i),
			epoch: map[string]string{}, start: map[string]uint64{}, rec: map[string][]uint64{}}
		subs[i] = r
		subWG.Add(1)
		go func() {
			defer subWG.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(1000+i)))
			last := -1
			for !pubDone.Load() {
				n := rng.IntN(2)
				if last >= 0 && n != last {
					switches.Add(1)
				}
				last = n
				r.session(hubs[n], streams[rng.IntN(nStreams)], func() {
					time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
				})
				if rng.IntN(3) == 0 {
					time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
				}
			}
		}()
	}
	pubs.wg.Wait()
	pubDone.Store(true)
	subWG.Wait()
	for i, h := range hubs {
		if h.Subscriptions() != 0 || h.Streams() != 0 {
			t.Fatalf("node %d after everyone left: %d subscriptions on %d streams", i, h.Subscriptions(), h.Streams())
		}
	}
	tops := map[string]uint64{}
	for _, st := range streams {
		tops[st] = snapshot(t, hubs[0].Broker(), st, HistoryRequest{}).Top.Offset
	}
	checkRandomised(t, subs, tops, pubs.published.Load(), func(i int) *Hub { return hubs[i%2] },
		fmt.Sprintf("published %d (+%d transient) on %d streams through 2 nodes; %d subscribers, %d node switches",
			pubs.published.Load(), pubs.transients.Load(), nStreams, nSubs, switches.Load()))
}
