package conn

import (
	"testing"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Closing a taken-over connection with a final frame writes what is queued,
// then the frame, then the codec's end, and closes the socket (an orderly
// close); OnEnd runs once, with the reason given.
func TestCloseWritesQueueFinalThenEnd(t *testing.T) {
	w := NewPool(2)
	defer w.Close()
	client, server := tcpPair(t)
	c := newTestConn("a", 0)
	end := newEndRecorder()
	w.Adopt(c, server, TakeOver{WriteTimeout: time.Minute, OnEnd: end.onEnd})

	c.Enqueue([]byte("one\n"))
	if got := string(readN(t, client, 4)); got != "one\n" {
		t.Fatalf("got %q", got)
	}
	c.Locked(func(q Queue) {
		q.Push([]byte("two\n"))
		q.Push([]byte("three\n"))
		// Closed in the same step as the last push: it is still written.
		c.closeLocked([]byte("bye\n"), "closed_by_app")
	})
	rest, err := readAll(t, client)
	if err != nil {
		t.Fatalf("the connection did not end with an orderly close: %v", err)
	}
	if want := "two\nthree\nbye\nend\n"; string(rest) != want {
		t.Fatalf("written %q, want %q", rest, want)
	}
	if r := end.wait(t); r != "closed_by_app" {
		t.Fatalf("OnEnd %q", r)
	}
	// Later closes and wakes do nothing more.
	c.Close([]byte("again\n"), "again")
	c.Enqueue([]byte("late\n"))
	c.Wake()
	w.Close()
	if calls := end.calls(); len(calls) != 1 {
		t.Fatalf("OnEnd ran %d times: %q", len(calls), calls)
	}
}

// A connection closed before it was handed to the pool (a disconnect
// decided during the handshake) is written and ended on adoption; CloseWith
// frames the disconnect through the codec.
func TestCloseBeforeAdopt(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	client, server := tcpPair(t)
	c := newTestConn("a", 0)
	c.Enqueue([]byte("welcome\n"))
	c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonUnauthorized})
	end := newEndRecorder()
	w.Adopt(c, server, TakeOver{WriteTimeout: time.Minute, OnEnd: end.onEnd})
	got, err := readAll(t, client)
	if err != nil {
		t.Fatal(err)
	}
	if want := "welcome\ndisconnect unauthorized false\nend\n"; string(got) != want {
		t.Fatalf("written %q, want %q", got, want)
	}
	if r := end.wait(t); r != protocol.ReasonUnauthorized {
		t.Fatalf("OnEnd %q", r)
	}
}

// A partial replay ends cleanly on a taken-over connection: unlike a cut
// for slowness, the replayed history and the disconnect are written and the
// socket is closed in order, not reset.
func TestPartialReplayWrittenOnTakeover(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	client, server := tcpPair(t)
	c := newTestConn("a", 10)
	c.Locked(func(q Queue) {
		q.Push([]byte("history-one\n"))
		q.KeepAll()
	})
	c.Enqueue([]byte("live\n")) // over max_pending: a partial replay
	end := newEndRecorder()
	w.Adopt(c, server, TakeOver{WriteTimeout: time.Minute, OnEnd: end.onEnd})
	got, err := readAll(t, client)
	if err != nil {
		t.Fatalf("a partial replay ended with %v", err)
	}
	if want := "history-one\ndisconnect too_slow true\nend\n"; string(got) != want {
		t.Fatalf("written %q, want %q", got, want)
	}
	if r := end.wait(t); r != ReasonReplayPartial {
		t.Fatalf("OnEnd %q", r)
	}
}
