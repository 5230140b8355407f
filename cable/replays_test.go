package cable

import (
	"runtime"
	"testing"
	"time"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Handshakes replaying one stored message at the same time share its
// Delivery, so each frame form is built once for all of them; the cache
// holds it weakly and forgets it once no handshake uses it.
func TestReplaysShareDeliveries(t *testing.T) {
	r := NewReplays()
	m := pubsub.Message{Publication: pubsub.Publication{Stream: "s", Data: "x"}, Epoch: "e", Offset: 7}
	copy1, copy2 := m, m // each snapshot holds its own copy
	d1 := r.delivery("s", &copy1)
	d2 := r.delivery("s", &copy2)
	if d1 != d2 {
		t.Fatal("two replays of one stored message framed it twice")
	}
	other := m
	other.Offset = 8
	if r.delivery("s", &other) == d1 {
		t.Fatal("two messages share a delivery")
	}
	runtime.KeepAlive(d1)
	d1, d2 = nil, nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		n := 0
		r.m.Range(func(any, any) bool { n++; return true })
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replay entries left after their deliveries were collected", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
