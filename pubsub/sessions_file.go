package pubsub

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// The file broker's session cache is the memory broker's table, with
// every change also queued to the store's writer: entries survive a
// restart (their expiry is absolute, in the value), and the table, which
// the open fills from the store, answers every call without reading the
// disk. Take is atomic under the table's lock.
//
// Session writes do not wait for their commit: the writer commits them
// with the next batch (within a second, or the sync interval). So a crash
// of the machine can lose the last second of session changes: a session
// put just before is not restorable (the client authenticates as usual),
// and a session taken just before may be restorable once more. A clean
// Close commits everything.

// sessionPrefix starts the store keys of the session cache.
const sessionPrefix = 'c'

// Sessions implements SessionBroker.
func (b *FileBroker) Sessions() SessionCache { return &b.sessions }

func (b *FileBroker) initSessions() {
	b.sessions.init(b.now, &b.closed)
	// A client's session makes the store writable, as a publish does.
	b.sessions.onUse = func() { b.active.Store(true) }
	b.sessions.persist = func(sid string, e *sessionEntry) error {
		op := fileOp{kind: opSession, sid: sid}
		if e != nil {
			op.value = encodeSession(e)
		}
		if !b.enqueue(op) {
			return ErrClosed
		}
		return nil
	}
}

func sessionKey(sid string) []byte { return append([]byte{sessionPrefix}, sid...) }

func encodeSession(e *sessionEntry) []byte {
	v := make([]byte, 8, 8+len(e.state))
	binary.BigEndian.PutUint64(v, uint64(e.expires))
	return append(v, e.state...)
}

func decodeSession(v []byte) (*sessionEntry, bool) {
	if len(v) < 8 {
		return nil, false
	}
	return &sessionEntry{expires: int64(binary.BigEndian.Uint64(v)), state: append([]byte(nil), v[8:]...)}, true
}

// writeSession adds an opSession to a batch.
func writeSession(batch *pebble.Batch, sid string, value []byte) {
	if value == nil {
		batch.Delete(sessionKey(sid), nil)
	} else {
		batch.Set(sessionKey(sid), value, nil)
	}
}

// readSessions fills the table from the store at open. Expired entries
// are read too: the first sweep removes them, from the store as well.
func (b *FileBroker) readSessions(db *pebble.DB) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{sessionPrefix}, UpperBound: []byte{sessionPrefix + 1}})
	if err != nil {
		return b.corrupted(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		sid := string(it.Key()[1:])
		e, ok := decodeSession(it.Value())
		if !ok {
			return fmt.Errorf("store %s is corrupted: bad session entry %q", b.path, sid)
		}
		b.sessions.shard(sid).m[sid] = e
	}
	if err := it.Error(); err != nil {
		return b.corrupted(err)
	}
	return nil
}
