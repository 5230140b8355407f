package pubsub

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Barriers for "no duplicate" checks. Sleeping a little and then counting
// proves nothing on a busy machine: the duplicate may simply come later.
// Delivery is ordered per stream instead (a stream lives in one bus
// partition, read by one goroutine per node, dispatched in order by the
// hub), so a marker published on the stream after the message under test
// arrives after every copy of that message. Once the marker is in, the count
// is final.

var markerSeq atomic.Int64

// newMarker returns a payload no test publishes otherwise.
func newMarker() string { return fmt.Sprintf("barrier-marker-%d", markerSeq.Add(1)) }

// barrierHub publishes a transient marker on stream through h, waits until
// every r has received it and removes it from their records, so the test
// goes on counting what it published itself.
func barrierHub(t *testing.T, h *Hub, stream string, rs ...*recSub) {
	t.Helper()
	marker := newMarker()
	if _, err := h.Publish(context.Background(), Publication{Stream: stream, Data: marker, Transient: true}); err != nil {
		t.Fatalf("publishing the barrier marker: %v", err)
	}
	for _, r := range rs {
		eventually(t, 10*time.Second, "the barrier marker at "+r.sid, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			i := slices.IndexFunc(r.got, func(m Message) bool { return m.Data == marker })
			if i < 0 {
				return false
			}
			r.got = slices.Delete(r.got, i, i+1)
			return true
		})
	}
}

// barrierBroker does the same for a broker's raw deliveries recorded by c.
func barrierBroker(t *testing.T, b Broker, stream string, c *collector) {
	t.Helper()
	marker := newMarker()
	if _, err := b.Publish(context.Background(), Publication{Stream: stream, Data: marker, Transient: true}); err != nil {
		t.Fatalf("publishing the barrier marker: %v", err)
	}
	eventually(t, 10*time.Second, "the barrier marker", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.IndexFunc(c.got, func(m Message) bool { return m.Data == marker })
		if i < 0 {
			return false
		}
		c.got = slices.Delete(c.got, i, i+1)
		return true
	})
}
