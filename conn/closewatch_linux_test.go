//go:build linux

package conn

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// An epoll set that fails is counted and recreated with every watched
// connection, so a client that leaves afterwards is still noticed. Before,
// the watch goroutine returned silently and later registrations went into
// a dead set.
func TestCloseWatchSurvivesEpollFailure(t *testing.T) {
	w := newCloseWatch()
	if w == nil {
		t.Skip("no epoll")
	}
	defer w.close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	c := newTestConn("a", 0)
	c.nc, c.raw = server, server
	w.add(c)

	w.mu.Lock()
	syscall.Close(w.epfd) // the set fails under the watch
	w.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for w.failureCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failed epoll set was not noticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	client.Close()
	for {
		c.mu.Lock()
		closed, reason := c.closed, c.endReason
		c.mu.Unlock()
		if closed {
			if reason != "client_gone" {
				t.Fatalf("ended with %q", reason)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a client that left after the failure was not noticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
