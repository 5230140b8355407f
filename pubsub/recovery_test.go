package pubsub

import (
	"slices"
	"testing"
	"time"
)

// The recovery decision and retention settings are the same for every
// broker: these tests run against the memory broker (memory_test.go) and
// the Redis broker (redis_test.go).

// recoveryCase is one row of the recovery-decision table, which the memory
// and Redis brokers must answer alike.
type recoveryCase struct {
	name   string
	limit  int
	ttl    time.Duration
	setup  func(*testing.T, Broker, *fakeClock)
	stream string // default "chat"
	req    func(epoch string) HistoryRequest
	status RecoveryStatus
	reason string
	want   []uint64
	top    uint64
	// bumps: the Redis broker replaces the epoch (client ahead of the top).
	bumps bool
}

func recoveryCases() []recoveryCase {
	const stream = "chat"
	publish10 := func(t *testing.T, b Broker, clk *fakeClock) { publishN(t, b, stream, 10) }
	// aging publishes 1..3 at t0 and 4..5 at t0+30s, then moves to t0+70s:
	// with a 60s TTL, 1..3 are expired and 4..5 retained.
	aging := func(t *testing.T, b Broker, clk *fakeClock) {
		publishN(t, b, stream, 3)
		clk.Add(30 * time.Second)
		publishN(t, b, stream, 2)
		clk.Add(40 * time.Second)
	}
	t0 := newFakeClock().Now().Unix()
	from := func(o uint64) func(e string) HistoryRequest {
		return func(e string) HistoryRequest { return HistoryRequest{From: &Position{Epoch: e, Offset: o}} }
	}
	since := func(s int64) func(e string) HistoryRequest {
		return func(string) HistoryRequest { return HistoryRequest{Since: s} }
	}
	none := func(string) HistoryRequest { return HistoryRequest{} }
	return []recoveryCase{
		{name: "no request", limit: 5, setup: publish10, req: none, status: NoHistory, top: 10},
		{name: "epoch mismatch", limit: 5, setup: publish10,
			req:    func(string) HistoryRequest { return HistoryRequest{From: &Position{Epoch: "Zz9Zz9Zz", Offset: 8}} },
			status: NotRecovered, reason: "epoch mismatch", top: 10},
		{name: "beyond the window (trimmed)", limit: 5, setup: publish10, req: from(4),
			status: NotRecovered, reason: "trimmed", top: 10},
		{name: "far beyond the window", limit: 5, setup: publish10, req: from(0),
			status: NotRecovered, reason: "trimmed", top: 10},
		{name: "exactly at the lower edge", limit: 5, setup: publish10, req: from(5),
			status: Recovered, want: seq(6, 10), top: 10},
		{name: "inside the window", limit: 5, setup: publish10, req: from(7),
			status: Recovered, want: seq(8, 10), top: 10},
		{name: "from zero with everything retained", limit: 100, setup: publish10, req: from(0),
			status: Recovered, want: seq(1, 10), top: 10},
		{name: "up to date (o == T)", limit: 5, setup: publish10, req: from(10),
			status: Recovered, want: []uint64{}, top: 10},
		{name: "client ahead of the top", limit: 5, setup: publish10, req: from(11),
			status: NotRecovered, reason: "ahead of the stream", top: 10},
		{name: "expired by TTL", ttl: time.Minute, setup: aging, req: from(2),
			status: NotRecovered, reason: "expired", top: 5},
		{name: "expired lower edge", ttl: time.Minute, setup: aging, req: from(3),
			status: Recovered, want: seq(4, 5), top: 5},
		{name: "all expired, client up to date", ttl: time.Minute,
			setup: func(t *testing.T, b Broker, clk *fakeClock) {
				publishN(t, b, stream, 3)
				clk.Add(time.Minute)
			},
			req: from(3), status: Recovered, want: []uint64{}, top: 3},
		{name: "all expired, client behind", ttl: time.Minute,
			setup: func(t *testing.T, b Broker, clk *fakeClock) {
				publishN(t, b, stream, 3)
				clk.Add(time.Minute)
			},
			req: from(2), status: NotRecovered, reason: "expired", top: 3},
		{name: "trimmed, then expired", limit: 5, ttl: time.Minute,
			setup: func(t *testing.T, b Broker, clk *fakeClock) {
				publishN(t, b, stream, 10)
				clk.Add(2 * time.Minute)
			},
			req: from(7), status: NotRecovered, reason: "expired", top: 10},
		{name: "since a past time", ttl: time.Minute, setup: aging, req: since(t0 + 1),
			status: Recovered, want: seq(4, 5), top: 5},
		{name: "since the first publish", setup: aging, req: since(t0),
			status: Recovered, want: seq(1, 5), top: 5},
		{name: "since skips expired entries", ttl: time.Minute, setup: aging, req: since(t0),
			status: Recovered, want: seq(4, 5), top: 5},
		{name: "since a future time", setup: aging, req: since(t0 + 3600),
			status: Recovered, want: []uint64{}, top: 5},
		{name: "since with a size limit", limit: 3, setup: publish10, req: since(t0),
			status: Recovered, want: seq(8, 10), top: 10},
		{name: "from wins over since", limit: 100, setup: publish10,
			req: func(e string) HistoryRequest {
				return HistoryRequest{From: &Position{Epoch: e, Offset: 8}, Since: t0}
			},
			status: Recovered, want: seq(9, 10), top: 10},
		{name: "unknown stream", stream: "never", setup: publish10,
			req:    func(string) HistoryRequest { return HistoryRequest{From: &Position{Epoch: "abcdEFGH", Offset: 3}} },
			status: NotRecovered, reason: "unknown epoch", top: 0},
		{name: "since on unknown stream", stream: "never", setup: publish10, req: since(t0),
			status: Recovered, want: []uint64{}, top: 0},
		{name: "empty stream, from zero", stream: "never", setup: publish10, req: none, status: NoHistory, top: 0},
	}
}

