package cable

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// nullCodec frames nothing: the fake transport records what the session
// asks of it instead of reading the wire.
type nullCodec struct{}

func (nullCodec) Disconnect(protocol.Reply) []byte                    { return nil }
func (nullCodec) Ping(time.Time) []byte                               { return nil }
func (nullCodec) Wrap(dst net.Buffers, _ [][]byte, _ int) net.Buffers { return dst }
func (nullCodec) End() []byte                                         { return nil }

// fakeTransport records replies, transmissions, replays and live
// deliveries, in order.
type fakeTransport struct {
	c *conn.Conn

	mu            sync.Mutex
	replies       []protocol.Reply
	transmissions []string
	replayed      []uint64 // offsets of replayed messages
	resets        []string
	// order is every call in order: "replay N", "live N", or a reply's type.
	order []string
}

func newFakeTransport(sid string) *fakeTransport {
	return &fakeTransport{c: conn.New(sid, "127.0.0.1", nil, nullCodec{}, 0)}
}

func (f *fakeTransport) Conn() *conn.Conn { return f.c }
func (f *fakeTransport) SocketID() string { return f.c.SID() }

func (f *fakeTransport) Deliver(_ *pubsub.Subscription, d *pubsub.Delivery) {
	f.mu.Lock()
	f.order = append(f.order, "live "+strconv.FormatUint(d.Msg.Offset, 10))
	f.mu.Unlock()
}

func (f *fakeTransport) Reset(_ *pubsub.Subscription, reason string) {
	f.mu.Lock()
	f.resets = append(f.resets, reason)
	f.mu.Unlock()
}

func (f *fakeTransport) Reply(r protocol.Reply) {
	f.mu.Lock()
	f.replies = append(f.replies, r)
	f.order = append(f.order, r.Type)
	f.mu.Unlock()
}

func (f *fakeTransport) Transmit(msg string) {
	f.mu.Lock()
	f.transmissions = append(f.transmissions, msg)
	f.mu.Unlock()
}

func (f *fakeTransport) Replay(_ *pubsub.Subscription, ds []*pubsub.Delivery, _ bool) int {
	f.mu.Lock()
	for _, d := range ds {
		f.replayed = append(f.replayed, d.Msg.Offset)
		f.order = append(f.order, "replay "+strconv.FormatUint(d.Msg.Offset, 10))
	}
	f.mu.Unlock()
	return len(ds)
}

// lastReply is the latest reply, failing when there is none.
func (f *fakeTransport) lastReply(t *testing.T) protocol.Reply {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.replies) == 0 {
		t.Fatal("no reply")
	}
	return f.replies[len(f.replies)-1]
}

func (f *fakeTransport) replyCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.replies)
}

