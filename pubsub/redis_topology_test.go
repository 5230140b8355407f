package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cableway/caddy-anycable-sse/internal/redistest"
)

// The Redis broker and the redisx ingester on the deployments other than a
// standalone Redis: a Redis Cluster of 3 masters and a master monitored by
// Sentinel, with real servers. Each deployment is started once per test
// and shared by its subtests, which use prefixes and stream keys of their
// own.

// topology is a running deployment as the broker sees it.
type topology struct {
	kind string
	// urls are the URLs of node A and node B: for Cluster, one seed in the
	// redis+cluster:// form and every node in the comma-list form.
	urls [2]string
	// admin runs the test's own commands (Rails's XADD, checks).
	admin redis.UniversalClient
	// cluster is set for Cluster; sentinel for Sentinel.
	cluster  *redistest.Cluster
	sentinel *redistest.Sentinel
}

func startTopology(t *testing.T, kind string) *topology {
	t.Helper()
	tp := &topology{kind: kind}
	switch kind {
	case "cluster":
		c := redistest.StartCluster(t, 3)
		tp.cluster, tp.admin = c, c.Admin
		tp.urls = [2]string{"redis+cluster://" + c.Addrs()[0], "redis://" + strings.Join(c.Addrs(), ",")}
	case "sentinel":
		s := redistest.StartSentinel(t)
		tp.sentinel, tp.admin = s, s.Admin
		tp.urls = [2]string{s.URL(), s.URL() + "/0"}
	default:
		t.Fatalf("topology %q", kind)
	}
	for _, u := range tp.urls {
		if k, err := CheckRedisURL(u); err != nil || k != kind {
			t.Fatalf("CheckRedisURL(%q) = %q, %v; want %q", u, k, err, kind)
		}
	}
	return tp
}

// serverOf returns the redis-server that holds key.
func (tp *topology) serverOf(key string) *redistest.Server {
	if tp.cluster != nil {
		return tp.cluster.NodeOf(key)
	}
	return tp.sentinel.Master
}

