//go:build unix

package conn

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// stallFrames returns n distinct frames of size bytes each: their order on
// the wire shows in the bytes.
func stallFrames(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		line := []byte(fmt.Sprintf("frame %06d|", i))
		out[i] = bytes.Repeat(line, size/len(line)+1)[:size]
	}
	return out
}

// A client that stops reading stalls its writes; the pool keeps the rest
// and retries later instead of waiting on it, so one writer still serves
// another connection meanwhile. Once the client reads again, every byte
// arrives, in order, and the connection ends only when closed.
func TestStalledWriteLeavesPoolFree(t *testing.T) {
	w := NewPool(1) // one writer: a writer blocked on the stalled client would starve the other
	defer w.Close()

	slowClient, slowServer := tcpPair(t)
	// Small, but not below the loopback MSS (64 KiB): a receive window
	// smaller than one segment makes Linux crawl through zero-window
	// probes once the client reads again, with or without the pool.
	_ = slowClient.SetReadBuffer(64 << 10)
	slow := newTestConn("slow", 0)
	slowEnd := newEndRecorder()
	w.Adopt(slow, slowServer, TakeOver{WriteTimeout: time.Hour, SendBuffer: 4096, OnEnd: slowEnd.onEnd})

	// Far more than the shrunk kernel buffers hold: the writes stall.
	frames := stallFrames(128, 32<<10)
	for _, f := range frames {
		slow.Enqueue(f)
	}

	quickClient, quickServer := tcpPair(t)
	quick := newTestConn("quick", 0)
	quickEnd := newEndRecorder()
	w.Adopt(quick, quickServer, TakeOver{WriteTimeout: time.Hour, OnEnd: quickEnd.onEnd})
	for i := 0; i < 10; i++ {
		msg := fmt.Sprintf("quick %d\n", i)
		quick.Enqueue([]byte(msg))
		if got := string(readN(t, quickClient, len(msg))); got != msg {
			t.Fatalf("quick client got %q, want %q", got, msg)
		}
	}
	if calls := slowEnd.calls(); len(calls) > 0 {
		t.Fatalf("the stalled connection ended (%q) while its client was only slow", calls)
	}

	want := bytes.Join(frames, nil)
	got := readN(t, slowClient, len(want))
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the stalled connection's bytes differ from byte %d on", i)
	}

	slow.Close([]byte("bye\n"), "done")
	rest, err := readAll(t, slowClient)
	if err != nil || string(rest) != "bye\nend\n" {
		t.Fatalf("after the backlog: %q, %v", rest, err)
	}
	if r := slowEnd.wait(t); r != "done" {
		t.Fatalf("OnEnd %q", r)
	}
	if calls := quickEnd.calls(); len(calls) > 0 {
		t.Fatalf("the quick connection ended: %q", calls)
	}
}

// A client stalled for longer than the write timeout is cut: its socket is
// reset (the unsent backlog is dropped, not delivered late), OnEnd gets
// too_slow and the drop is counted.
func TestStalledBeyondWriteTimeoutIsCut(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	client, server := tcpPair(t)
	_ = client.SetReadBuffer(4096)
	m := &countingMetrics{}
	c := New("slow", "127.0.0.1", m, lineCodec{}, 0)
	end := newEndRecorder()
	w.Adopt(c, server, TakeOver{WriteTimeout: 100 * time.Millisecond, SendBuffer: 4096, OnEnd: end.onEnd})
	frames := stallFrames(128, 32<<10)
	for _, f := range frames {
		c.Enqueue(f)
	}
	if r := end.wait(t); r != "too_slow" {
		t.Fatalf("OnEnd %q, want too_slow", r)
	}
	if n := m.dropped.Load(); n != 1 {
		t.Fatalf("SlowClientDropped counted %d times", n)
	}
	got, err := readAll(t, client)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the cut connection ended with %v, not a reset", err)
	}
	if total := len(bytes.Join(frames, nil)); len(got) >= total {
		t.Fatalf("the whole backlog (%d bytes) was delivered to a cut client", total)
	}
	if calls := end.calls(); len(calls) != 1 {
		t.Fatalf("OnEnd ran %d times: %q", len(calls), calls)
	}
}

// A stalled client whose queue outgrows max_pending meanwhile (the bytes
// of the stalled write count) is cut at once with too_slow, without
// waiting for the write timeout.
func TestStalledClientOverMaxPendingIsCut(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	client, server := tcpPair(t)
	_ = client.SetReadBuffer(4096)
	m := &countingMetrics{}
	const maxPending = 1 << 20
	c := New("slow", "127.0.0.1", m, lineCodec{}, maxPending)
	end := newEndRecorder()
	w.Adopt(c, server, TakeOver{WriteTimeout: time.Hour, SendBuffer: 4096, OnEnd: end.onEnd})
	// Each burst fits max_pending alone; the writer takes it into a write
	// that stalls, and the bytes it could not send still count.
	for _, f := range stallFrames(64, 64<<10) {
		c.Enqueue(f)
		if c.EndReason() != "" {
			break
		}
		time.Sleep(time.Millisecond) // let the writer take bursts, so that the stalled write holds them
	}
	if r := end.wait(t); r != "too_slow" {
		t.Fatalf("OnEnd %q, want too_slow", r)
	}
	if n := m.dropped.Load(); n != 1 {
		t.Fatalf("SlowClientDropped counted %d times", n)
	}
	if _, err := readAll(t, client); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the cut connection ended with %v, not a reset", err)
	}
}
