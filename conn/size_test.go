package conn

import (
	"strings"
	"testing"
)

// room is how many more bytes the queue may hold.
func room(c *Conn) (n int) {
	c.Locked(func(q Queue) { n = q.Room() })
	return n
}

// A push that takes the queue past max_pending cuts the client: the
// complete messages queued before it are still written, then the too_slow
// disconnect; the message that did not fit is dropped and its bytes freed,
// and nothing queued afterwards is taken.
func TestPushOverMaxPendingCutsTooSlow(t *testing.T) {
	m := &countingMetrics{}
	c := New("a", "127.0.0.1", m, lineCodec{}, 20)
	c.Enqueue([]byte("one\n"))   // 4
	c.Enqueue([]byte("two\n"))   // 8
	c.Enqueue([]byte("three\n")) // 14
	if got := room(c); got != 6 {
		t.Fatalf("room %d after 14 bytes of 20", got)
	}
	select {
	case <-c.Done():
		t.Fatal("cut within max_pending")
	default:
	}
	// One message made of two entries (a frame and its id line), as a
	// multi-stream SSE connection queues it: both go.
	c.Locked(func(q Queue) {
		n := q.Len()
		q.Push([]byte("four\n"))
		q.Push([]byte("id: 4\n"))
		q.Bound(n)
	})
	select {
	case <-c.Done():
	default:
		t.Fatal("a queue over max_pending was not cut")
	}
	if r := c.EndReason(); r != "too_slow" {
		t.Fatalf("end reason %q", r)
	}
	if n := m.dropped.Load(); n != 1 {
		t.Fatalf("SlowClientDropped counted %d times", n)
	}
	if got := room(c); got != 6 {
		t.Fatalf("room %d, want 6: the complete messages kept, the cut one freed", got)
	}
	c.Enqueue([]byte("late\n"))
	if n := m.dropped.Load(); n != 1 {
		t.Fatalf("a closed connection was cut again (%d)", n)
	}
	got := joined(c.FinalBytes())
	if want := "one\ntwo\nthree\ndisconnect too_slow true\n"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
}

// A single message larger than max_pending on an empty queue leaves
// nothing but the disconnect.
func TestPushLargerThanMaxPending(t *testing.T) {
	m := &countingMetrics{}
	c := New("a", "127.0.0.1", m, lineCodec{}, 8)
	c.Enqueue([]byte(strings.Repeat("x", 9)))
	if r := c.EndReason(); r != "too_slow" || m.dropped.Load() != 1 {
		t.Fatalf("end reason %q, dropped %d", r, m.dropped.Load())
	}
	if got := joined(c.FinalBytes()); got != "disconnect too_slow true\n" {
		t.Fatalf("written %q", got)
	}
}

// Without max_pending the queue holds anything.
func TestUnboundedQueueNeverCuts(t *testing.T) {
	c := newTestConn("a", 0)
	for i := 0; i < 1000; i++ {
		c.Enqueue([]byte(strings.Repeat("x", 1000)))
	}
	if r := c.EndReason(); r != "" {
		t.Fatalf("an unbounded queue was cut: %q", r)
	}
}

// Replayed history marked KeepAll survives a cut before the writer took
// it, even when its first message alone exceeds max_pending: the cut is
// then a partial replay (written, then disconnect reconnect:true), not a
// slow client, and the live message that overflowed is dropped.
func TestReplayKeptAcrossCut(t *testing.T) {
	m := &countingMetrics{}
	c := New("a", "127.0.0.1", m, lineCodec{}, 10)
	history := []byte("history-one\n") // 12 bytes: over max_pending alone
	c.Locked(func(q Queue) {
		q.Push(history)
		q.KeepAll()
	})
	c.Enqueue([]byte("live\n"))
	if r := c.EndReason(); r != ReasonReplayPartial {
		t.Fatalf("end reason %q, want %q", r, ReasonReplayPartial)
	}
	if n := m.dropped.Load(); n != 1 {
		t.Fatalf("SlowClientDropped counted %d times", n)
	}
	got := joined(c.FinalBytes())
	if want := "history-one\ndisconnect too_slow true\n"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
}

// Once the writer took the queue, the replay is written (or being written)
// and no longer kept: a later cut is a plain too_slow.
func TestKeepAllEndsWhenTheWriterTakesTheQueue(t *testing.T) {
	c := newTestConn("a", 10)
	c.Locked(func(q Queue) {
		q.Push([]byte("hist\n"))
		q.KeepAll()
	})
	if data, _ := c.Take(); joined(data) != "hist\n" {
		t.Fatalf("took %q", joined(data))
	}
	c.Enqueue([]byte("live-1\n"))
	c.Enqueue([]byte("live-two\n"))
	if r := c.EndReason(); r != "too_slow" {
		t.Fatalf("end reason %q", r)
	}
	if got := joined(c.FinalBytes()); got != "live-1\ndisconnect too_slow true\n" {
		t.Fatalf("written %q", got)
	}
}

// A replay cut by its transport ends the connection after it with the
// too_slow disconnect, recorded as a partial replay.
func TestEndPartialReplay(t *testing.T) {
	c := newTestConn("a", 0)
	c.Enqueue([]byte("h1\n"))
	c.EndPartialReplay()
	if r := c.EndReason(); r != ReasonReplayPartial {
		t.Fatalf("end reason %q", r)
	}
	if got := joined(c.FinalBytes()); got != "h1\ndisconnect too_slow true\n" {
		t.Fatalf("written %q", got)
	}
}
