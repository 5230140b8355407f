package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
)

// FileOptions configures a FileBroker.
type FileOptions struct {
	// Path of the store: a directory of pebble files, created on the first
	// write (0700, files 0600).
	Path string
	// HistoryLimit and HistoryTTL as for the memory broker.
	HistoryLimit int
	HistoryTTL   time.Duration
	// SyncInterval 0 (the default) acknowledges and delivers a publication
	// only once it is in an fsync'd commit. A positive interval acknowledges
	// and delivers at once and commits every interval: a crash of the
	// machine can lose that window, and the next start moves every stream to
	// a new epoch (the store is marked dirty while such writes are pending).
	SyncInterval time.Duration
	// LockTimeout bounds the wait for the store's lock (another process or
	// handler holding it). Default 1s.
	LockTimeout time.Duration
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time
}

// FileBroker is the persistent single-node broker: the memory broker's
// semantics (per-stream dense offsets, epochs, history limit and TTL, the
// same recovery decision) with every stream's epoch, top and retained
// history kept in a pebble store (a directory), so that a restart loses
// nothing.
//
// Writes go through one writer goroutine that writes whatever is queued in
// one batch (group commit: concurrent publishes share an fsync) and hands
// it to an applier goroutine, which waits for its fsync while the next
// batch is written, then answers the publishers in order. By
// default a publication is acknowledged, and delivered, only after its
// commit; so nothing a client has seen can be lost by a crash, and epochs
// survive restarts, crashes included.
//
// Opening reads the streams' metadata only; a stream's messages are read
// on its first use. Nothing is written before the first publish or
// snapshot, so a `caddy validate` never changes the store (nor creates it).
type FileBroker struct {
	path string
	now  func() time.Time
	historyLimits
	syncEvery atomic.Int64 // nanoseconds; 0: acknowledge after fsync

	deliver atomic.Pointer[func(Message)]
	closed  atomic.Bool
	// active: a publish, snapshot or session call happened, so the store
	// may be written.
	active atomic.Bool

	lockTimeout time.Duration
	// db is nil until the store exists, read-only until the first write.
	dbMu sync.RWMutex
	db   *pebble.DB
	dbRW bool
	// bumped counts the streams moved to a new epoch at open (dirty store).
	bumped int
	// failCommit, when set (tests), fails commits as an I/O error would.
	failCommit func() error
	// minFree overrides the free space a commit needs (tests).
	minFree uint64

	shards [memShards]fileShard
	nextID atomic.Uint64 // last stream id used

	watchSet
	sessions sessionTable

	// The write queue, drained by the writer goroutine.
	qmu     sync.Mutex
	queue   []fileOp
	qclosed bool
	wake    chan struct{}
	applyq  chan committed // written batches, to the applier

	// dirtyDurable: the store is marked dirty in a committed transaction,
	// so that publishes may be acknowledged before their commit.
	dirtyDurable atomic.Bool
	// failing holds the last commit error while writes with early
	// acknowledgement cannot be stored; new publishes are refused.
	failing atomic.Pointer[error]
	stats   fileStats

	lifeMu  sync.Mutex
	started bool
	stop    chan struct{}
	done    chan struct{}
	wdone   chan struct{}
}

// FileStats are the broker's counters.
type FileStats struct {
	Commits      uint64 // committed transactions
	CommitErrors uint64 // transactions that failed (I/O)
	Pending      int    // operations waiting in the write queue
}

type fileStats struct {
	commits, errors atomic.Uint64
}

type fileShard struct {
	mu      sync.RWMutex
	streams map[string]*fileStream
}

// fileStream is a memStream (the durable, servable state) plus what the
// file needs. memStream.top is the highest offset that may be served;
// next is the highest offset given out, ahead of top while its commit is
// pending (default durability only).
type fileStream struct {
	memStream
	id     uint64
	next   uint64
	loaded bool   // retained messages read from the store
	diskLo uint64 // lowest offset that may still be on disk

	// Owned by the writer goroutine.
	wTop     uint64
	wExpired uint64
}

var _ Broker = (*FileBroker)(nil)
var _ StreamWatcher = (*FileBroker)(nil)
var _ SessionBroker = (*FileBroker)(nil)

