package pubsub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Reasons passed to Subscriber.Reset.
const (
	// ResetEpochChanged: the stream's epoch changed under a live
	// subscription. Delivery goes on in the new epoch; the client's old
	// position is void (AnyCable's reject_history).
	ResetEpochChanged = "epoch changed"
	// ResetGap: a live message skipped offsets that the hub cannot fill.
	// The subscription is broken and receives nothing more; the client must
	// resume from its last id, which history then fills.
	ResetGap = "gap"
	// ResetJoinOverflow: too many live messages arrived while the
	// subscription was joining. The subscription is broken, as for ResetGap.
	ResetJoinOverflow = "join buffer overflow"
)

// DefaultJoinBufferLimit is the default HubOptions.JoinBufferLimit.
const DefaultJoinBufferLimit = 1000

// HubOptions configures a Hub.
type HubOptions struct {
	// JoinBufferLimit bounds the live messages parked per subscription
	// between Join and Release. Overflow resets the subscription with
	// ResetJoinOverflow. 0 or negative means DefaultJoinBufferLimit.
	JoinBufferLimit int
	// MaxStreams caps the streams with at least one subscription, and
	// MaxSubscriptions the subscriptions, on this hub; a Join past either
	// fails with ErrHubFull. 0 or negative: no cap.
	MaxStreams       int
	MaxSubscriptions int
}

// ErrHubFull is returned by Join when the hub's cap on streams or
// subscriptions is reached.
var ErrHubFull = errors.New("pubsub: stream or subscription limit reached")

// StreamWatcher is an optional Broker extension. The hub calls Watch when a
// subscription to a stream is about to take its snapshot and Unwatch once
// when it leaves, so that a broker can keep the state of watched streams
// (their epoch) alive: the memory broker never evicts a watched stream.
// Calls are counted per subscription, may come from any goroutine, and must
// not block.
type StreamWatcher interface {
	Watch(stream string)
	Unwatch(stream string)
}

// hubShards spreads the registry over several locks.
const hubShards = 32

type hubShard struct {
	mu      sync.RWMutex
	streams map[string]*hubStream
}

// hubStream lists a stream's subscriptions. The slice is append-only between
// compactions: a new subscription is written past the length that any reader
// may hold, and removal builds a new slice, so the dispatcher iterates a
// header it read under the read lock without holding any lock.
type hubStream struct {
	subs []*Subscription
	live int // subscriptions still listed in subs
	dead int // entries of subs that left
}

// Hub fans a broker's numbered messages out to subscriptions and joins
// subscriptions to streams without loss or duplicates (history first, then
// live from where the history ended).
type Hub struct {
	b         Broker
	watcher   StreamWatcher
	joinLimit int
	maxStream atomic.Int64
	maxSub    atomic.Int64
	full      atomic.Int64 // joins refused with ErrHubFull

	startOnce sync.Once
	startErr  error

	shards  [hubShards]hubShard
	nstream atomic.Int64
	nsub    atomic.Int64
}

// NewHub returns a hub over b. Call Start before publishing.
func NewHub(b Broker, opts HubOptions) *Hub {
	h := &Hub{b: b, joinLimit: opts.JoinBufferLimit}
	h.SetLimits(opts.MaxStreams, opts.MaxSubscriptions)
	if h.joinLimit <= 0 {
		h.joinLimit = DefaultJoinBufferLimit
	}
	h.watcher, _ = b.(StreamWatcher)
	for i := range h.shards {
		h.shards[i].streams = make(map[string]*hubStream)
	}
	return h
}

// Start starts the broker with the hub's dispatcher. It is idempotent: later
// calls return the first call's result.
func (h *Hub) Start() error {
	h.startOnce.Do(func() { h.startErr = h.b.Start(h.dispatch) })
	return h.startErr
}

// Broker returns the hub's broker.
func (h *Hub) Broker() Broker { return h.b }

// Publish numbers, stores and delivers a publication (the broker's Publish).
func (h *Hub) Publish(ctx context.Context, p Publication) (Message, error) {
	return h.b.Publish(ctx, p)
}

// Close closes the broker.
func (h *Hub) Close() error { return h.b.Close() }