// checkRecoveryCase runs one row against b. bumping says whether b replaces
// the epoch of a client ahead of the top (the Redis broker does).
func checkRecoveryCase(t *testing.T, tc recoveryCase, b Broker, clk *fakeClock, bumping bool) {
	const stream = "chat"
	tc.setup(t, b, clk)
	name := stream
	if tc.stream != "" {
		name = tc.stream
	}
	epoch := snapshot(t, b, stream, HistoryRequest{}).Top.Epoch
	got := snapshot(t, b, name, tc.req(epoch))
	if got.Status != tc.status || got.Reason != tc.reason {
		t.Fatalf("status %v %q, want %v %q", got.Status, got.Reason, tc.status, tc.reason)
	}
	if got.Top.Offset != tc.top {
		t.Errorf("top offset %d, want %d", got.Top.Offset, tc.top)
	}
	if name == stream {
		if tc.bumps && bumping {
			if got.Top.Epoch == epoch {
				t.Errorf("client ahead of the top: epoch %q kept", epoch)
			}
			if again := snapshot(t, b, stream, HistoryRequest{}).Top; again != got.Top {
				t.Errorf("top after the bump %+v, snapshot said %+v", again, got.Top)
			}
		} else if got.Top.Epoch != epoch {
			t.Errorf("top epoch %q, want %q", got.Top.Epoch, epoch)
		}
	}
	if tc.stream == "never" {
		if got.Top.Epoch != "" {
			t.Errorf("a stream nobody published to has epoch %q", got.Top.Epoch)
		}
	} else if len(got.Top.Epoch) != 8 {
		t.Errorf("top epoch %q", got.Top.Epoch)
	}
	if tc.status == Recovered {
		if !slices.Equal(offsets(got.Messages), tc.want) {
			t.Errorf("offsets %v, want %v", offsets(got.Messages), tc.want)
		}
	} else if len(got.Messages) != 0 {
		t.Errorf("messages %v with status %v", offsets(got.Messages), got.Status)
	}
	for _, m := range got.Messages {
		if m.Epoch != got.Top.Epoch || m.Stream != name {
			t.Errorf("message %+v in snapshot of %s/%s", m, name, got.Top.Epoch)
		}
		if m.Data == "" || m.Time == 0 {
			t.Errorf("message %+v without data or time", m)
		}
	}
}

