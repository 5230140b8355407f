package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recSub is a Subscriber that records what it receives.
type recSub struct {
	sid string

	mu     sync.Mutex
	got    []Message
	resets []string
}

func (r *recSub) Deliver(s *Subscription, d *Delivery) {
	r.mu.Lock()
	r.got = append(r.got, d.Msg)
	r.mu.Unlock()
}

func (r *recSub) Reset(s *Subscription, reason string) {
	r.mu.Lock()
	r.resets = append(r.resets, reason)
	r.mu.Unlock()
}

func (r *recSub) SocketID() string { return r.sid }

func (r *recSub) offsets() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return offsets(r.got)
}

func (r *recSub) resetList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.resets)
}

// fakeBroker lets a test emit any message sequence (gaps, epoch changes).
type fakeBroker struct {
	starts  atomic.Int32
	deliver func(Message)
	snap    func(stream string, req HistoryRequest) (Snapshot, error)
}

func (f *fakeBroker) Start(deliver func(Message)) error {
	f.starts.Add(1)
	f.deliver = deliver
	return nil
}

func (f *fakeBroker) Publish(ctx context.Context, p Publication) (Message, error) {
	return Message{}, errors.New("fake broker: use emit")
}

func (f *fakeBroker) Snapshot(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error) {
	return f.snap(stream, req)
}

func (f *fakeBroker) Close() error { return nil }

func (f *fakeBroker) emit(stream, epoch string, offset uint64) {
	f.deliver(Message{Publication: Publication{Stream: stream, Data: fmt.Sprint(offset)}, Epoch: epoch, Offset: offset})
}

// hookBroker runs hooks around the snapshot of another broker.
type hookBroker struct {
	Broker
	before, after func()
}

func (h *hookBroker) Snapshot(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error) {
	if h.before != nil {
		h.before()
	}
	s, err := h.Broker.Snapshot(ctx, stream, req)
	if h.after != nil {
		h.after()
	}
	return s, err
}

