package conn

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingMetrics counts what the writer reports.
type countingMetrics struct {
	delivered atomic.Int64
	dropped   atomic.Int64
}

func (m *countingMetrics) Delivered(n int)    { m.delivered.Add(int64(n)) }
func (m *countingMetrics) SlowClientDropped() { m.dropped.Add(1) }

// tcpPair returns both ends of a loopback TCP connection: the client's, and
// the server's as net/http would hand it over.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return cc.(*net.TCPConn), sc.(*net.TCPConn)
}

// endRecorder records the reasons OnEnd was called with.
type endRecorder struct {
	mu      sync.Mutex
	reasons []string
	ended   chan struct{}
}

func newEndRecorder() *endRecorder { return &endRecorder{ended: make(chan struct{})} }

func (e *endRecorder) onEnd(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reasons = append(e.reasons, reason)
	if len(e.reasons) == 1 {
		close(e.ended)
	}
}

func (e *endRecorder) calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.reasons...)
}

// wait returns the first reason OnEnd got, failing after a generous bound.
func (e *endRecorder) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-e.ended:
	case <-time.After(20 * time.Second):
		t.Fatal("OnEnd was never called")
	}
	return e.calls()[0]
}

// readAll reads until the peer closes (or resets) the connection and
// returns what came and the error that ended the read (nil on an orderly
// close).
func readAll(t *testing.T, c net.Conn) ([]byte, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var buf bytes.Buffer
	_, err := buf.ReadFrom(c)
	return buf.Bytes(), err
}

// readN reads exactly n bytes.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, n)
	got := 0
	for got < n {
		k, err := c.Read(b[got:])
		got += k
		if err != nil {
			t.Fatalf("read %d of %d bytes: %v", got, n, err)
		}
	}
	return b
}

// eventually polls cond until it holds, failing after a generous bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// joined concatenates a queue as the line codec writes it.
func joined(q [][]byte) string {
	return string(bytes.Join(q, nil))
}
