package pubsub

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of MemoryOptions (AnyCable's history_limit and history_ttl).
const (
	DefaultHistoryLimit = 100
	DefaultHistoryTTL   = 300 * time.Second
)

// minIdle is the shortest time an idle, empty stream is kept.
const minIdle = time.Minute

// ErrClosed is returned by a broker used after Close.
var ErrClosed = errors.New("pubsub: broker closed")

// errEmptyStream is returned for a publication or snapshot without a stream.
var errEmptyStream = errors.New("pubsub: empty stream name")

// usable is the check both brokers make before a publish or a snapshot.
func usable(ctx context.Context, closed *atomic.Bool, stream string) error {
	if closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if stream == "" {
		return errEmptyStream
	}
	return nil
}

// MemoryOptions configures a MemoryBroker.
type MemoryOptions struct {
	// HistoryLimit is how many messages a stream retains; 0 or negative
	// means DefaultHistoryLimit.
	HistoryLimit int
	// HistoryTTL is how long a message is retained; 0 or negative means
	// DefaultHistoryTTL.
	HistoryTTL time.Duration
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time
}

// MemoryBroker is the embedded single-node broker: it numbers publications
// per stream, keeps their recent history in memory and delivers them in
// offset order.
//
// Each stream instance has its own epoch (8 random characters from
// [A-Za-z0-9]), created with the stream. A stream is created by its first
// publish only: a snapshot of a stream that does not exist answers with no
// epoch and creates nothing, so subscribing to names nobody publishes to
// costs nothing once the subscribers leave. A stream that is empty, idle for
// max(10×HistoryTTL, 1 minute) and not watched by a hub is evicted; if it is
// created again it gets a new epoch, so an old position never maps onto new
// messages.
type MemoryBroker struct {
	now func() time.Time
	historyLimits

	deliver atomic.Pointer[func(Message)]
	closed  atomic.Bool

	shards [memShards]memShard

	watchSet
	sessions sessionTable

	lifeMu  sync.Mutex
	started bool
	stop    chan struct{}
	done    chan struct{}
}

const memShards = 32

type memShard struct {
	mu      sync.RWMutex
	streams map[string]*memStream
}

// memStream is one stream instance. Retained messages are top-n+1..top, in
// a ring buffer that grows up to the history limit.
type memStream struct {
	name string

	mu      sync.Mutex
	dead    bool // evicted; holders of the pointer must look it up again
	epoch   string
	top     uint64
	buf     []Message
	head    int
	n       int
	expired uint64 // highest offset removed because of its age
	touched int64  // Unix nanoseconds of the last publish or snapshot
}

var _ Broker = (*MemoryBroker)(nil)
var _ StreamWatcher = (*MemoryBroker)(nil)
var _ SessionBroker = (*MemoryBroker)(nil)

// NewMemoryBroker returns a memory broker. Start starts its janitor.
func NewMemoryBroker(o MemoryOptions) *MemoryBroker {
	b := &MemoryBroker{now: o.Now}
	if b.now == nil {
		b.now = time.Now
	}
	for i := range b.shards {
		b.shards[i].streams = make(map[string]*memStream)
	}
	b.SetLimits(o.HistoryLimit, o.HistoryTTL)
	b.sessions.init(b.now, &b.closed)
	return b
}

// Sessions implements SessionBroker: the cache lives in this process and
// expires by the broker's clock.
func (b *MemoryBroker) Sessions() SessionCache { return &b.sessions }

// Start implements Broker: deliver receives every message, and the janitor
// starts. Calling Start again only replaces deliver.
func (b *MemoryBroker) Start(deliver func(Message)) error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	if deliver != nil {
		b.deliver.Store(&deliver)
	}
	if !b.started {
		b.started = true
		b.stop = make(chan struct{})
		b.done = make(chan struct{})
		go janitor(b.stop, b.done, b.sweep)
	}
	return nil
}

// Close implements Broker: it stops the janitor. Later publishes and
// snapshots fail with ErrClosed. It is idempotent.
func (b *MemoryBroker) Close() error {
	b.lifeMu.Lock()
	if b.closed.Swap(true) || !b.started {
		b.lifeMu.Unlock()
		return nil
	}
	stop, done := b.stop, b.done
	b.lifeMu.Unlock()
	close(stop)
	<-done
	return nil
}

func (b *MemoryBroker) shard(stream string) *memShard {
	return &b.shards[strHash(stream)%memShards]
}