// broker returns a broker of node (0 or 1), closed when the test ends.
func (tp *topology) broker(t *testing.T, node int, o RedisOptions) *RedisBroker {
	t.Helper()
	o.URL = tp.urls[node]
	b, err := NewRedisBroker(o)
	if err != nil {
		t.Fatal(err)
	}
	if k := b.cfg.Kind(); k != tp.kind {
		t.Fatalf("broker on %q is %s", o.URL, k)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// nodes returns two brokers sharing a fresh prefix, with a hub each.
func (tp *topology) nodes(t *testing.T, o RedisOptions) ([2]*RedisBroker, [2]*Hub) {
	t.Helper()
	o.Prefix = fmt.Sprintf("%s%d", tp.kind, redisPrefixSeq.Add(1))
	var bs [2]*RedisBroker
	var hs [2]*Hub
	for i := range bs {
		bs[i] = tp.broker(t, i, o)
		hs[i] = newRedisHub(t, bs[i], HubOptions{})
	}
	return bs, hs
}

// checkHealthy fails if a broker's bus readers do not come back to health,
// or had to resynchronise or saw offsets go back. (A read error alone, such
// as a blocking read outliving its deadline on a loaded machine, is
// harmless: the reader is "failing" until its next read succeeds, so the
// gauge is awaited, not sampled.)
func checkHealthy(t *testing.T, bs ...*RedisBroker) {
	t.Helper()
	for i, b := range bs {
		eventually(t, 10*time.Second, fmt.Sprintf("broker %d's readers healthy", i), func() bool { return b.Stats().FailingReaders == 0 })
		if st := b.Stats(); st.Resyncs != 0 || st.Regressions != 0 {
			t.Errorf("broker %d: %+v", i, st)
		}
	}
}

func TestTopologyCluster(t *testing.T) {
	testTopology(t, startTopology(t, "cluster"))
}

func TestTopologySentinel(t *testing.T) {
	testTopology(t, startTopology(t, "sentinel"))
}

func testTopology(t *testing.T, tp *topology) {
	t.Run("TwoNodes", func(t *testing.T) { topologyTwoNodes(t, tp) })
	t.Run("Recovery", func(t *testing.T) { topologyRecovery(t, tp) })
	t.Run("Idempotency", func(t *testing.T) { topologyIdempotency(t, tp) })
	t.Run("Ingester", func(t *testing.T) { topologyIngester(t, tp) })
	t.Run("LostReply", func(t *testing.T) { topologyLostReply(t, tp) })
	if tp.cluster != nil {
		t.Run("Resharding", func(t *testing.T) { topologyResharding(t, tp) })
	}
}

// topologyTwoNodes: many streams (on Cluster, spread over every master),
// each with a subscriber on both nodes, published to through both nodes at
// once. Every subscriber gets every message of its stream once, in order,
// with the (epoch, offset) the publisher got.
func topologyTwoNodes(t *testing.T, tp *topology) {
	const (
		nStreams  = 48
		perStream = 12
	)
	bs, hs := tp.nodes(t, RedisOptions{})
	streams := make([]string, nStreams)
	recs := make([][2]*recSub, nStreams)
	var subs []*Subscription
	for i := range streams {
		streams[i] = fmt.Sprintf("room-%d", i)
		var tops [2]Position
		for n, h := range hs {
			r := &recSub{sid: fmt.Sprintf("%s@%d", streams[i], n)}
			s, snap := join(t, h, r, streams[i], HistoryRequest{})
			s.Release()
			recs[i][n], tops[n] = r, snap.Top
			subs = append(subs, s)
		}
		if tops[0] != tops[1] || tops[0].Offset != 0 {
			t.Fatalf("%s: the nodes disagree on the empty stream: %+v %+v", streams[i], tops[0], tops[1])
		}
	}
	// One publisher per stream, alternating between the nodes.
	pubs := make([][]Message, nStreams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < perStream; k++ {
				m, err := hs[(i+k)%2].Publish(context.Background(), Publication{Stream: streams[i], Data: fmt.Sprintf("%d/%d", i, k)})
				if err != nil {
					t.Errorf("publish %s #%d: %v", streams[i], k, err)
					return
				}
				pubs[i] = append(pubs[i], m)
			}
			// Transient messages cross nodes too.
			if _, err := hs[(i+1)%2].Publish(context.Background(), Publication{Stream: streams[i], Data: "t", Transient: true}); err != nil {
				t.Errorf("transient publish %s: %v", streams[i], err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i := range streams {
		for _, r := range recs[i] {
			waitGot(t, r, perStream+1)
		}
	}
	for i, st := range streams {
		barrierHub(t, hs[i%2], st, recs[i][:]...) // a duplicate would precede it
	}
	for i, st := range streams {
		epoch := pubs[i][0].Epoch
		for k, m := range pubs[i] {
			if m.Offset != uint64(k+1) || m.Epoch != epoch {
				t.Fatalf("%s: publish %d numbered %s/%d", st, k, m.Epoch, m.Offset)
			}
		}
		for _, r := range recs[i] {
			got := r.messages()
			if len(got) != perStream+1 {
				t.Fatalf("%s got %d messages, want %d", r.sid, len(got), perStream+1)
			}
			for k, m := range got[:perStream] {
				if m.Epoch != pubs[i][k].Epoch || m.Offset != pubs[i][k].Offset || m.Data != pubs[i][k].Data || m.Stream != st {
					t.Fatalf("%s message %d: %+v, published %+v", r.sid, k, m, pubs[i][k])
				}
			}
			if tr := got[perStream]; tr.Offset != 0 || tr.Data != "t" || !tr.Transient {
				t.Fatalf("%s transient %+v", r.sid, tr)
			}
			if rs := r.resetList(); len(rs) != 0 {
				t.Fatalf("%s resets %v", r.sid, rs)
			}
		}
	}
	// Both nodes read the same top for every stream.
	for _, st := range streams {
		a := snapshot(t, bs[0], st, HistoryRequest{}).Top
		b := snapshot(t, bs[1], st, HistoryRequest{}).Top
		if a != b || a.Offset != perStream {
			t.Fatalf("%s: tops %+v and %+v, want offset %d", st, a, b, perStream)
		}
	}
	if tp.cluster != nil {
		// The partitions (hash tags) are spread over every master, and each
		// stream's keys sit with its partition's bus.
		perNode := map[string]int{}
		for _, p := range bs[0].parts {
			perNode[tp.serverOf(p.busKey).Addr()]++
		}
		if len(perNode) != len(tp.cluster.Nodes) {
			t.Fatalf("the %d bus partitions are on %d of %d masters: %v", len(bs[0].parts), len(perNode), len(tp.cluster.Nodes), perNode)
		}
		ctx := context.Background()
		for _, st := range streams {
			p := bs[0].part(st)
			n := tp.serverOf(p.busKey)
			if n.Admin.Exists(ctx, p.busKey, p.metaKey(st), p.histKey(st)).Val() != 3 {
				t.Fatalf("%s: the bus, meta and history keys are not all on %s", st, n.Addr())
			}
		}
		t.Logf("16 bus partitions per master: %v", perNode)
	}
	for i, s := range subs {
		hs[i%2].Leave(s)
	}
	checkHealthy(t, bs[:]...)
}

// topologyRecovery: a client that read up to some position on one node
// recovers the rest on the other, then continues live; the recovery
// decision (trimmed, epoch mismatch, ahead, since) is the same from both
// nodes.
func topologyRecovery(t *testing.T, tp *topology) {
	const limit = 10
	bs, hs := tp.nodes(t, RedisOptions{HistoryLimit: limit})
	for i := 0; i < 6; i++ {
		st := fmt.Sprintf("rec-%d", i)
		var pubs []Message
		for k := 0; k < 20; k++ {
			pubs = append(pubs, pub(t, hs[k%2], Publication{Stream: st, Data: fmt.Sprint(k)}))
		}
		e := pubs[0].Epoch
		since := pubs[0].Time / 1000
		for n, b := range bs {
			check := func(req HistoryRequest, status RecoveryStatus, reason string, want []uint64) {
				t.Helper()
				s := snapshot(t, b, st, req)
				if s.Status != status || s.Reason != reason || !slices.Equal(offsets(s.Messages), want) ||
					s.Top != (Position{Epoch: e, Offset: 20}) {
					t.Fatalf("%s node %d %+v: %v %q %v top %+v; want %v %q %v", st, n, req, s.Status, s.Reason,
						offsets(s.Messages), s.Top, status, reason, want)
				}
				for _, m := range s.Messages {
					if m.Data != pubs[m.Offset-1].Data || m.Time != pubs[m.Offset-1].Time {
						t.Fatalf("%s node %d: recovered %+v, published %+v", st, n, m, pubs[m.Offset-1])
					}
				}
			}
			check(HistoryRequest{From: &Position{Epoch: e, Offset: 12}}, Recovered, "", seq(13, 20))
			check(HistoryRequest{From: &Position{Epoch: e, Offset: 20}}, Recovered, "", []uint64{})
			check(HistoryRequest{From: &Position{Epoch: e, Offset: 5}}, NotRecovered, "trimmed", []uint64{})
			check(HistoryRequest{From: &Position{Epoch: "old", Offset: 5}}, NotRecovered, "epoch mismatch", []uint64{})
			check(HistoryRequest{From: &Position{Epoch: e, Offset: 25}}, NotRecovered, "ahead of the stream", []uint64{})
			check(HistoryRequest{Since: since}, Recovered, "", seq(11, 20))
		}
		// A client that read up to 12 through node A resumes on node B and
		// continues live there.
		r := &recSub{sid: st}
		s, snap := join(t, hs[1], r, st, HistoryRequest{From: &Position{Epoch: e, Offset: 12}})
		if snap.Status != Recovered || !slices.Equal(offsets(snap.Messages), seq(13, 20)) {
			t.Fatalf("%s: resume on node B: %v %q %v", st, snap.Status, snap.Reason, offsets(snap.Messages))
		}
		s.Release()
		if m := pub(t, hs[0], Publication{Stream: st, Data: "after"}); m.Offset != 21 || m.Epoch != e {
			t.Fatalf("%s: publish after the resume numbered %s/%d", st, m.Epoch, m.Offset)
		}
		waitGot(t, r, 1)
		if got := seen(snap, r); !slices.Equal(got, seq(13, 21)) {
			t.Fatalf("%s: the resumed client saw %v", st, got)
		}
		hs[1].Leave(s)
	}
	checkHealthy(t, bs[:]...)
}

// topologyIdempotency: the same idempotency key published through both
// nodes is one message.
func topologyIdempotency(t *testing.T, tp *topology) {
	bs, hs := tp.nodes(t, RedisOptions{})
	r := &recSub{sid: "idem"}
	s, _ := join(t, hs[0], r, "idem", HistoryRequest{})
	s.Release()
	var first Message
	for i := 0; i < 4; i++ {
		ctx := WithIdempotencyKey(context.Background(), "k1")
		m, err := hs[i%2].Publish(ctx, Publication{Stream: "idem", Data: "once"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = m
		} else if m.Epoch != first.Epoch || m.Offset != first.Offset || m.Time != first.Time {
			t.Fatalf("repeat %d through node %d: %s/%d, first %s/%d", i, i%2, m.Epoch, m.Offset, first.Epoch, first.Offset)
		}
	}
	m2 := pub(t, hs[1], Publication{Stream: "idem", Data: "next"})
	waitGot(t, r, 2)
	barrierHub(t, hs[1], "idem", r) // a duplicate would precede it
	if got := r.offsets(); !slices.Equal(got, []uint64{1, 2}) || m2.Offset != 2 {
		t.Fatalf("deliveries %v, next publish %d", got, m2.Offset)
	}
	hs[0].Leave(s)
	checkHealthy(t, bs[:]...)
}

// topologyIngester: two redisx ingesters (one per node) share the entries
// Rails adds; each entry is handled once, acknowledged and deleted, and its
// message reaches the subscribers of both nodes once.
func topologyIngester(t *testing.T, tp *topology) {
	const (
		n        = 200
		nStreams = 8
	)
	bs, hs := tp.nodes(t, RedisOptions{})
	key := bs[0].prefix + ":rx" // Rails's stream
	ctx := context.Background()
	var handled sync.Map // payload -> *atomic.Int32
	var perNode [2]atomic.Int32
	var badKeys atomic.Int32
	ins := make([]*StreamIngester, 2)
	for i := range ins {
		h := hs[i]
		in, err := NewStreamIngester(StreamIngesterOptions{URL: tp.urls[i], Stream: key, Count: 5,
			BlockTimeout: 300 * time.Millisecond}, func(ctx context.Context, payload []byte) error {
			var v struct{ Stream, Data string }
			if err := json.Unmarshal(payload, &v); err != nil {
				return err
			}
			if !strings.HasPrefix(IdempotencyKey(ctx), "rx:"+key+":") {
				badKeys.Add(1)
			}
			c, _ := handled.LoadOrStore(string(payload), new(atomic.Int32))
			c.(*atomic.Int32).Add(1)
			perNode[i].Add(1)
			_, err := h.Publish(ctx, Publication{Stream: v.Stream, Data: v.Data})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Stop() })
		ins[i] = in
	}
	recs := make([][2]*recSub, nStreams)
	var subs []*Subscription
	for i := range recs {
		for nd, h := range hs {
			recs[i][nd] = &recSub{sid: fmt.Sprintf("rx-%d@%d", i, nd)}
			s, _ := join(t, h, recs[i][nd], fmt.Sprintf("rx-%d", i), HistoryRequest{})
			s.Release()
			subs = append(subs, s)
		}
	}
	eventually(t, 5*time.Second, "the consumer group", func() bool {
		gs, err := tp.admin.XInfoGroups(ctx, key).Result()
		return err == nil && len(gs) == 1
	})
	payloads := make([]string, n)
	for i := range payloads {
		payloads[i] = fmt.Sprintf(`{"stream":"rx-%d","data":"%d"}`, i%nStreams, i)
		if err := tp.admin.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"payload", payloads[i]}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range recs {
		for _, r := range recs[i] {
			waitGot(t, r, n/nStreams)
		}
	}
	eventually(t, 5*time.Second, "the stream emptied", func() bool { return tp.admin.XLen(ctx, key).Val() == 0 })
	// No handler runs once both ingesters stopped, and a publish it made
	// is delivered before the barrier's marker.
	for _, in := range ins {
		if err := in.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range recs {
		barrierHub(t, hs[i%2], fmt.Sprintf("rx-%d", i), recs[i][:]...)
	}
	for _, p := range payloads {
		c, ok := handled.Load(p)
		if !ok || c.(*atomic.Int32).Load() != 1 {
			t.Fatalf("%s handled %v times", p, c)
		}
	}
	if badKeys.Load() != 0 {
		t.Fatalf("%d handlers without the entry's idempotency key", badKeys.Load())
	}
	for i := range recs {
		for _, r := range recs[i] {
			if got := r.offsets(); !slices.Equal(got, seq(1, n/nStreams)) {
				t.Fatalf("%s: offsets %v", r.sid, got)
			}
		}
	}
	if pend, err := tp.admin.XPending(ctx, key, DefaultIngestGroup).Result(); err != nil || pend.Count != 0 {
		t.Fatalf("pending %+v %v", pend, err)
	}
	for i, s := range subs {
		hs[i%2].Leave(s)
	}
	t.Logf("%d entries on %s: %d handled by node A, %d by node B", n, tp.serverOf(key).Addr(), perNode[0].Load(), perNode[1].Load())
	checkHealthy(t, bs[:]...)
}

// topologyLostReply: a publish whose reply never comes (the Redis that
// holds the stream is frozen) fails within BlockTimeout and is sent once:
// when Redis resumes it runs once, not once per client-side retry (a
// ClusterClient retried it up to MaxRedirects times whatever MaxRetries
// said). A snapshot fails within BlockTimeout too.
func topologyLostReply(t *testing.T, tp *topology) {
	const block = 500 * time.Millisecond
	bs, hs := tp.nodes(t, RedisOptions{BlockTimeout: block})
	r := &recSub{sid: "lost"}
	s, _ := join(t, hs[1], r, "lost", HistoryRequest{})
	s.Release()
	// Concurrent publishes leave several idle connections in node A's
	// pool: a client-side retry would find one ready to send on.
	const warm = 8
	var wg sync.WaitGroup
	for range warm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := hs[0].Publish(context.Background(), Publication{Stream: "lost", Data: "warm"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitGot(t, r, warm)
	srv := tp.serverOf(bs[0].part("lost").busKey)
	srv.Freeze()
	start := time.Now()
	m, err := hs[0].Publish(context.Background(), Publication{Stream: "lost", Data: "2"})
	took := time.Since(start)
	start = time.Now()
	_, serr := bs[1].Snapshot(context.Background(), "lost", HistoryRequest{})
	stook := time.Since(start)
	srv.Thaw()
	if !errors.Is(err, ErrUnavailable) || m != (Message{}) {
		t.Fatalf("publish to a frozen Redis: %+v %v", m, err)
	}
	if !errors.Is(serr, ErrUnavailable) {
		t.Fatalf("snapshot of a frozen Redis: %v", serr)
	}
	// The bound says "BlockTimeout, not go-redis's 3 s default or never",
	// with room for a busy machine; retries are caught by the top below.
	if took > 5*block || stook > 5*block {
		t.Errorf("a frozen Redis failed a publish after %v, a snapshot after %v (block %v)", took, stook, block)
	}
	t.Logf("a frozen Redis failed a publish after %v, a snapshot after %v",
		took.Round(time.Millisecond), stook.Round(time.Millisecond))
	top := func() uint64 {
		s, err := bs[0].Snapshot(context.Background(), "lost", HistoryRequest{})
		if err != nil {
			return 0
		}
		return s.Top.Offset
	}
	eventually(t, 5*time.Second, "the timed-out publish to run", func() bool { return top() >= warm+1 })
	// Every copy of the timed-out publish was sent while Redis was frozen:
	// it had them in its socket buffers when it resumed and ran them before
	// anything sent after the thaw, such as the marker of this barrier. So
	// once the marker is in, the top and the deliveries are final.
	barrierHub(t, hs[0], "lost", r)
	if n := top(); n != warm+1 {
		t.Fatalf("top %d: the timed-out publish ran %d times", n, n-warm)
	}
	if got := r.offsets(); !slices.Equal(got, seq(1, warm+1)) {
		t.Fatalf("deliveries %v", got)
	}
	hs[1].Leave(s)
}

// topologyResharding (Cluster): the slot of a partition moves to another
// master while both nodes run. Their clients still cache the old owner:
// publishes and snapshots follow the MOVED redirect (none fails), the bus
// readers follow the partition, and the subscribers of both nodes get
// every message once, in order, with no reset.
func topologyResharding(t *testing.T, tp *topology) {
	bs, hs := tp.nodes(t, RedisOptions{BlockTimeout: 500 * time.Millisecond})
	const st = "moving"
	p := bs[0].part(st)
	var recs [2]*recSub
	var subs [2]*Subscription
	for n, h := range hs {
		recs[n] = &recSub{sid: fmt.Sprintf("moving@%d", n)}
		subs[n], _ = join(t, h, recs[n], st, HistoryRequest{})
		subs[n].Release()
	}
	var pubs []Message
	for k := 0; k < 5; k++ {
		pubs = append(pubs, pub(t, hs[k%2], Publication{Stream: st, Data: fmt.Sprint(k)}))
	}
	for _, r := range recs {
		waitGot(t, r, 5)
	}
	from := tp.cluster.NodeOf(p.busKey)
	to := tp.cluster.Nodes[0]
	if to == from {
		to = tp.cluster.Nodes[1]
	}
	start := time.Now()
	tp.cluster.MoveSlot(p.busKey, to)
	t.Logf("partition %d moved from %s to %s in %v", p.idx, from.Addr(), to.Addr(), time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	if n := to.Admin.Exists(ctx, p.busKey, p.metaKey(st), p.histKey(st)).Val(); n != 3 {
		t.Fatalf("%d of the partition's 3 keys on the new master", n)
	}
	for k := 5; k < 10; k++ {
		pubs = append(pubs, pub(t, hs[k%2], Publication{Stream: st, Data: fmt.Sprint(k)}))
	}
	for k, m := range pubs {
		if m.Offset != uint64(k+1) || m.Epoch != pubs[0].Epoch {
			t.Fatalf("publish %d numbered %s/%d", k, m.Epoch, m.Offset)
		}
	}
	for _, r := range recs {
		waitGot(t, r, 10)
	}
	barrierHub(t, hs[0], st, recs[:]...) // a duplicate would precede it
	for _, r := range recs {
		if got := r.messages(); len(got) != 10 {
			t.Fatalf("%s got %v", r.sid, offsets(got))
		} else {
			for k, m := range got {
				if m.Epoch != pubs[k].Epoch || m.Offset != pubs[k].Offset || m.Data != pubs[k].Data {
					t.Fatalf("%s message %d: %+v, published %+v", r.sid, k, m, pubs[k])
				}
			}
		}
		if rs := r.resetList(); len(rs) != 0 {
			t.Fatalf("%s resets %v", r.sid, rs)
		}
	}
	for n, b := range bs {
		s := snapshot(t, b, st, HistoryRequest{From: &Position{Epoch: pubs[0].Epoch, Offset: 3}})
		if s.Status != Recovered || !slices.Equal(offsets(s.Messages), seq(4, 10)) {
			t.Fatalf("node %d: recovery after the move: %v %q %v", n, s.Status, s.Reason, offsets(s.Messages))
		}
		checkHealthy(t, b)
		st := b.Stats()
		t.Logf("node %d: %d bus read errors while the slot moved", n, st.BusErrors)
	}
	for n, h := range hs {
		h.Leave(subs[n])
	}
}