// NewFileBroker opens the store at o.Path if it exists: it takes the
// store's lock (waiting up to LockTimeout), checks it and reads every
// stream's metadata. It writes nothing.
func NewFileBroker(o FileOptions) (*FileBroker, error) {
	if o.Path == "" {
		return nil, errors.New("pubsub: file broker needs a path")
	}
	b := &FileBroker{
		path: o.Path, now: o.Now, lockTimeout: o.LockTimeout,
		wake: make(chan struct{}, 1),
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.lockTimeout <= 0 {
		b.lockTimeout = time.Second
	}
	for i := range b.shards {
		b.shards[i].streams = make(map[string]*fileStream)
	}
	b.SetLimits(o.HistoryLimit, o.HistoryTTL)
	b.SetSyncInterval(o.SyncInterval)
	b.initSessions()
	if err := b.openExisting(); err != nil {
		return nil, err
	}
	return b, nil
}

// Path is the store's directory (absolute).
func (b *FileBroker) Path() string { return b.path }

// EpochsReplaced is how many streams the open moved to a new epoch because
// the store was not closed cleanly after early acknowledgements.
func (b *FileBroker) EpochsReplaced() int { return b.bumped }

// SetSyncInterval changes the durability mode live (see FileOptions).
func (b *FileBroker) SetSyncInterval(d time.Duration) {
	if d < 0 {
		d = 0
	}
	b.syncEvery.Store(int64(d))
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Activate says that the store may be written from now on, before any
// publish or snapshot: background writes (the new epochs of a dirty start,
// trims of unread streams) wait for it, so that a broker that is opened
// and closed unused (caddy validate) never changes the store.
func (b *FileBroker) Activate() {
	b.active.Store(true)
	b.kick()
}

// Stats returns the broker's counters.
func (b *FileBroker) Stats() FileStats {
	b.qmu.Lock()
	n := len(b.queue)
	b.qmu.Unlock()
	return FileStats{Commits: b.stats.commits.Load(), CommitErrors: b.stats.errors.Load(), Pending: n}
}

// Start implements Broker: deliver receives every message; the janitor and
// the writer start. Calling Start again only replaces deliver.
func (b *FileBroker) Start(deliver func(Message)) error {
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
		b.wdone = make(chan struct{})
		b.applyq = make(chan committed, 8)
		go janitor(b.stop, b.done, b.sweep)
		go b.writer(b.wdone)
	}
	return nil
}

// Close implements Broker: pending writes are committed (if the store was
// used), the store is marked clean and closed. It is idempotent.
func (b *FileBroker) Close() error {
	b.lifeMu.Lock()
	if b.closed.Swap(true) {
		b.lifeMu.Unlock()
		return nil
	}
	started := b.started
	b.lifeMu.Unlock()
	if started {
		close(b.stop)
		<-b.done
		b.qmu.Lock()
		b.qclosed = true
		b.qmu.Unlock()
		b.kick()
		<-b.wdone
	}
	defer unregisterPath(b.path)
	b.dbMu.Lock()
	defer b.dbMu.Unlock()
	if db := b.db; db != nil {
		b.db = nil
		return db.Close()
	}
	return nil
}

func (b *FileBroker) shard(stream string) *fileShard {
	return &b.shards[strHash(stream)%memShards]
}

// lockStream returns the live stream, locked and loaded, creating it with
// a new epoch if needed (and create is set: only a publish creates), and
// reports whether this call created it. Without create, a stream that does
// not exist is nil.
func (b *FileBroker) lockStream(name string, create bool) (*fileStream, bool, error) {
	for {
		sh := b.shard(name)
		sh.mu.RLock()
		st := sh.streams[name]
		sh.mu.RUnlock()
		created := false
		if st == nil && !create {
			return nil, false, nil
		}
		if st == nil {
			sh.mu.Lock()
			if st = sh.streams[name]; st == nil {
				st = &fileStream{memStream: memStream{name: name, epoch: newEpoch(), touched: b.now().UnixNano()},
					id: b.nextID.Add(1), loaded: true, diskLo: 1}
				sh.streams[name] = st
				created = true
			}
			sh.mu.Unlock()
		}
		st.mu.Lock()
		if st.dead {
			st.mu.Unlock()
			continue
		}
		if created {
			// The epoch is stable from now on: record it (no one waits).
			b.enqueue(fileOp{kind: opMeta, st: st})
		}
		if err := b.load(st); err != nil {
			st.mu.Unlock()
			return nil, false, err
		}
		return st, created, nil
	}
}

// Publish implements Broker. By default it returns once the message is
// committed and delivered; with a sync interval (and the store marked
// dirty), once it is queued and delivered.
func (b *FileBroker) Publish(ctx context.Context, p Publication) (Message, error) {
	if err := usable(ctx, &b.closed, p.Stream); err != nil {
		return Message{}, err
	}
	if errp := b.failing.Load(); errp != nil {
		return Message{}, b.unavailable(*errp)
	}
	b.active.Store(true)
	limit, ttl := b.limits()
	st, _, err := b.lockStream(p.Stream, true)
	if err != nil {
		return Message{}, err
	}
	now := b.now()
	st.touched = now.UnixNano()
	m := Message{Publication: p, Epoch: st.epoch, Time: now.UnixMilli()}
	if p.Transient {
		// Neither stored nor numbered, but behind any pending message of
		// the stream, so that delivery keeps publication order.
		if st.next == st.top {
			b.deliverMsg(m)
			st.mu.Unlock()
			return m, nil
		}
	} else {
		m.Offset = st.next + 1
	}
	early := st.next == st.top && b.syncEvery.Load() > 0 && b.dirtyDurable.Load()
	if early {
		if !p.Transient {
			if !b.enqueue(fileOp{kind: opMsg, st: st, msg: m}) {
				st.mu.Unlock()
				return Message{}, ErrClosed
			}
			st.next++
		}
		b.apply(st, m, limit, ttl)
		st.mu.Unlock()
		return m, nil
	}
	done := make(chan error, 1)
	if !b.enqueue(fileOp{kind: opMsg, st: st, msg: m, done: done}) {
		st.mu.Unlock()
		return Message{}, ErrClosed
	}
	if !p.Transient {
		st.next++
	}
	st.mu.Unlock()
	b.kick()
	if err := <-done; err != nil {
		return Message{}, err
	}
	return m, nil
}

// apply makes m servable and delivers it. st.mu is held.
func (b *FileBroker) apply(st *fileStream, m Message, limit int, ttl time.Duration) {
	if m.Offset != 0 {
		st.expire(m.Time, ttl)
		st.top = m.Offset
		st.push(m, limit)
		b.trimDisk(st)
	}
	b.deliverMsg(m)
}

func (b *FileBroker) deliverMsg(m Message) {
	if d := b.deliver.Load(); d != nil {
		(*d)(m)
	}
}

// trimDisk queues the removal of the messages that left the retained
// window from the store. st.mu is held.
func (b *FileBroker) trimDisk(st *fileStream) {
	low := st.top - uint64(st.n) + 1
	if low > st.diskLo {
		b.enqueue(fileOp{kind: opTrim, st: st, from: st.diskLo, to: low, expired: st.expired})
		st.diskLo = low
	}
}

// Snapshot implements Broker with the memory broker's recovery decision,
// over the committed state of the stream.
func (b *FileBroker) Snapshot(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error) {
	if err := usable(ctx, &b.closed, stream); err != nil {
		return Snapshot{}, err
	}
	b.active.Store(true)
	limit, ttl := b.limits()
	// Reading creates nothing (as in the memory broker): a name a client
	// chooses costs nothing, on disk or in memory, once it leaves.
	st, _, err := b.lockStream(stream, false)
	if err != nil {
		return Snapshot{}, err
	}
	if st == nil {
		return absentSnapshot(req), nil
	}
	defer st.mu.Unlock()
	if st.top == 0 {
		// Created by a publish whose commit is still in flight (or failed):
		// no message has an epoch yet, as with no stream at all. In the
		// memory broker creation and the first message are one step.
		return absentSnapshot(req), nil
	}
	now := b.now()
	st.touched = now.UnixNano()
	st.expire(now.UnixMilli(), ttl)
	st.fit(limit)
	b.trimDisk(st)
	return st.snapshot(req, false), nil
}

// unavailable wraps a store error as ErrUnavailable, naming the store.
func (b *FileBroker) unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: store %s: %v", ErrUnavailable, b.path, err)
}