// stream returns the stream, creating it with a new epoch if needed, and
// reports whether this call created it. The caller locks it and must look it
// up again if it is dead.
func (b *MemoryBroker) stream(name string) (*memStream, bool) {
	sh := b.shard(name)
	sh.mu.RLock()
	st := sh.streams[name]
	sh.mu.RUnlock()
	if st != nil {
		return st, false
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if st = sh.streams[name]; st != nil {
		return st, false
	}
	st = &memStream{name: name, epoch: newEpoch(), touched: b.now().UnixNano()}
	sh.streams[name] = st
	return st, true
}

// lockStream returns the live stream, locked.
func (b *MemoryBroker) lockStream(name string) (*memStream, bool) {
	for {
		st, created := b.stream(name)
		st.mu.Lock()
		if !st.dead {
			return st, created
		}
		st.mu.Unlock()
	}
}

// Publish implements Broker. The message is numbered, stored and delivered
// under the stream's lock, so delivery order is offset order. Deliver must
// not call back into the broker for the same stream.
func (b *MemoryBroker) Publish(ctx context.Context, p Publication) (Message, error) {
	if err := usable(ctx, &b.closed, p.Stream); err != nil {
		return Message{}, err
	}
	limit, ttl := b.limits()
	st, _ := b.lockStream(p.Stream)
	defer st.mu.Unlock()
	now := b.now()
	st.touched = now.UnixNano()
	m := Message{Publication: p, Epoch: st.epoch, Time: now.UnixMilli()}
	if !p.Transient {
		st.expire(m.Time, ttl)
		st.top++
		m.Offset = st.top
		st.push(m, limit)
	}
	if d := b.deliver.Load(); d != nil {
		(*d)(m)
	}
	return m, nil
}

// Snapshot implements Broker. Expired messages are dropped first, then,
// with E/T the stream's epoch and top:
//
//   - no request: NoHistory;
//   - From {e, o}: e != E: NotRecovered ("unknown epoch" for a stream with
//     no publish in its epoch, else "epoch mismatch"); o > T: NotRecovered
//     "ahead of the stream"; o == T: Recovered, no messages; o+1 retained:
//     Recovered with o+1..T (so retained 6..10 serves o = 5); otherwise
//     NotRecovered "expired" or "trimmed";
//   - Since s: Recovered with every retained message stored at or after s.
//
// A snapshot creates a stream that does not exist, so that its epoch is
// stable for the subscriber that asked, and counts as activity against
// eviction.
func (b *MemoryBroker) Snapshot(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error) {
	if err := usable(ctx, &b.closed, stream); err != nil {
		return Snapshot{}, err
	}
	limit, ttl := b.limits()
	st := b.lockExisting(stream)
	if st == nil {
		return absentSnapshot(req), nil
	}
	defer st.mu.Unlock()
	now := b.now()
	st.touched = now.UnixNano()
	st.expire(now.UnixMilli(), ttl)
	st.fit(limit)
	return st.snapshot(req, false), nil
}

// lockExisting returns the live stream, locked, or nil when there is none.
func (b *MemoryBroker) lockExisting(name string) *memStream {
	sh := b.shard(name)
	for {
		sh.mu.RLock()
		st := sh.streams[name]
		sh.mu.RUnlock()
		if st == nil {
			return nil
		}
		st.mu.Lock()
		if !st.dead {
			return st
		}
		st.mu.Unlock()
	}
}

// absentSnapshot answers for a stream that has no state: no epoch yet (the
// first publish makes one, and a subscription adopts it silently) and
// nothing to recover. Reading a stream creates nothing, so names that a
// client chooses cost nothing once it leaves. A position before any message
// ("" epoch, offset 0: what a multi-stream id holds for a stream that was
// empty) is served: there is nothing it could have missed.
func absentSnapshot(req HistoryRequest) Snapshot {
	var snap Snapshot
	switch {
	case req.From != nil:
		if req.From.Epoch == "" && req.From.Offset == 0 {
			snap.Status = Recovered
		} else {
			snap.Status = NotRecovered
			snap.Reason = "unknown epoch"
		}
	case req.Since > 0:
		snap.Status = Recovered
	default:
		snap.Status = NoHistory
	}
	return snap
}

// snapshot applies the recovery decision. st.mu is held and expired entries
// are gone.
func (st *memStream) snapshot(req HistoryRequest, created bool) Snapshot {
	snap := Snapshot{Top: Position{Epoch: st.epoch, Offset: st.top}}
	if req.From != nil && req.From.Epoch == "" && req.From.Offset == 0 {
		// Seen before the stream had an epoch: every epoch since is newer,
		// so the position is the start of the current one.
		req.From = &Position{Epoch: st.epoch}
	}
	switch {
	case req.From != nil:
		o := req.From.Offset
		low := st.top - uint64(st.n) + 1 // top+1 when empty
		switch {
		case req.From.Epoch != st.epoch:
			snap.Status = NotRecovered
			if created || st.top == 0 {
				snap.Reason = "unknown epoch"
			} else {
				snap.Reason = "epoch mismatch"
			}
		case o > st.top:
			snap.Status = NotRecovered
			snap.Reason = "ahead of the stream"
		case o == st.top:
			snap.Status = Recovered
		case o+1 >= low:
			snap.Status = Recovered
			snap.Messages = st.copyFrom(int(o + 1 - low))
		case o+1 <= st.expired:
			snap.Status = NotRecovered
			snap.Reason = "expired"
		default:
			snap.Status = NotRecovered
			snap.Reason = "trimmed"
		}
	case req.Since > 0:
		snap.Status = Recovered
		since := req.Since * 1000
		// Times are not strictly monotonic (clock steps), so scan them all.
		first := -1
		for i := 0; i < st.n; i++ {
			if st.at(i).Time >= since {
				first = i
				break
			}
		}
		if first >= 0 {
			snap.Messages = make([]Message, 0, st.n-first)
			for i := first; i < st.n; i++ {
				if m := st.at(i); m.Time >= since {
					snap.Messages = append(snap.Messages, *m)
				}
			}
		}
	default:
		snap.Status = NoHistory
	}
	return snap
}

// at returns the i-th oldest retained message.
func (st *memStream) at(i int) *Message {
	return &st.buf[(st.head+i)%len(st.buf)]
}

// copyFrom copies the retained messages from the i-th oldest on.
func (st *memStream) copyFrom(i int) []Message {
	out := make([]Message, st.n-i)
	for j := range out {
		out[j] = *st.at(i + j)
	}
	return out
}

// popFront removes the oldest retained message.
func (st *memStream) popFront() {
	st.buf[st.head] = Message{}
	st.head = (st.head + 1) % len(st.buf)
	st.n--
}

// expire removes the messages whose age reaches ttl (nowMs in Unix ms).
func (st *memStream) expire(nowMs int64, ttl time.Duration) {
	cutoff := nowMs - ttl.Milliseconds()
	for st.n > 0 {
		m := st.at(0)
		if m.Time > cutoff {
			break
		}
		st.expired = m.Offset
		st.popFront()
	}
	if st.n == 0 {
		st.buf, st.head = nil, 0 // an idle stream holds no buffer
	}
}

// fit trims the history to limit and shrinks a buffer left larger than the
// limit by SetLimits.
func (st *memStream) fit(limit int) {
	for st.n > limit {
		st.popFront()
	}
	if len(st.buf) > limit {
		st.resize(limit)
	}
}

// resize moves the retained messages into a buffer of size c >= st.n.
func (st *memStream) resize(c int) {
	nb := make([]Message, c)
	for i := 0; i < st.n; i++ {
		nb[i] = *st.at(i)
	}
	st.buf, st.head = nb, 0
}

// push appends m, dropping the oldest message beyond limit. The buffer
// grows geometrically up to limit, so a quiet stream stays small.
func (st *memStream) push(m Message, limit int) {
	st.fit(limit)
	if st.n == limit {
		st.popFront()
	}
	if st.n == len(st.buf) {
		c := 2 * len(st.buf)
		if c < 8 {
			c = 8
		}
		if c > limit {
			c = limit
		}
		st.resize(c)
	}
	st.buf[(st.head+st.n)%len(st.buf)] = m
	st.n++
}

// janitor runs sweep every second until stop is closed, then closes done:
// the memory and file brokers' background expiry and eviction.
func janitor(stop <-chan struct{}, done chan<- struct{}, sweep func()) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			sweep()
		}
	}
}

