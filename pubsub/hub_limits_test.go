package pubsub

import (
	"context"
	"errors"
	"testing"
)

// The hub's caps on live streams and subscriptions refuse joins past them
// with ErrHubFull, leave nothing behind (no watch, no count), and admit
// again once room is made.
func TestHubCapsStreamsAndSubscriptions(t *testing.T) {
	mb := NewMemoryBroker(MemoryOptions{})
	h := newMemoryHub(t, mb, HubOptions{MaxStreams: 2, MaxSubscriptions: 3})
	ctx := context.Background()
	a, _ := join(t, h, &recSub{}, "a", HistoryRequest{})
	join(t, h, &recSub{}, "b", HistoryRequest{})
	if _, _, err := h.Join(ctx, &recSub{}, "id", "c", HistoryRequest{}); !errors.Is(err, ErrHubFull) {
		t.Fatalf("third stream: %v", err)
	}
	if mb.watched("c") || h.Streams() != 2 {
		t.Fatalf("a refused join left state: watched %v, streams %d", mb.watched("c"), h.Streams())
	}
	join(t, h, &recSub{}, "a", HistoryRequest{}) // an existing stream: no new one
	if _, _, err := h.Join(ctx, &recSub{}, "id", "a", HistoryRequest{}); !errors.Is(err, ErrHubFull) {
		t.Fatalf("fourth subscription: %v", err)
	}
	if h.Refused() != 2 || h.Subscriptions() != 3 {
		t.Fatalf("refused %d, subscriptions %d", h.Refused(), h.Subscriptions())
	}
	h.Leave(a)
	h.SetLimits(3, 0)
	join(t, h, &recSub{}, "c", HistoryRequest{})
	join(t, h, &recSub{}, "c", HistoryRequest{})
}

// A Delivery holds many forms (a POST connection chooses its identifiers):
// each is built once and found again.
func TestDeliveryManyForms(t *testing.T) {
	d := &Delivery{Msg: Message{Publication: Publication{Data: "x"}}}
	builds := 0
	for round := 0; round < 2; round++ {
		for i := 0; i < 500; i++ {
			key := FrameKey{Form: 1, Identifier: string(rune('a'+i%26)) + string(rune(i))}
			b := d.Frame(key, func(*Message) []byte { builds++; return []byte(key.Identifier) })
			if string(b) != key.Identifier {
				t.Fatalf("form %d: %q", i, b)
			}
		}
	}
	if builds != 500 {
		t.Fatalf("%d builds for 500 forms", builds)
	}
}
