package pubsub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cockroachdb/pebble"
)

type opKind uint8

const (
	opMsg     opKind = iota // store msg (offset 0: transient, deliver only)
	opMeta                  // write the stream's metadata (new stream, new epoch)
	opTrim                  // delete offsets [from, to), record expired
	opDrop                  // delete the evicted stream and offsets [from, to)
	opSession               // store the session entry value under sid (nil value: delete)
)

// fileOp is one queued write. done is set when a publisher waits for the
// commit (default durability); the writer then applies and delivers msg.
type fileOp struct {
	kind     opKind
	st       *fileStream
	msg      Message
	from, to uint64
	expired  uint64
	done     chan error
	// sid and value: opSession.
	sid   string
	value []byte
}

// errEarlierFailed refuses a message whose predecessor in the stream could
// not be stored: storing it would leave a hole in the offsets.
var errEarlierFailed = errors.New("an earlier write to the stream failed")

// enqueue adds op to the write queue; false once the writer has stopped.
func (b *FileBroker) enqueue(op fileOp) bool {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	if b.qclosed {
		return false
	}
	b.queue = append(b.queue, op)
	return true
}

func (b *FileBroker) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// writer commits the queue: at once when a publisher waits (so
// publications that arrive during a commit share the next one), else every
// sync interval (or second, for background writes).
func (b *FileBroker) writer(done chan<- struct{}) {
	defer close(done)
	applied := make(chan struct{})
	go b.applier(applied)
	defer func() {
		close(b.applyq)
		<-applied
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var retry []fileOp
	for {
		wait := time.Duration(b.syncEvery.Load())
		if wait <= 0 {
			wait = time.Second
		}
		timer.Reset(wait)
		select {
		case <-b.wake:
		case <-timer.C:
		}
		b.qmu.Lock()
		ops := b.queue
		b.queue = nil
		final := b.qclosed
		b.qmu.Unlock()
		if len(retry) > 0 {
			ops = append(retry, ops...)
			retry = nil
		}
		retry = b.flush(ops, final)
		if final {
			return
		}
	}
}

// flush writes ops in one batch and hands it to the applier, which waits
// for its fsync while the next batch is written (pebble syncs them
// together). It returns the ops to try again (writes already acknowledged
// or in the background) when the batch could not be written.
func (b *FileBroker) flush(ops []fileOp, final bool) []fileOp {
	if !b.active.Load() {
		// Nothing is written before the store is used (caddy validate).
		if final {
			return nil
		}
		return ops
	}
	if len(ops) == 0 && !(final && b.hasDB()) {
		return nil
	}
	res := make([]error, len(ops))
	batch, dirty, err := b.commit(ops, res, final)
	if err != nil {
		b.stats.errors.Add(1)
		err = b.unavailable(err)
		var retry []fileOp
		rolledBack := map[*fileStream]bool{}
		for _, op := range ops {
			switch {
			case op.kind == opMsg && op.done != nil:
				if !rolledBack[op.st] {
					// Offsets given out after the failed one are refused
					// by the offset check; numbering restarts after the
					// last written offset.
					rolledBack[op.st] = true
					b.rollBack(op.st, 0)
				}
				op.done <- err
			default:
				retry = append(retry, op)
				if op.kind == opMsg {
					// Acknowledged already: refuse new publishes until
					// a commit succeeds.
					b.failing.Store(&err)
				}
			}
		}
		return retry
	}
	for i, op := range ops {
		if res[i] != nil && op.done != nil {
			b.rollBack(op.st, op.msg.Offset)
			op.done <- b.unavailable(res[i])
		}
	}
	b.applyq <- committed{batch: batch, ops: ops, res: res, dirty: dirty}
	return nil
}

// rollBack makes numbering of st restart after its last written offset,
// when offsets from `from` on (0: any) were given out but not written.
func (b *FileBroker) rollBack(st *fileStream, from uint64) {
	st.mu.Lock()
	if from == 0 || st.next >= from {
		st.next = max(st.top, st.wTop)
	}
	st.mu.Unlock()
}

// committed is a written batch on its way to the disk.
type committed struct {
	batch *pebble.Batch
	ops   []fileOp
	res   []error
	dirty bool
}

// applier waits for each batch's fsync, in order, then makes its messages
// servable, delivers them and answers their publishers.
func (b *FileBroker) applier(done chan<- struct{}) {
	defer close(done)
	for c := range b.applyq {
		err := c.batch.SyncWait()
		c.batch.Close()
		if err != nil {
			// Pebble stops the process on a failed log write; in case
			// it did not, acknowledge nothing of the batch.
			b.stats.errors.Add(1)
			err = b.unavailable(err)
			for i, op := range c.ops {
				if op.kind == opMsg && op.done != nil && c.res[i] == nil {
					op.done <- err
				}
			}
			continue
		}
		b.stats.commits.Add(1)
		b.failing.Store(nil)
		b.dirtyDurable.Store(c.dirty)
		limit, ttl := b.limits()
		for i, op := range c.ops {
			if op.kind != opMsg || op.done == nil || c.res[i] != nil {
				continue
			}
			op.st.mu.Lock()
			b.apply(op.st, op.msg, limit, ttl)
			op.st.mu.Unlock()
			op.done <- nil
		}
	}
}

// commit writes ops in one pebble batch, to be fsync'd (the caller waits
// with SyncWait). res[i] is set for a message refused by the offset check.
// On success the writer's view of each stream (wTop, wExpired) moves on.
func (b *FileBroker) commit(ops []fileOp, res []error, final bool) (_ *pebble.Batch, dirty bool, _ error) {
	if err := b.ensureWritable(); err != nil {
		return nil, false, err
	}
	if err := b.checkFreeSpace(); err != nil {
		return nil, false, err
	}
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return nil, false, pebble.ErrClosed
	}
	type streamState struct{ top, expired uint64 }
	touched := map[*fileStream]*streamState{}
	state := stateClean
	if !final && b.syncEvery.Load() > 0 {
		state = stateDirty
	}
	batch := b.db.NewBatch()
	batch.Set(keyFormat, formatVersion, nil)
	batch.Set(keyState, state, nil)
	view := func(st *fileStream) *streamState {
		s := touched[st]
		if s == nil {
			s = &streamState{top: st.wTop, expired: st.wExpired}
			touched[st] = s
		}
		return s
	}
	for i, op := range ops {
		switch op.kind {
		case opSession:
			writeSession(batch, op.sid, op.value)
		case opMeta:
			view(op.st)
		case opMsg:
			if op.msg.Offset == 0 {
				continue
			}
			s := view(op.st)
			if op.msg.Offset != s.top+1 {
				res[i] = errEarlierFailed
				continue
			}
			batch.Set(msgKey(op.st.id, op.msg.Offset), encodeMessage(&op.msg), nil)
			s.top = op.msg.Offset
		case opTrim, opDrop:
			if op.to > op.from {
				if op.to-op.from <= 8 {
					for o := op.from; o < op.to; o++ {
						batch.Delete(msgKey(op.st.id, o), nil)
					}
				} else {
					batch.DeleteRange(msgKey(op.st.id, op.from), msgKey(op.st.id, op.to), nil)
				}
			}
			if op.kind == opTrim {
				s := view(op.st)
				s.expired = max(s.expired, op.expired)
				continue
			}
			// A stream created again under this name is queued after
			// the drop, so its metadata is written after this delete.
			delete(touched, op.st)
			batch.Delete(streamKey(op.st.name), nil)
		}
	}
	for st, s := range touched {
		batch.Set(streamKey(st.name), encodeStreamMeta(st.id, s.top, s.expired, st.epoch), nil)
	}
	batch.Set(keySeq, binary.BigEndian.AppendUint64(nil, b.nextID.Load()), nil)
	if b.failCommit != nil {
		if err := b.failCommit(); err != nil {
			batch.Close()
			return nil, false, err
		}
	}
	if err := b.db.ApplyNoSyncWait(batch, pebble.Sync); err != nil {
		batch.Close()
		return nil, false, err
	}
	for st, s := range touched {
		st.wTop, st.wExpired = s.top, s.expired
	}
	return batch, bytes.Equal(state, stateDirty), nil
}