// Streams is the number of streams with at least one subscription.
func (h *Hub) Streams() int { return int(h.nstream.Load()) }

// Subscriptions is the number of registered subscriptions (joining or live).
func (h *Hub) Subscriptions() int { return int(h.nsub.Load()) }

// Refused is the number of joins refused with ErrHubFull.
func (h *Hub) Refused() int64 { return h.full.Load() }

// SetLimits changes the caps of HubOptions.MaxStreams and MaxSubscriptions
// (on reload); streams and subscriptions beyond new caps stay.
func (h *Hub) SetLimits(maxStreams, maxSubscriptions int) {
	h.maxStream.Store(int64(maxStreams))
	h.maxSub.Store(int64(maxSubscriptions))
}

func (h *Hub) shard(stream string) *hubShard {
	return &h.shards[strHash(stream)%hubShards]
}

// strHash is FNV-1a over s; it does not allocate.
func strHash(s string) uint32 {
	x := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		x ^= uint32(s[i])
		x *= 16777619
	}
	return x
}

// Join registers a subscription to stream, takes the broker's snapshot for
// req, and sets the subscription's position to the snapshot's top.
//
// Until Release, live messages for the subscription are parked. The caller
// writes snap.Messages (the recovered history, if any) to its client, then
// calls s.Release, which delivers the parked messages that come after the
// snapshot and switches to live delivery. Registering before reading the
// snapshot means that every message is either in the snapshot or parked;
// messages in both are dropped by offset.
//
// The Subscriber's Reset may be called before Join returns (join buffer
// overflow). If the snapshot fails, the subscription is removed and the
// error returned.
func (h *Hub) Join(ctx context.Context, sub Subscriber, identifier, stream string, req HistoryRequest) (*Subscription, Snapshot, error) {
	s := &Subscription{
		Stream:     stream,
		Identifier: identifier,
		Subscriber: sub,
		hub:        h,
		joining:    true,
	}
	if h.watcher != nil {
		h.watcher.Watch(stream)
	}
	if err := h.register(s); err != nil {
		if h.watcher != nil {
			h.watcher.Unwatch(stream)
		}
		return nil, Snapshot{}, err
	}
	snap, err := h.b.Snapshot(ctx, stream, req)
	if err != nil {
		h.Leave(s)
		return nil, Snapshot{}, err
	}
	s.mu.Lock()
	s.epoch = snap.Top.Epoch
	s.last = snap.Top.Offset
	s.joined = snap.Top
	s.mu.Unlock()
	return s, snap, nil
}

// History reads stored messages of stream for req without joining it (a
// history command on a stream the client already follows).
func (h *Hub) History(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error) {
	return h.b.Snapshot(ctx, stream, req)
}

// Leave removes the subscription. When it returns, no callback for s is
// running and none will run. It is idempotent, and must not be called from
// inside the Subscriber's own Deliver or Reset for s (they run under the
// subscription's lock).
func (h *Hub) Leave(s *Subscription) {
	s.mu.Lock()
	if s.left {
		s.mu.Unlock()
		return
	}
	s.left = true
	s.parked = nil
	s.mu.Unlock()

	h.unregister(s)
	if h.watcher != nil {
		h.watcher.Unwatch(s.Stream)
	}
}

func (h *Hub) register(s *Subscription) error {
	maxStream, maxSub := h.maxStream.Load(), h.maxSub.Load()
	sh := h.shard(s.Stream)
	sh.mu.Lock()
	hs := sh.streams[s.Stream]
	// The counts are read across shards without their locks: concurrent
	// joins may pass a cap by a few, never by an amount a client chooses.
	if (maxSub > 0 && h.nsub.Load() >= maxSub) || (hs == nil && maxStream > 0 && h.nstream.Load() >= maxStream) {
		sh.mu.Unlock()
		h.full.Add(1)
		return ErrHubFull
	}
	if hs == nil {
		hs = &hubStream{}
		sh.streams[s.Stream] = hs
		h.nstream.Add(1)
	}
	// Appending writes beyond the length held by any reader (or into a new
	// array), so iterations in progress are unaffected.
	hs.subs = append(hs.subs, s)
	hs.live++
	s.listed = true
	sh.mu.Unlock()
	h.nsub.Add(1)
	return nil
}