// sweep is one janitor pass: expired sessions leave, and streams not read
// since the start are read when their oldest message on disk has expired,
// so that the TTL trims the store too.
func (b *FileBroker) sweep() {
	b.sessions.sweep()
	limit, ttl := b.limits()
	idle := idleAfter(ttl)
	var list, evict []*fileStream
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
			if !st.loaded && !b.oldestExpired(st, now.UnixMilli()-ttl.Milliseconds()) {
				st.mu.Unlock()
				continue
			}
			if err := b.load(st); err == nil {
				st.expire(now.UnixMilli(), ttl)
				st.fit(limit)
				b.trimDisk(st)
				if st.idle(now, idle) && st.next == st.top {
					evict = append(evict, st)
				}
			}
			st.mu.Unlock()
		}
		if len(evict) == 0 {
			continue
		}
		sh.mu.Lock()
		for _, st := range evict {
			st.mu.Lock()
			if !st.dead && st.idle(now, idle) && st.next == st.top && !b.watched(st.name) && sh.streams[st.name] == st {
				st.dead = true
				delete(sh.streams, st.name)
				b.enqueue(fileOp{kind: opDrop, st: st, from: st.diskLo, to: st.top + 1})
			}
			st.mu.Unlock()
		}
		sh.mu.Unlock()
	}
}