// idleAfter is how long an empty stream nobody watches is kept: ten times
// the history TTL, at least minIdle.
func idleAfter(ttl time.Duration) time.Duration {
	return max(10*ttl, minIdle)
}

// sweep is one janitor pass: it removes expired messages and sessions and
// evicts idle streams.
func (b *MemoryBroker) sweep() {
	b.sessions.sweep()
	limit, ttl := b.limits()
	idle := idleAfter(ttl)
	var list, evict []*memStream
	for i := range b.shards {
		sh := &b.shards[i]
		list = list[:0]
		sh.mu.RLock()
		for _, st := range sh.streams {
			list = append(list, st)
		}
		sh.mu.RUnlock()

		now := b.now()
		evict = evict[:0]
		for _, st := range list {
			st.mu.Lock()
			st.expire(now.UnixMilli(), ttl)
			st.fit(limit)
			if st.idle(now, idle) {
				evict = append(evict, st)
			}
			st.mu.Unlock()
		}
		if len(evict) == 0 {
			continue
		}
		// Evict under the shard lock, so that no lookup finds the stream
		// between the check and the removal, and re-check under the stream
		// lock: a publish or snapshot may have touched it meanwhile.
		sh.mu.Lock()
		for _, st := range evict {
			st.mu.Lock()
			if !st.dead && st.idle(now, idle) && !b.watched(st.name) && sh.streams[st.name] == st {
				st.dead = true
				delete(sh.streams, st.name)
			}
			st.mu.Unlock()
		}
		sh.mu.Unlock()
	}
}

func (st *memStream) idle(now time.Time, idle time.Duration) bool {
	return st.n == 0 && now.UnixNano()-st.touched >= int64(idle)
}

const epochAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newEpoch returns 8 characters from crypto/rand over [A-Za-z0-9], without
// modulo bias.
func newEpoch() string {
	var out [8]byte
	var buf [16]byte
	n := 0
	for n < len(out) {
		rand.Read(buf[:]) // never fails (crypto/rand, Go 1.24+)
		for _, c := range buf {
			// 248 = 4×62: rejecting higher bytes keeps the choice uniform.
			if c < 248 && n < len(out) {
				out[n] = epochAlphabet[c%62]
				n++
			}
		}
	}
	return string(out[:])
}