func (h *Hub) unregister(s *Subscription) {
	sh := h.shard(s.Stream)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !s.listed {
		return
	}
	s.listed = false
	h.nsub.Add(-1)
	hs := sh.streams[s.Stream]
	hs.live--
	hs.dead++
	if hs.live == 0 {
		delete(sh.streams, s.Stream)
		h.nstream.Add(-1)
		return
	}
	if hs.dead > hs.live {
		// Compact into a new array: readers keep iterating the old one.
		subs := make([]*Subscription, 0, hs.live+hs.live/4+1)
		for _, x := range hs.subs {
			if x.listed {
				subs = append(subs, x)
			}
		}
		hs.subs = subs
		hs.dead = 0
	}
}

// dispatch receives every numbered message from the broker. It is called
// concurrently for different streams and in offset order per stream.
func (h *Hub) dispatch(m Message) {
	sh := h.shard(m.Stream)
	sh.mu.RLock()
	var subs []*Subscription
	if hs := sh.streams[m.Stream]; hs != nil {
		subs = hs.subs
	}
	sh.mu.RUnlock()
	if len(subs) == 0 {
		return
	}
	d := &Delivery{Msg: m}
	for _, s := range subs {
		s.offer(d)
	}
}

// Subscription is one subscriber's membership of one stream.
type Subscription struct {
	Stream     string
	Identifier string
	Subscriber Subscriber

	hub *Hub

	// listed is guarded by the stream's registry shard lock.
	listed bool

	mu      sync.Mutex
	joining bool
	left    bool
	broken  bool
	parked  []*Delivery
	epoch   string
	last    uint64
	// joined is the join snapshot's top: what came later is delivered live.
	joined Position
}

// Joined is the stream's top when the subscription joined it: the messages
// after it are delivered live, those up to it only through history.
func (s *Subscription) Joined() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joined
}

// Position is the last position delivered to the subscription, or the join
// snapshot's top when nothing newer was delivered.
func (s *Subscription) Position() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Position{Epoch: s.epoch, Offset: s.last}
}

// Release delivers the messages parked since Join that follow the snapshot,
// and switches the subscription to live delivery. It is idempotent.
func (s *Subscription) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.joining {
		return
	}
	s.joining = false
	parked := s.parked
	s.parked = nil
	if s.left {
		return
	}
	for _, d := range parked {
		s.apply(d)
	}
}

// offer hands a delivery to the subscription.
func (s *Subscription) offer(d *Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.left || s.broken {
		return
	}
	if s.joining {
		if len(s.parked) >= s.hub.joinLimit {
			s.parked = nil
			s.broken = true
			s.Subscriber.Reset(s, ResetJoinOverflow)
			return
		}
		s.parked = append(s.parked, d)
		return
	}
	s.apply(d)
}

// apply is the live rule. s.mu is held.
//
// A message excluded for this subscriber (exclude_socket) still goes
// through the rule: the position moves past it without delivering it, so
// that the next message is not mistaken for a gap.
func (s *Subscription) apply(d *Delivery) {
	if s.broken {
		return
	}
	m := &d.Msg
	excluded := m.ExcludeSocket != "" && s.Subscriber.SocketID() == m.ExcludeSocket
	if m.Offset == 0 { // transient
		if !excluded {
			s.Subscriber.Deliver(s, d)
		}
		return
	}
	if m.Epoch != s.epoch {
		// A snapshot without an epoch (a broker that had none yet) and no
		// position has nothing to invalidate: adopt the epoch silently.
		if s.epoch != "" || s.last != 0 {
			s.Subscriber.Reset(s, ResetEpochChanged)
		}
		s.epoch = m.Epoch
		s.last = 0
	}
	switch {
	case m.Offset <= s.last:
		// Already delivered (history overlap or a re-read).
	case m.Offset == s.last+1:
		s.last = m.Offset
		if !excluded {
			s.Subscriber.Deliver(s, d)
		}
	default:
		s.broken = true
		s.Subscriber.Reset(s, ResetGap)
	}
}