func newMemoryHub(t testing.TB, b Broker, opts HubOptions) *Hub {
	t.Helper()
	h := NewHub(b, opts)
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func pub(t testing.TB, h *Hub, p Publication) Message {
	t.Helper()
	m, err := h.Publish(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func join(t testing.TB, h *Hub, sub Subscriber, stream string, req HistoryRequest) (*Subscription, Snapshot) {
	t.Helper()
	s, snap, err := h.Join(context.Background(), sub, "id", stream, req)
	if err != nil {
		t.Fatal(err)
	}
	return s, snap
}

// seen is what a client received: the snapshot's history, then live.
func seen(snap Snapshot, r *recSub) []uint64 {
	return append(offsets(snap.Messages), r.offsets()...)
}

func TestHubStartIdempotent(t *testing.T) {
	f := &fakeBroker{}
	h := NewHub(f, HubOptions{})
	for i := 0; i < 3; i++ {
		if err := h.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.starts.Load(); n != 1 {
		t.Fatalf("broker started %d times", n)
	}
	if h.Broker() != Broker(f) {
		t.Fatal("Broker() is not the hub's broker")
	}
}

func TestHubPublishBetweenRegistrationAndSnapshot(t *testing.T) {
	mb := NewMemoryBroker(MemoryOptions{})
	hb := &hookBroker{Broker: mb}
	h := newMemoryHub(t, hb, HubOptions{})
	e := pub(t, h, Publication{Stream: "s", Data: "1"}).Epoch
	pub(t, h, Publication{Stream: "s", Data: "2"})

	// Offset 3 is published after the subscription is registered and before
	// the snapshot reads: it is both in the history and parked.
	hb.before = func() { pub(t, h, Publication{Stream: "s", Data: "3"}) }
	// Offset 4 comes after the snapshot: it is parked only.
	hb.after = func() { pub(t, h, Publication{Stream: "s", Data: "4"}) }
	r := &recSub{sid: "a"}
	s, snap := join(t, h, r, "s", HistoryRequest{From: &Position{Epoch: e, Offset: 1}})
	hb.before, hb.after = nil, nil

	if !slices.Equal(offsets(snap.Messages), []uint64{2, 3}) || snap.Status != Recovered {
		t.Fatalf("snapshot %v %v", snap.Status, offsets(snap.Messages))
	}
	if got := r.offsets(); len(got) != 0 {
		t.Fatalf("delivered before Release: %v", got)
	}
	if p := s.Position(); p.Epoch != e || p.Offset != 3 {
		t.Fatalf("position after join %+v", p)
	}
	pub(t, h, Publication{Stream: "s", Data: "5"}) // parked too
	s.Release()
	s.Release()
	pub(t, h, Publication{Stream: "s", Data: "6"}) // live
	if got := seen(snap, r); !slices.Equal(got, seq(2, 6)) {
		t.Fatalf("client saw %v, want 2..6 once each", got)
	}
	if p := s.Position(); p.Offset != 6 {
		t.Fatalf("position %+v", p)
	}
	if rs := r.resetList(); len(rs) != 0 {
		t.Fatalf("resets %v", rs)
	}
}

func TestHubJoinWithoutHistoryContinuesFromTop(t *testing.T) {
	mb := NewMemoryBroker(MemoryOptions{})
	hb := &hookBroker{Broker: mb}
	h := newMemoryHub(t, hb, HubOptions{})
	pub(t, h, Publication{Stream: "s"})
	hb.before = func() { pub(t, h, Publication{Stream: "s"}) } // 2: before the snapshot
	hb.after = func() { pub(t, h, Publication{Stream: "s"}) }  // 3: after it
	r := &recSub{}
	s, snap := join(t, h, r, "s", HistoryRequest{})
	if snap.Status != NoHistory || snap.Top.Offset != 2 || len(snap.Messages) != 0 {
		t.Fatalf("snapshot %+v", snap)
	}
	s.Release()
	pub(t, h, Publication{Stream: "s"})
	if got := r.offsets(); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("live %v, want [3 4]", got)
	}
}

func TestHubNotRecoveredContinuesLive(t *testing.T) {
	h := newMemoryHub(t, NewMemoryBroker(MemoryOptions{HistoryLimit: 2}), HubOptions{})
	first := pub(t, h, Publication{Stream: "s"})
	for i := 0; i < 4; i++ {
		pub(t, h, Publication{Stream: "s"})
	}
	r := &recSub{}
	s, snap := join(t, h, r, "s", HistoryRequest{From: &Position{Epoch: first.Epoch, Offset: 1}})
	if snap.Status != NotRecovered || snap.Reason != "trimmed" {
		t.Fatalf("snapshot %+v", snap)
	}
	if p := s.Position(); p.Offset != 5 {
		t.Fatalf("position %+v, want the top", p)
	}
	s.Release()
	pub(t, h, Publication{Stream: "s"})
	if got := r.offsets(); !slices.Equal(got, []uint64{6}) || len(r.resetList()) != 0 {
		t.Fatalf("live %v resets %v", got, r.resetList())
	}
}

func TestHubExcludeSocket(t *testing.T) {
	h := newMemoryHub(t, NewMemoryBroker(MemoryOptions{}), HubOptions{})
	a, b := &recSub{sid: "a"}, &recSub{sid: "b"}
	sa, _ := join(t, h, a, "s", HistoryRequest{})
	sb, _ := join(t, h, b, "s", HistoryRequest{})
	sa.Release()
	pub(t, h, Publication{Stream: "s", Data: "1"})
	pub(t, h, Publication{Stream: "s", Data: "2", ExcludeSocket: "a"})
	pub(t, h, Publication{Stream: "s", Data: "t", ExcludeSocket: "a", Transient: true})
	// b is still joining: the excluded message is parked and skipped later.
	sb.Release()
	pub(t, h, Publication{Stream: "s", Data: "3"})
	pub(t, h, Publication{Stream: "s", Data: "4", ExcludeSocket: "b"})
	pub(t, h, Publication{Stream: "s", Data: "5"})

	if got := a.offsets(); !slices.Equal(got, []uint64{1, 3, 4, 5}) {
		t.Fatalf("a got %v", got)
	}
	if got := b.offsets(); !slices.Equal(got, []uint64{1, 2, 0, 3, 5}) {
		t.Fatalf("b got %v", got)
	}
	// The excluded message moves the position without a gap reset.
	if ra, rb := a.resetList(), b.resetList(); len(ra)+len(rb) != 0 {
		t.Fatalf("resets a=%v b=%v", ra, rb)
	}
	if sa.Position().Offset != 5 || sb.Position().Offset != 5 {
		t.Fatalf("positions %+v %+v", sa.Position(), sb.Position())
	}
}

func TestHubTransient(t *testing.T) {
	h := newMemoryHub(t, NewMemoryBroker(MemoryOptions{}), HubOptions{})
	r := &recSub{}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	pub(t, h, Publication{Stream: "s", Data: "parked", Transient: true})
	s.Release()
	pub(t, h, Publication{Stream: "s", Data: "1"})
	pub(t, h, Publication{Stream: "s", Data: "live", Transient: true})
	pub(t, h, Publication{Stream: "s", Data: "2"})
	r.mu.Lock()
	var data []string
	for _, m := range r.got {
		data = append(data, m.Data)
	}
	r.mu.Unlock()
	if !slices.Equal(data, []string{"parked", "1", "live", "2"}) {
		t.Fatalf("got %v", data)
	}
	if p := s.Position(); p.Offset != 2 {
		t.Fatalf("position %+v", p)
	}
}

func TestHubEpochChange(t *testing.T) {
	f := &fakeBroker{snap: func(string, HistoryRequest) (Snapshot, error) {
		return Snapshot{Top: Position{Epoch: "E1", Offset: 5}}, nil
	}}
	h := newMemoryHub(t, f, HubOptions{})
	r := &recSub{}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	s.Release()
	f.emit("s", "E1", 6)
	f.emit("s", "E2", 1) // the stream restarted: reset, then deliver from 1
	f.emit("s", "E2", 2)
	f.emit("s", "E1", 7) // stale message of the old epoch: epoch changes again
	if got := r.offsets(); !slices.Equal(got, []uint64{6, 1, 2}) {
		t.Fatalf("delivered %v", got)
	}
	if rs := r.resetList(); !slices.Equal(rs, []string{ResetEpochChanged, ResetEpochChanged, ResetGap}) {
		t.Fatalf("resets %v", rs)
	}
	if p := s.Position(); p != (Position{Epoch: "E1", Offset: 0}) {
		t.Fatalf("position %+v", p)
	}
}

func TestHubAdoptsFirstEpochSilently(t *testing.T) {
	f := &fakeBroker{snap: func(string, HistoryRequest) (Snapshot, error) { return Snapshot{}, nil }}
	h := newMemoryHub(t, f, HubOptions{})
	r := &recSub{}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	s.Release()
	f.emit("s", "E", 1)
	if got, rs := r.offsets(), r.resetList(); !slices.Equal(got, []uint64{1}) || len(rs) != 0 {
		t.Fatalf("delivered %v, resets %v", got, rs)
	}
}

func TestHubEpochChangeDuringJoin(t *testing.T) {
	f := &fakeBroker{}
	f.snap = func(string, HistoryRequest) (Snapshot, error) {
		f.emit("s", "OLD", 9) // parked, from the previous life of the stream
		return Snapshot{Top: Position{Epoch: "NEW", Offset: 0}}, nil
	}
	h := newMemoryHub(t, f, HubOptions{})
	r := &recSub{}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	f.emit("s", "NEW", 1)
	s.Release()
	f.emit("s", "NEW", 2)
	// The hub cannot tell whether OLD/9 is older or newer than the snapshot,
	// so it follows the live rule: an epoch change, then a gap; the
	// subscription is broken and the client resumes.
	if got := r.offsets(); len(got) != 0 {
		t.Fatalf("delivered %v", got)
	}
	if rs := r.resetList(); !slices.Equal(rs, []string{ResetEpochChanged, ResetGap}) {
		t.Fatalf("resets %v", rs)
	}
}

func TestHubGap(t *testing.T) {
	f := &fakeBroker{snap: func(string, HistoryRequest) (Snapshot, error) {
		return Snapshot{Top: Position{Epoch: "E", Offset: 5}}, nil
	}}
	h := newMemoryHub(t, f, HubOptions{})
	r, other := &recSub{}, &recSub{}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	s.Release()
	f.emit("s", "E", 4) // duplicate: dropped silently
	f.emit("s", "E", 5) // duplicate
	f.emit("s", "E", 6)
	f.emit("s", "E", 8) // 7 is missing: reset, not delivered
	f.emit("s", "E", 7) // broken: dropped
	f.emit("s", "E", 9)
	f.deliver(Message{Publication: Publication{Stream: "s", Transient: true}, Epoch: "E"})
	if got := r.offsets(); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("delivered %v", got)
	}
	if rs := r.resetList(); !slices.Equal(rs, []string{ResetGap}) {
		t.Fatalf("resets %v", rs)
	}
	if p := s.Position(); p.Offset != 6 {
		t.Fatalf("position %+v", p)
	}
	// A new subscription of the stream is not affected.
	s2, _ := join(t, h, other, "s", HistoryRequest{})
	s2.Release()
	f.emit("s", "E", 6)
	if got := other.offsets(); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("new subscription got %v", got)
	}
}

func TestHubLeave(t *testing.T) {
	h := newMemoryHub(t, NewMemoryBroker(MemoryOptions{}), HubOptions{})
	r, keep := &recSub{}, &recSub{}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	sk, _ := join(t, h, keep, "s", HistoryRequest{})
	s.Release()
	sk.Release()
	if h.Streams() != 1 || h.Subscriptions() != 2 {
		t.Fatalf("streams %d subscriptions %d", h.Streams(), h.Subscriptions())
	}
	pub(t, h, Publication{Stream: "s"})
	h.Leave(s)
	h.Leave(s)
	pub(t, h, Publication{Stream: "s"})
	if got := r.offsets(); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after Leave got %v", got)
	}
	if got := keep.offsets(); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("remaining subscriber got %v", got)
	}
	if h.Streams() != 1 || h.Subscriptions() != 1 {
		t.Fatalf("streams %d subscriptions %d", h.Streams(), h.Subscriptions())
	}
	h.Leave(sk)
	if h.Streams() != 0 || h.Subscriptions() != 0 {
		t.Fatalf("streams %d subscriptions %d after everyone left", h.Streams(), h.Subscriptions())
	}

	// Leaving while joining: Release is then a no-op.
	s3, _ := join(t, h, r, "s", HistoryRequest{})
	pub(t, h, Publication{Stream: "s"})
	h.Leave(s3)
	s3.Release()
	pub(t, h, Publication{Stream: "s"})
	if got := r.offsets(); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after leaving a joining subscription got %v", got)
	}
}

