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
	cs := make([]*Conn, conns)
	for i := range cs {
		cs[i] = newConn(fmt.Sprint(i), "127.0.0.1", noMetrics{}, ModeGET, false, 4<<20)
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
	for _, c := range cs {
		if c.queued < msgs*len(payload) || c.closed {
			t.Fatalf("conn %s: %d bytes queued, closed %v", c.sid, c.queued, c.closed)
		}
	}
	// The two queues hold the very same bytes.
	if unsafe.SliceData(cs[0].queue[7]) != unsafe.SliceData(cs[conns-1].queue[7]) {
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
	c := newConn("1", "127.0.0.1", noMetrics{}, ModeGET, false, 10<<10)
	sub := &pubsub.Subscription{Stream: "s", Identifier: "id"}
	for k := 1; k <= 20; k++ {
		d := &pubsub.Delivery{Msg: pubsub.Message{Publication: pubsub.Publication{Stream: "s", Data: strings.Repeat("y", 1<<10)}, Epoch: "e", Offset: uint64(k)}}
		c.Deliver(sub, d)
	}
	if !c.closed || c.endReason != "too_slow" {
		t.Fatalf("closed %v reason %q", c.closed, c.endReason)
	}
	if c.queued > 10<<10 || len(c.queue) == 0 {
		t.Fatalf("%d bytes in %d entries left queued", c.queued, len(c.queue))
	}
}