func testSetLimits(t *testing.T, b limitedBroker, clk *fakeClock) {
	e := publishN(t, b, "s", 10)[0].Epoch
	at := func(o uint64) Snapshot {
		return snapshot(t, b, "s", HistoryRequest{From: &Position{Epoch: e, Offset: o}})
	}
	if s := at(0); s.Status != Recovered || len(s.Messages) != 10 {
		t.Fatalf("before SetLimits: %+v", s)
	}
	b.SetLimits(3, time.Hour)
	if s := at(6); s.Status != NotRecovered || s.Reason != "trimmed" {
		t.Fatalf("after shrinking the limit to 3, from 6: %+v", s)
	}
	if s := at(7); s.Status != Recovered || !slices.Equal(offsets(s.Messages), seq(8, 10)) {
		t.Fatalf("after shrinking the limit to 3, from 7: %+v", s)
	}
	publishN(t, b, "s", 1)
	if s := at(7); s.Status != NotRecovered {
		t.Fatalf("limit 3 after one more publish, from 7: %+v", s)
	}
	if s := at(8); s.Status != Recovered || !slices.Equal(offsets(s.Messages), seq(9, 11)) {
		t.Fatalf("limit 3 after one more publish, from 8: %+v", s)
	}
	b.SetLimits(5, 10*time.Second)
	publishN(t, b, "s", 4)
	if s := at(10); s.Status != Recovered || !slices.Equal(offsets(s.Messages), seq(11, 15)) {
		t.Fatalf("limit 5: %+v", s)
	}
	clk.Add(10 * time.Second)
	if s := at(14); s.Status != NotRecovered || s.Reason != "expired" {
		t.Fatalf("after the new TTL: %+v", s)
	}
	if s := at(15); s.Status != Recovered || len(s.Messages) != 0 {
		t.Fatalf("up to date after the new TTL: %+v", s)
	}
}

// limitedBroker is a broker whose limits can change (both brokers).
type limitedBroker interface {
	Broker
	SetLimits(limit int, ttl time.Duration)
}

// checkUnknownStreamEpochIsStable: a snapshot of a stream that does not exist
// yet fixes its epoch, and the first publish uses it, so a subscriber to an
// empty stream recovers the first message. It returns the first snapshot.
// checkUnknownStreamCreatesNothing: reading a stream nobody published to
// answers with no epoch and creates nothing (a name a client chooses costs
// nothing once it leaves); a position taken there (no epoch, offset 0)
// recovers everything of the epoch the first publish creates. It returns the
// first publish.
func checkUnknownStreamCreatesNothing(t *testing.T, b Broker) Message {
	t.Helper()
	s1 := snapshot(t, b, "fresh", HistoryRequest{})
	if s1.Top.Epoch != "" || s1.Top.Offset != 0 {
		t.Fatalf("first snapshot %+v", s1)
	}
	s2 := snapshot(t, b, "fresh", HistoryRequest{From: &Position{Epoch: s1.Top.Epoch, Offset: 0}})
	if s2.Top != s1.Top || s2.Status != Recovered {
		t.Fatalf("second snapshot %+v, first %+v", s2, s1)
	}
	m := publishN(t, b, "fresh", 1)[0]
	if len(m.Epoch) != 8 || m.Offset != 1 {
		t.Fatalf("first publish %s/%d, want a new epoch, offset 1", m.Epoch, m.Offset)
	}
	s3 := snapshot(t, b, "fresh", HistoryRequest{From: &s1.Top})
	if s3.Status != Recovered || !slices.Equal(offsets(s3.Messages), []uint64{1}) {
		t.Fatalf("recovery from the empty stream's position: %+v", s3)
	}
	return m
}