func TestHubLeaveCompacts(t *testing.T) {
	h := newMemoryHub(t, NewMemoryBroker(MemoryOptions{}), HubOptions{})
	var subs []*Subscription
	var recs []*recSub
	for i := 0; i < 100; i++ {
		r := &recSub{}
		s, _ := join(t, h, r, "s", HistoryRequest{})
		s.Release()
		subs, recs = append(subs, s), append(recs, r)
	}
	for i := 0; i < 100; i++ {
		if i%10 != 3 {
			h.Leave(subs[i])
		}
	}
	sh := h.shard("s")
	sh.mu.RLock()
	n := len(sh.streams["s"].subs)
	sh.mu.RUnlock()
	if n > 30 {
		t.Fatalf("registry holds %d entries for 10 subscriptions", n)
	}
	pub(t, h, Publication{Stream: "s"})
	for i, r := range recs {
		want := 0
		if i%10 == 3 {
			want = 1
		}
		if got := len(r.offsets()); got != want {
			t.Fatalf("subscriber %d got %d messages, want %d", i, got, want)
		}
	}
	if h.Subscriptions() != 10 {
		t.Fatalf("subscriptions %d", h.Subscriptions())
	}
}

func TestHubJoinBufferOverflow(t *testing.T) {
	h := newMemoryHub(t, NewMemoryBroker(MemoryOptions{}), HubOptions{JoinBufferLimit: 3})
	r, ok := &recSub{}, &recSub{}
	s, _ := join(t, h, r, "s", HistoryRequest{})
	s2, _ := join(t, h, ok, "s", HistoryRequest{})
	for i := 0; i < 3; i++ {
		pub(t, h, Publication{Stream: "s"})
	}
	s2.Release() // within the limit
	pub(t, h, Publication{Stream: "s"})
	if rs := r.resetList(); !slices.Equal(rs, []string{ResetJoinOverflow}) {
		t.Fatalf("resets %v", rs)
	}
	s.Release()
	pub(t, h, Publication{Stream: "s"})
	if got := r.offsets(); len(got) != 0 {
		t.Fatalf("overflowed subscription got %v", got)
	}
	if rs := r.resetList(); len(rs) != 1 {
		t.Fatalf("resets %v", rs)
	}
	if got := ok.offsets(); !slices.Equal(got, seq(1, 5)) {
		t.Fatalf("other subscription got %v", got)
	}
}

