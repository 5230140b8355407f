package sse

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Slow connections of one stream share the frames: what each one holds is a
// list of references, so fifty of them cost about one copy of the data, not
// fifty. Before, every queue copied every frame into a private buffer.
func TestSlowQueuesShareFrames(t *testing.T) {
	const conns, msgs = 50, 2000
	payload := strings.Repeat("x", 1<<10)
	sub := &pubsub.Subscription{Stream: "s", Identifier: "id"}
	cs := make([]*Stream, conns)
	for i := range cs {
		cs[i] = newStream(fmt.Sprint(i), "127.0.0.1", nil, noMetrics{}, ModeGET, false, 4<<20)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for k := 1; k <= msgs; k++ {
		d := &pubsub.Delivery{Msg: pubsub.Message{Publication: pubsub.Publication{Stream: "s", Data: payload}, Epoch: "e", Offset: uint64(k)}}
		for _, c := range cs {
			c.Deliver(sub, d)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	queues := make([][][]byte, conns)
	for i, c := range cs {
		q, queued := c.c.Take()
		if reason := c.c.EndReason(); queued < msgs*len(payload) || reason != "" {
			t.Fatalf("conn %d: %d bytes queued, ended %q", i, queued, reason)
		}
		queues[i] = q
	}
	// The two queues hold the very same bytes.
	if unsafe.SliceData(queues[0][7]) != unsafe.SliceData(queues[conns-1][7]) {
		t.Fatal("two queues hold copies of one frame")
	}
	data := int64(msgs * (len(payload) + 64))
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 3*data {
		t.Fatalf("%d slow connections holding %d messages of %d bytes grew the heap by %d bytes (the data is %d)",
			conns, msgs, len(payload), grew, data)
	}
	runtime.KeepAlive(cs)
}

// A queue over max_pending drops the connection as too_slow and lets the
// queued frames go; the complete events before the last one stay.
func TestQueueOverflowCutsAndFrees(t *testing.T) {
	st := newStream("1", "127.0.0.1", nil, noMetrics{}, ModeGET, false, 10<<10)
	sub := &pubsub.Subscription{Stream: "s", Identifier: "id"}
	for k := 1; k <= 20; k++ {
		d := &pubsub.Delivery{Msg: pubsub.Message{Publication: pubsub.Publication{Stream: "s", Data: strings.Repeat("y", 1<<10)}, Epoch: "e", Offset: uint64(k)}}
		st.Deliver(sub, d)
	}
	if reason := st.c.EndReason(); reason != "too_slow" {
		t.Fatalf("ended %q", reason)
	}
	q, queued := st.c.Take()
	if queued > 10<<10 || len(q) == 0 {
		t.Fatalf("%d bytes in %d entries left queued", queued, len(q))
	}
}

// A resume whose first replayed message alone exceeds max_pending still
// writes it (so that the resume makes progress) when a live message
// released during the handshake overflows the queue: the cut keeps the
// replayed history and ends as a partial replay (written, then too_slow
// reconnect:true). Before, the cut truncated the queue to nothing.
func TestLiveOverflowKeepsOversizedReplay(t *testing.T) {
	c := newStream("1", "127.0.0.1", nil, noMetrics{}, ModeGET, false, 4<<10)
	sub := &pubsub.Subscription{Stream: "s", Identifier: "id"}
	msg := func(k, size int) *pubsub.Delivery {
		return &pubsub.Delivery{Msg: pubsub.Message{Publication: pubsub.Publication{Stream: "s", Data: fmt.Sprintf("%d %s", k, strings.Repeat("y", size))}, Epoch: "e", Offset: uint64(k)}}
	}
	if n := c.Replay(sub, []*pubsub.Delivery{msg(1, 8<<10)}, true); n != 1 {
		t.Fatalf("replay took %d", n)
	}
	c.Deliver(sub, msg(2, 100)) // parked during the handshake, released now
	reason := c.c.EndReason()
	if reason == "" {
		t.Fatal("the overflow did not end the connection")
	}
	if reason == "too_slow" {
		t.Fatal("ended as too_slow: the replayed event would never be written")
	}
	var out strings.Builder
	for _, b := range c.c.FinalBytes() {
		out.Write(b)
	}
	got := out.String()
	if !strings.HasPrefix(got, "data: 1 ") || !strings.Contains(got, "id: 1/e/s\n") {
		t.Fatalf("the replayed message is gone: %.80q", got)
	}
	if strings.Contains(got, "data: 2 ") {
		t.Fatal("the live message that overflowed was kept")
	}
	if !strings.HasSuffix(got, `data: {"type":"disconnect","reason":"too_slow","reconnect":true}`+"\n\n") {
		t.Fatalf("no too_slow disconnect at the end: %q", got[len(got)-100:])
	}
}
