package sse

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

var benchPayload = `{"text":"` + strings.Repeat("x", 240) + `"}`

// BenchmarkEncodeBroadcast: one broadcast framed for GET clients (JSON
// re-encoding and SSE framing), which happens once per message per form.
func BenchmarkEncodeBroadcast(b *testing.B) {
	m := &pubsub.Message{Publication: pubsub.Publication{Stream: "room/1", Data: benchPayload}, Epoch: "abcdEFGH", Offset: 42}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		buildFrame(m, pubsub.FrameKey{Form: formGETData}, "")
	}
}

// BenchmarkFanoutToConnections: a broadcast through the hub into the queues
// of N connections (the writers are not part of it). Allocations per message
// must not grow with N: the frame is built once and each queue holds a
// reference to it.
func BenchmarkFanoutToConnections(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			broker := pubsub.NewMemoryBroker(pubsub.MemoryOptions{HistoryLimit: 10})
			hub := pubsub.NewHub(broker, pubsub.HubOptions{})
			if err := hub.Start(); err != nil {
				b.Fatal(err)
			}
			defer hub.Close()
			conns := make([]*Stream, n)
			for i := range conns {
				c := newStream(fmt.Sprint(i), "127.0.0.1", nil, noMetrics{}, ModeGET, false, 0)
				// Both queue arrays up front, as after a connection's
				// first rounds (Take and GiveBack alternate them).
				c.c.GiveBack(make([][]byte, 0, 64))
				c.c.Take()
				c.c.GiveBack(make([][]byte, 0, 64))
				conns[i] = c
				s, _, err := hub.Join(context.Background(), c, "id", "bench", pubsub.HistoryRequest{})
				if err != nil {
					b.Fatal(err)
				}
				s.Release()
			}
			pub := pubsub.Publication{Stream: "bench", Data: benchPayload}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := hub.Publish(context.Background(), pub); err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 { // what the writers would do: drain the queues
					for _, c := range conns {
						q, _ := c.c.Take()
						c.c.GiveBack(q)
						select {
						case <-c.c.Signal():
						default:
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}