func TestHubSnapshotError(t *testing.T) {
	boom := errors.New("boom")
	mb := NewMemoryBroker(MemoryOptions{})
	h := newMemoryHub(t, mb, HubOptions{})
	f := &fakeBroker{snap: func(string, HistoryRequest) (Snapshot, error) { return Snapshot{}, boom }}
	hf := newMemoryHub(t, f, HubOptions{})
	s, _, err := hf.Join(context.Background(), &recSub{}, "id", "s", HistoryRequest{})
	if !errors.Is(err, boom) || s != nil {
		t.Fatalf("join: %v %v", s, err)
	}
	if hf.Streams() != 0 || hf.Subscriptions() != 0 {
		t.Fatalf("streams %d subscriptions %d", hf.Streams(), hf.Subscriptions())
	}
	// The memory broker's snapshot fails on a cancelled context; the watch
	// taken for the join is released.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := h.Join(ctx, &recSub{}, "id", "s", HistoryRequest{}); err == nil {
		t.Fatal("join with a cancelled context succeeded")
	}
	if mb.watched("s") || h.Subscriptions() != 0 {
		t.Fatal("failed join left state behind")
	}
}

func TestHubWatchesMemoryStreams(t *testing.T) {
	clk := newFakeClock()
	mb := NewMemoryBroker(MemoryOptions{HistoryTTL: time.Second, Now: clk.Now})
	h := newMemoryHub(t, mb, HubOptions{})
	r := &recSub{}
	first := pub(t, h, Publication{Stream: "quiet"})
	s, snap := join(t, h, r, "quiet", HistoryRequest{})
	s.Release()
	if snap.Top.Epoch != first.Epoch {
		t.Fatalf("snapshot epoch %q, published in %q", snap.Top.Epoch, first.Epoch)
	}
	clk.Add(24 * time.Hour)
	mb.sweep()
	m := pub(t, h, Publication{Stream: "quiet"})
	if m.Epoch != snap.Top.Epoch || len(r.resetList()) != 0 {
		t.Fatalf("a watched quiet stream changed epoch (%s -> %s), resets %v", snap.Top.Epoch, m.Epoch, r.resetList())
	}
	h.Leave(s)
	clk.Add(24 * time.Hour)
	mb.sweep()
	if streamCount(mb) != 0 {
		t.Fatal("stream still kept after its last subscriber left")
	}
}

