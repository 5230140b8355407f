package pubsub

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sessionTable is the session cache of the one-node brokers (memory,
// file): entries in memory, expired by the broker's clock and removed by
// its janitor's sweep. The file broker also records every change in its
// store through persist.
type sessionTable struct {
	now    func() time.Time
	closed *atomic.Bool
	// onUse, when set, runs before each Put, Touch and Take (the file
	// broker: the store may be written from then on).
	onUse func()
	// persist, when set, records a change: e is the new entry, nil for a
	// removal. It runs under the entry's shard lock, so changes reach it in
	// the order the table makes them; an error leaves the table unchanged.
	persist func(sid string, e *sessionEntry) error

	shards [sessionShards]sessionShard
}

const sessionShards = 16

type sessionShard struct {
	mu sync.Mutex
	m  map[string]*sessionEntry
}

// sessionEntry is immutable once in the table: Touch replaces it.
type sessionEntry struct {
	state   []byte
	expires int64 // Unix milliseconds; the entry is gone from then on
}

var _ SessionCache = (*sessionTable)(nil)

func (t *sessionTable) init(now func() time.Time, closed *atomic.Bool) {
	t.now, t.closed = now, closed
	for i := range t.shards {
		t.shards[i].m = make(map[string]*sessionEntry)
	}
}

func (t *sessionTable) shard(sid string) *sessionShard {
	return &t.shards[strHash(sid)%sessionShards]
}

func (t *sessionTable) nowMs() int64 { return t.now().UnixMilli() }

// usable is the check before each operation.
func (t *sessionTable) usable(ctx context.Context) error {
	if t.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.onUse != nil {
		t.onUse()
	}
	return nil
}

// set stores e under sid. sh.mu is held.
func (t *sessionTable) set(sh *sessionShard, sid string, e *sessionEntry) error {
	if t.persist != nil {
		if err := t.persist(sid, e); err != nil {
			return err
		}
	}
	sh.m[sid] = e
	return nil
}

// remove deletes the entry of sid. sh.mu is held.
func (t *sessionTable) remove(sh *sessionShard, sid string) error {
	if t.persist != nil {
		if err := t.persist(sid, nil); err != nil {
			return err
		}
	}
	delete(sh.m, sid)
	return nil
}

// Put implements SessionCache.
func (t *sessionTable) Put(ctx context.Context, sid string, state []byte, ttl time.Duration) error {
	if err := checkSessionPut(sid, state, ttl); err != nil {
		return err
	}
	if err := t.usable(ctx); err != nil {
		return err
	}
	e := &sessionEntry{state: bytes.Clone(state), expires: t.nowMs() + ttlMillis(ttl)}
	sh := t.shard(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return t.set(sh, sid, e)
}

// withEntry runs fn with the entry of sid (nil when there is none) under
// its shard's lock. For a sid that cannot name an entry, fn is not run.
func (t *sessionTable) withEntry(ctx context.Context, sid string, fn func(sh *sessionShard, e *sessionEntry, nowMs int64) error) error {
	if err := t.usable(ctx); err != nil {
		return err
	}
	if !validSID(sid) {
		return nil
	}
	now := t.nowMs()
	sh := t.shard(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return fn(sh, sh.m[sid], now)
}

// Touch implements SessionCache.
func (t *sessionTable) Touch(ctx context.Context, sid string, ttl time.Duration) (found bool, err error) {
	if err := checkSessionTTL(ttl); err != nil {
		return false, err
	}
	return t.renew(ctx, sid, nil, ttl)
}

// Refresh implements SessionCache.
func (t *sessionTable) Refresh(ctx context.Context, sid string, state []byte, ttl time.Duration) (found bool, err error) {
	if err := checkSessionPut(sid, state, ttl); err != nil {
		return false, err
	}
	return t.renew(ctx, sid, append([]byte{}, state...), ttl) // never nil: nil keeps the state
}

// renew gives a live entry a new expiry and, unless state is nil, new
// state; an expired one is removed, a missing one is not created.
func (t *sessionTable) renew(ctx context.Context, sid string, state []byte, ttl time.Duration) (found bool, err error) {
	err = t.withEntry(ctx, sid, func(sh *sessionShard, e *sessionEntry, now int64) error {
		switch {
		case e == nil:
			return nil
		case e.expires <= now:
			return t.remove(sh, sid)
		}
		found = true
		if state == nil {
			state = e.state
		}
		return t.set(sh, sid, &sessionEntry{state: state, expires: now + ttlMillis(ttl)})
	})
	return found && err == nil, err
}

// Take implements SessionCache.
func (t *sessionTable) Take(ctx context.Context, sid string) (state []byte, ok bool, err error) {
	err = t.withEntry(ctx, sid, func(sh *sessionShard, e *sessionEntry, now int64) error {
		if e == nil {
			return nil
		}
		if err := t.remove(sh, sid); err != nil {
			return err
		}
		// The entry left the table, so its state is the caller's now.
		state, ok = e.state, e.expires > now
		return nil
	})
	if err != nil || !ok {
		return nil, false, err
	}
	return state, true, nil
}

// sweep removes the expired entries: part of the janitor's pass.
func (t *sessionTable) sweep() {
	for i := range t.shards {
		sh := &t.shards[i]
		now := t.nowMs()
		sh.mu.Lock()
		for sid, e := range sh.m {
			if e.expires <= now && t.remove(sh, sid) != nil {
				break // the store is closing: the next start sweeps it
			}
		}
		sh.mu.Unlock()
	}
}
