package pubsub

import (
	"context"
	"fmt"
	"testing"
)

// benchSub frames every delivery through the shared cache and appends the
// bytes to a preallocated buffer, as a connection's pending buffer would.
type benchSub struct {
	buf []byte
}

var benchKey = FrameKey{Form: 1}

func buildBenchFrame(m *Message) []byte {
	b := make([]byte, 0, len(m.Data)+32)
	b = append(b, "data: "...)
	b = append(b, m.Data...)
	return append(b, '\n', '\n')
}

func (s *benchSub) Deliver(_ *Subscription, d *Delivery) {
	f := d.Frame(benchKey, buildBenchFrame)
	if len(s.buf)+len(f) > cap(s.buf) {
		s.buf = s.buf[:0]
	}
	s.buf = append(s.buf, f...)
}

func (s *benchSub) Reset(*Subscription, string) {}
func (s *benchSub) SocketID() string            { return "" }

func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			h := NewHub(NewMemoryBroker(MemoryOptions{}), HubOptions{})
			if err := h.Start(); err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			subs := make([]*benchSub, n)
			for i := range subs {
				subs[i] = &benchSub{buf: make([]byte, 0, 4096)}
				s, _, err := h.Join(context.Background(), subs[i], "id", "s", HistoryRequest{})
				if err != nil {
					b.Fatal(err)
				}
				s.Release()
			}
			ctx := context.Background()
			p := Publication{Stream: "s", Data: `{"text":"hello, world"}`}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := h.Publish(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if len(subs[n-1].buf) == 0 {
				b.Fatal("nothing delivered")
			}
		})
	}
}

func BenchmarkHistoryAppend(b *testing.B) {
	br := NewMemoryBroker(MemoryOptions{HistoryLimit: 100})
	br.Start(func(Message) {})
	defer br.Close()
	ctx := context.Background()
	p := Publication{Stream: "s", Data: `{"text":"hello, world"}`}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := br.Publish(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHistoryRead(b *testing.B) {
	br := NewMemoryBroker(MemoryOptions{HistoryLimit: 100})
	br.Start(func(Message) {})
	defer br.Close()
	ctx := context.Background()
	var last Message
	for i := 0; i < 150; i++ {
		last, _ = br.Publish(ctx, Publication{Stream: "s", Data: `{"text":"hello, world"}`})
	}
	req := HistoryRequest{From: &Position{Epoch: last.Epoch, Offset: last.Offset - 50}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := br.Snapshot(ctx, "s", req)
		if err != nil || len(s.Messages) != 50 {
			b.Fatal(err, len(s.Messages))
		}
	}
}

// BenchmarkDeliveryManyIdentifiers: one message framed for a POST
// connection with N identifiers on one stream (N forms of one Delivery).
// The cost per lookup must not grow with N.
func BenchmarkDeliveryManyIdentifiers(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("ids=%d", n), func(b *testing.B) {
			keys := make([]FrameKey, n)
			for i := range keys {
				keys[i] = FrameKey{Form: 1, Identifier: fmt.Sprintf(`{"channel":"$pubsub","stream_name":"s","n":%d}`, i)}
			}
			frame := []byte("data: x\n\n")
			b.ReportAllocs()
			for b.Loop() {
				d := &Delivery{}
				for _, k := range keys {
					d.Frame(k, func(*Message) []byte { return frame })
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/lookup")
		})
	}
}
