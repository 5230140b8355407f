//go:build linux

package conn

import (
	"testing"
	"time"
)

// A client that goes away from an idle taken-over connection (no pings) is
// noticed by the close watch: the connection ends with client_gone, its
// socket is closed and OnEnd runs once.
func TestCloseWatchNoticesClientGone(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	client, server := tcpPair(t)
	c := newTestConn("a", 0)
	end := newEndRecorder()
	w.Adopt(c, server, TakeOver{WriteTimeout: time.Minute, OnEnd: end.onEnd})
	c.Enqueue([]byte("hello\n"))
	if got := string(readN(t, client, 6)); got != "hello\n" {
		t.Fatalf("got %q", got)
	}
	client.Close()
	if r := end.wait(t); r != "client_gone" {
		t.Fatalf("OnEnd %q, want client_gone", r)
	}
	if r := c.EndReason(); r != "client_gone" {
		t.Fatalf("end reason %q", r)
	}
	c.Enqueue([]byte("late\n"))
	w.Close()
	if calls := end.calls(); len(calls) != 1 {
		t.Fatalf("OnEnd ran %d times: %q", len(calls), calls)
	}
}