func TestDeliveryFrame(t *testing.T) {
	d := &Delivery{Msg: Message{Publication: Publication{Data: "x"}}}
	var builds [8]atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 8; k++ {
				key := FrameKey{Form: uint8(k % 4), Identifier: fmt.Sprint(k / 4)}
				if k/4 == 0 {
					key.Identifier = ""
				}
				b := d.Frame(key, func(m *Message) []byte {
					builds[k].Add(1)
					return []byte(fmt.Sprintf("%s-%d", m.Data, k))
				})
				if string(b) != fmt.Sprintf("x-%d", k) {
					t.Errorf("key %d: %q", k, b)
				}
			}
		}()
	}
	wg.Wait()
	for k := range builds {
		if n := builds[k].Load(); n != 1 {
			t.Fatalf("key %d built %d times", k, n)
		}
	}
}

// jitterBroker widens the window between a join's registration and its
// snapshot, so that publishes land in it.
type jitterBroker struct{ Broker }

func (j jitterBroker) Snapshot(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error) {
	if n := rand.IntN(4); n > 0 {
		time.Sleep(time.Duration(n) * 50 * time.Microsecond)
	}
	return j.Broker.Snapshot(ctx, stream, req)
}

// randSub is one simulated connection of the randomised test. It joins one
// stream at a time and records what its client would have received.
type randSub struct {
	t   *testing.T
	sid string

	mu        sync.Mutex
	cur       *Subscription
	epoch     map[string]string   // the stream's epoch, from the first join
	start     map[string]uint64   // the top at the first join: the record starts after it
	rec       map[string][]uint64 // offsets received, history and live, in order
	transient int
	resets    int
	joins     int
	live      int
	history   int
}

