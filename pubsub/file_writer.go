package pubsub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble"
)

type opKind uint8

const (
	opMsg  opKind = iota // store msg (offset 0: transient, deliver only)
	opMeta               // write the stream's metadata (new stream, new epoch)
	opTrim               // delete offsets [from, to), record expired
	opDrop               // delete the evicted stream and offsets [from, to)
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

// flush commits ops in one transaction and settles them. It returns the
// ops to try again (writes already acknowledged or in the background).
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
	err := b.commit(ops, res, final)
	limit, ttl := b.limits()
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
					// by the offset check; numbering restarts after top.
					rolledBack[op.st] = true
					op.st.mu.Lock()
					op.st.next = op.st.top
					op.st.mu.Unlock()
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
	b.stats.commits.Add(1)
	b.failing.Store(nil)
	for i, op := range ops {
		if op.kind != opMsg || op.done == nil {
			continue
		}
		if res[i] != nil {
			op.st.mu.Lock()
			if op.st.next >= op.msg.Offset {
				op.st.next = op.st.top
			}
			op.st.mu.Unlock()
			op.done <- b.unavailable(res[i])
			continue
		}
		op.st.mu.Lock()
		b.apply(op.st, op.msg, limit, ttl)
		op.st.mu.Unlock()
		op.done <- nil
	}
	return nil
}

// commit writes ops in one pebble batch, fsync'd. res[i] is set for a
// message refused by the offset check. On success the writer's view of
// each stream (wTop, wExpired) moves on.
func (b *FileBroker) commit(ops []fileOp, res []error, final bool) error {
	if err := b.ensureWritable(); err != nil {
		return err
	}
	if err := b.checkFreeSpace(); err != nil {
		return err
	}
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return pebble.ErrClosed
	}
	type streamState struct{ top, expired uint64 }
	touched := map[*fileStream]*streamState{}
	state := stateClean
	if !final && b.syncEvery.Load() > 0 {
		state = stateDirty
	}
	batch := b.db.NewBatch()
	defer batch.Close()
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
			return err
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return err
	}
	for st, s := range touched {
		st.wTop, st.wExpired = s.top, s.expired
	}
	b.dirtyDurable.Store(bytes.Equal(state, stateDirty))
	return nil
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
	var fs syscall.Statfs_t
	if err := syscall.Statfs(b.path, &fs); err != nil {
		return err
	}
	if free := fs.Bavail * uint64(fs.Bsize); free < reserve {
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