// minFree is the space a commit leaves free on the store's filesystem.
// Pebble stops the process when its log cannot be written (it cannot trust
// its state after a failed write), so the broker refuses writes (503)
// before the disk is full: the reserve covers the write buffer's flush and
// compactions.
const minFree = 4 * 32 << 20

// checkFreeSpace refuses a commit when the filesystem is almost full.
func (b *FileBroker) checkFreeSpace() error {
	reserve := uint64(minFree)
	if b.minFree != 0 {
		reserve = b.minFree
	}
	free, err := freeBytes(b.path)
	if err != nil {
		return err
	}
	if free < reserve {
		return fmt.Errorf("disk almost full: %d MiB free, the store keeps %d MiB free for its own work", free>>20, reserve>>20)
	}
	return nil
}

func (b *FileBroker) hasDB() bool {
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	return b.db != nil
}

// ensureWritable opens the store for writing on the first write: creating
// its directory (0700) if needed, or reopening the read-only handle of
// the start.
func (b *FileBroker) ensureWritable() error {
	b.dbMu.Lock()
	defer b.dbMu.Unlock()
	if b.dbRW {
		if b.db == nil {
			return pebble.ErrClosed
		}
		return nil
	}
	if b.db != nil {
		if err := b.db.Close(); err != nil {
			return err
		}
		b.db = nil
	}
	if err := os.MkdirAll(b.path, 0o700); err != nil {
		return fmt.Errorf("creating the store directory: %w", err)
	}
	db, err := b.pebbleOpen(false)
	if err != nil {
		return err
	}
	b.db, b.dbRW = db, true
	return nil
}