func (r *randSub) Deliver(s *Subscription, d *Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s != r.cur {
		r.t.Errorf("%s: delivery to a subscription that left", r.sid)
		return
	}
	m := &d.Msg
	if m.Offset == 0 {
		r.transient++
		return
	}
	if r.epoch[m.Stream] == "" {
		// Joined before the stream had an epoch: the first message brings
		// it (a client learns it from the message's id).
		r.epoch[m.Stream] = m.Epoch
	}
	if m.Epoch != r.epoch[m.Stream] {
		r.t.Errorf("%s: message of epoch %q on %s, want %q", r.sid, m.Epoch, m.Stream, r.epoch[m.Stream])
	}
	r.rec[m.Stream] = append(r.rec[m.Stream], m.Offset)
	r.live++
}

func (r *randSub) Reset(s *Subscription, reason string) {
	r.mu.Lock()
	r.resets++
	r.mu.Unlock()
	r.t.Errorf("%s: reset %q on %s", r.sid, reason, s.Stream)
}

func (r *randSub) SocketID() string { return r.sid }

// position is where the client would resume: its last received offset.
func (r *randSub) position(stream string) (Position, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.epoch[stream]
	if !ok {
		return Position{}, false
	}
	o := r.start[stream]
	if rec := r.rec[stream]; len(rec) > 0 {
		o = rec[len(rec)-1]
	}
	return Position{Epoch: e, Offset: o}, true
}

// session joins stream from the client's position, writes the history,
// releases, stays live for a while (live, when not nil) and leaves.
func (r *randSub) session(h *Hub, stream string, live func()) {
	var req HistoryRequest
	pos, resume := r.position(stream)
	if resume {
		req.From = &pos
	}
	s, snap, err := h.Join(context.Background(), r, "id", stream, req)
	if err != nil {
		r.t.Errorf("join: %v", err)
		return
	}
	r.mu.Lock()
	r.joins++
	if !resume {
		r.epoch[stream] = snap.Top.Epoch
		r.start[stream] = snap.Top.Offset
	} else if snap.Status != Recovered {
		r.t.Errorf("%s: resume %+v on %s: %v %q", r.sid, pos, stream, snap.Status, snap.Reason)
	}
	for _, m := range snap.Messages {
		if r.epoch[stream] == "" {
			r.epoch[stream] = m.Epoch // resumed from before the stream had one
		}
		r.rec[stream] = append(r.rec[stream], m.Offset)
	}
	r.history += len(snap.Messages)
	r.cur = s
	r.mu.Unlock()
	s.Release()
	if live != nil {
		live()
	}
	h.Leave(s)
	// The subscription's position is the last offset its client has.
	if p, _ := r.position(stream); s.Position() != p {
		r.t.Errorf("%s: subscription position %+v, client position %+v", r.sid, s.Position(), p)
	}
	r.mu.Lock()
	r.cur = nil
	r.mu.Unlock()
}

func TestHubRandomisedJoinLeave(t *testing.T) {
	const perPub = 1500
	randomisedJoinLeave(t, NewMemoryBroker(MemoryOptions{HistoryLimit: 4 * perPub}), perPub)
}