func newTestHub(t *testing.T) *pubsub.Hub {
	t.Helper()
	h := pubsub.NewHub(pubsub.NewMemoryBroker(pubsub.MemoryOptions{}), pubsub.HubOptions{})
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func testConfig(hub *pubsub.Hub) *Config {
	return &Config{Hub: hub, Replays: NewReplays(), Log: zap.NewNop()}
}

// Without an app, every connection is accepted with a server-made welcome
// carrying the sid, and the sid becomes its identifiers.
func TestAuthenticateWithoutRPCWelcomes(t *testing.T) {
	ft := newFakeTransport("sid-1")
	s := New(testConfig(newTestHub(t)), ft)
	if out := s.Authenticate(context.Background()); out.Kind != OK {
		t.Fatalf("outcome %+v", out)
	}
	r := ft.lastReply(t)
	if r.Type != protocol.TypeWelcome || r.Sid != "sid-1" {
		t.Fatalf("reply %+v, want a welcome with the sid", r)
	}
	if ids := ft.c.Identifiers(); ids != `{"sid":"sid-1"}` {
		t.Fatalf("identifiers %q", ids)
	}
	if s.KnownToApp() {
		t.Fatal("the app would get a disconnect call for a connection it never saw")
	}
}

// A public $pubsub stream is refused unless public streams are on; then it
// is confirmed and named. Subscribing to one identifier twice is invalid.
func TestSubscribePublicStream(t *testing.T) {
	id := protocol.PubSubStreamIdentifier("chat")
	cfg := testConfig(newTestHub(t))

	ft := newFakeTransport("a")
	s := New(cfg, ft)
	if streams, out := s.Subscribe(context.Background(), id); out.Kind != Invalid || streams != nil {
		t.Fatalf("public stream with public streams off: %v %+v", streams, out)
	}
	if n := ft.replyCount(); n != 0 {
		t.Fatalf("%d replies to a refused subscription", n)
	}
	if len(s.Subscriptions()) != 0 {
		t.Fatal("a refused identifier counts as subscribed")
	}

	cfg.PublicStreams = true
	streams, out := s.Subscribe(context.Background(), id)
	if out.Kind != OK || len(streams) != 1 || streams[0] != "chat" {
		t.Fatalf("public stream with public streams on: %v %+v", streams, out)
	}
	if r := ft.lastReply(t); r.Type != protocol.TypeConfirmSubscription || r.Identifier != id {
		t.Fatalf("reply %+v", r)
	}
	if subs := s.Subscriptions(); len(subs) != 1 || subs[0] != id {
		t.Fatalf("subscriptions %q", subs)
	}

	replies := ft.replyCount()
	if _, out := s.Subscribe(context.Background(), id); out.Kind != Invalid || !strings.Contains(out.Reason, "already subscribed") {
		t.Fatalf("second subscription: %+v", out)
	}
	if ft.replyCount() != replies || len(s.Subscriptions()) != 1 {
		t.Fatal("a second subscription was confirmed or recorded")
	}
}

// A signed stream name is verified with the streams secret: a good
// signature names its stream, a forged one or a missing secret is invalid.
func TestSubscribeSignedStream(t *testing.T) {
	v := protocol.NewVerifier([]byte("streams-secret"))
	signed := v.Sign("room/1")
	id := protocol.PubSubSignedIdentifier(signed)

	cfg := testConfig(newTestHub(t))
	if _, out := New(cfg, newFakeTransport("a")).Subscribe(context.Background(), id); out.Kind != Invalid {
		t.Fatalf("signed stream without a secret: %+v", out)
	}

	cfg.Streams = v
	ft := newFakeTransport("b")
	streams, out := New(cfg, ft).Subscribe(context.Background(), id)
	if out.Kind != OK || len(streams) != 1 || streams[0] != "room/1" {
		t.Fatalf("signed stream: %v %+v", streams, out)
	}
	if r := ft.lastReply(t); r.Type != protocol.TypeConfirmSubscription || r.Identifier != id {
		t.Fatalf("reply %+v", r)
	}

	forged := protocol.NewVerifier([]byte("another-secret")).Sign("room/1")
	if _, out := New(cfg, newFakeTransport("c")).Subscribe(context.Background(), protocol.PubSubSignedIdentifier(forged)); out.Kind != Invalid {
		t.Fatalf("forged signature: %+v", out)
	}
}

// Joining from a position replays the history after it, then answers
// confirm_history when the client asked; live messages wait for Release and
// come after the history.
func TestJoinReplaysHistoryFromPosition(t *testing.T) {
	hub := newTestHub(t)
	ctx := context.Background()
	var epoch string
	for i := 0; i < 3; i++ {
		m, err := hub.Publish(ctx, pubsub.Publication{Stream: "chat", Data: `"m"`})
		if err != nil {
			t.Fatal(err)
		}
		epoch = m.Epoch
	}
	cfg := testConfig(hub)
	cfg.PublicStreams = true
	ft := newFakeTransport("a")
	s := New(cfg, ft)
	id := protocol.PubSubStreamIdentifier("chat")
	streams, out := s.Subscribe(ctx, id)
	if out.Kind != OK {
		t.Fatalf("subscribe: %+v", out)
	}
	j, out := s.Join(ctx, id, streams, []protocol.StreamPosition{{Stream: "chat", Epoch: epoch, Offset: 1}}, 0)
	if out.Kind != OK {
		t.Fatalf("join: %+v", out)
	}
	j.Asked = true
	// Published while joining: parked until Release.
	if _, err := hub.Publish(ctx, pubsub.Publication{Stream: "chat", Data: `"live"`}); err != nil {
		t.Fatal(err)
	}
	s.WriteHistory(j)
	if r := ft.lastReply(t); r.Type != protocol.TypeConfirmHistory || r.Identifier != id {
		t.Fatalf("reply %+v, want confirm_history", r)
	}
	s.Release(j)

	deadline := time.Now().Add(20 * time.Second)
	for {
		ft.mu.Lock()
		order := strings.Join(ft.order, ", ")
		ft.mu.Unlock()
		if strings.Contains(order, "live") {
			if want := "confirm_subscription, replay 2, replay 3, confirm_history, live 4"; order != want {
				t.Fatalf("calls %q, want %q", order, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live message never came (calls %q)", order)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s.Streams() != 1 {
		t.Fatalf("%d streams joined", s.Streams())
	}
	s.Leave()
	if n := hub.Subscriptions(); n != 0 {
		t.Fatalf("%d subscriptions left after Leave", n)
	}
}

// A position the broker cannot serve (another epoch) is answered with
// reject_history and replays nothing.
func TestJoinRejectsUnknownEpoch(t *testing.T) {
	hub := newTestHub(t)
	ctx := context.Background()
	if _, err := hub.Publish(ctx, pubsub.Publication{Stream: "chat", Data: `"m"`}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(hub)
	cfg.PublicStreams = true
	ft := newFakeTransport("a")
	s := New(cfg, ft)
	id := protocol.PubSubStreamIdentifier("chat")
	streams, _ := s.Subscribe(ctx, id)
	j, out := s.Join(ctx, id, streams, []protocol.StreamPosition{{Stream: "chat", Epoch: "elsewhere", Offset: 1}}, 0)
	if out.Kind != OK {
		t.Fatalf("join: %+v", out)
	}
	j.Asked = true
	s.WriteHistory(j)
	s.Release(j)
	if r := ft.lastReply(t); r.Type != protocol.TypeRejectHistory || r.Identifier != id {
		t.Fatalf("reply %+v, want reject_history", r)
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if len(ft.replayed) != 0 {
		t.Fatalf("replayed %v from an unknown epoch", ft.replayed)
	}
	s.Leave()
}