// randomisedJoinLeave: clients join and leave random streams of mb while
// four publishers publish perPub each; every client gets every offset after
// its first join once, in order. mb retains 4*perPub messages per stream.
// It runs on the memory and file brokers (file_test.go).
func randomisedJoinLeave(t *testing.T, mb Broker, perPub int) {
	const (
		nStreams    = 4
		nSubs       = 50
		nPublishers = 4
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	h := newMemoryHub(t, jitterBroker{mb}, HubOptions{JoinBufferLimit: nPublishers * perPub})
	streams := make([]string, nStreams)
	for i := range streams {
		streams[i] = fmt.Sprintf("stream-%d", i)
	}

	var pubDone atomic.Bool
	var subWG sync.WaitGroup
	pubs := startRandomPublishers(t, seed, streams, nPublishers, perPub, 100*time.Microsecond, func(*rand.Rand) *Hub { return h })

	subs := make([]*randSub, nSubs)
	for i := range subs {
		r := &randSub{
			t: t, sid: fmt.Sprintf("sub-%d", i),
			epoch: map[string]string{}, start: map[string]uint64{}, rec: map[string][]uint64{},
		}
		subs[i] = r
		subWG.Add(1)
		go func() {
			defer subWG.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(1000+i)))
			for !pubDone.Load() {
				r.session(h, streams[rng.IntN(nStreams)], func() {
					time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
				})
				if rng.IntN(3) == 0 {
					time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
				}
			}
		}()
	}
	pubs.wg.Wait()
	pubDone.Store(true)
	subWG.Wait()
	if h.Subscriptions() != 0 || h.Streams() != 0 {
		t.Fatalf("after everyone left: %d subscriptions on %d streams", h.Subscriptions(), h.Streams())
	}

	// Every client resumes once more: it must reach the final top.
	tops := map[string]uint64{}
	for _, st := range streams {
		tops[st] = snapshot(t, mb, st, HistoryRequest{}).Top.Offset
	}
	checkRandomised(t, subs, tops, pubs.published.Load(), func(int) *Hub { return h },
		fmt.Sprintf("published %d (+%d transient) on %d streams; %d subscribers", pubs.published.Load(), pubs.transients.Load(), nStreams, nSubs))
}

// checkRandomised resumes every subscriber once more (on hubFor(i)) and
// asserts that each received every offset after its first position up to
// the stream's top, once and in order; then it logs the counts.
func checkRandomised(t *testing.T, subs []*randSub, tops map[string]uint64, published int64, hubFor func(i int) *Hub, summary string) {
	t.Helper()
	var received, joins, resets, transientsGot, pairs, live, history int
	for i, r := range subs {
		for st := range r.epoch {
			r.session(hubFor(i), st, nil)
		}
		for st, rec := range r.rec {
			pairs++
			start := r.start[st]
			if want := seq(start+1, tops[st]); !slices.Equal(rec, want) {
				j := 0
				for j < len(rec) && j < len(want) && rec[j] == want[j] {
					j++
				}
				t.Errorf("%s on %s: %d offsets from %d, want %d..%d; first difference at index %d (%v)",
					r.sid, st, len(rec), start, start+1, tops[st], j, rec[max(0, j-2):min(len(rec), j+3)])
			}
			received += len(rec)
		}
		joins += r.joins
		live += r.live
		history += r.history
		resets += r.resets
		transientsGot += r.transient
	}
	var total uint64
	for _, top := range tops {
		total += top
	}
	if total != uint64(published) {
		t.Errorf("streams hold %d offsets, %d were published", total, published)
	}
	t.Logf("%s: %d joins, %d (subscriber, stream) records, %d numbered messages received (%d live, %d from history), %d transient received, %d resets",
		summary, joins, pairs, received, live, history, transientsGot, resets)
}

// randomPublishers publish to random streams from several goroutines, with
// one publication in 50 transient and random short pauses.
type randomPublishers struct {
	wg                    sync.WaitGroup
	published, transients atomic.Int64
}

func startRandomPublishers(t *testing.T, seed uint64, streams []string, n, each int, maxPause time.Duration, hubFor func(*rand.Rand) *Hub) *randomPublishers {
	rp := &randomPublishers{}
	for p := 0; p < n; p++ {
		rp.wg.Add(1)
		go func() {
			defer rp.wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(p)))
			for i := 0; i < each; i++ {
				pb := Publication{Stream: streams[rng.IntN(len(streams))], Data: "x"}
				if rng.IntN(50) == 0 {
					pb.Transient = true
					rp.transients.Add(1)
				} else {
					rp.published.Add(1)
				}
				if _, err := hubFor(rng).Publish(context.Background(), pb); err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(8) == 0 {
					time.Sleep(time.Duration(rng.Int64N(int64(maxPause))))
				}
			}
		}()
	}
	return rp
}
