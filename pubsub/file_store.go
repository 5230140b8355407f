package pubsub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// The store's layout (pebble keys):
//
//	"x" "format" -> "1"; "x" "state" -> "clean" | "dirty"; "x" "seq" -> last stream id
//	"s" name -> id(8) top(8) expired(8) epoch
//	"m" id(8) offset(8) -> time(8) uvarint len + broadcast type,
//	                      uvarint len + exclude socket, data
//	"c" sid -> expiry(8, Unix ms) state        (session cache, sessions_file.go)
//
// Integers are big-endian, so a stream's messages are contiguous and in
// offset order. A stream's epoch and top are written in the same batch as
// its messages.
var (
	keyFormat     = []byte("xformat")
	keyState      = []byte("xstate")
	keySeq        = []byte("xseq")
	formatVersion = []byte("1")
	stateClean    = []byte("clean")
	stateDirty    = []byte("dirty")
)

func streamKey(name string) []byte { return append([]byte{'s'}, name...) }

func msgKey(id, offset uint64) []byte {
	k := make([]byte, 17)
	k[0] = 'm'
	binary.BigEndian.PutUint64(k[1:], id)
	binary.BigEndian.PutUint64(k[9:], offset)
	return k
}

// openPaths are the stores open in this process: pebble's lock would
// refuse a second handle too, but only after its timeout and with a less
// precise message.
var (
	openPathsMu sync.Mutex
	openPaths   = map[string]bool{}
)

func registerPath(p string) error {
	openPathsMu.Lock()
	defer openPathsMu.Unlock()
	if openPaths[p] {
		return fmt.Errorf("store %s is already open in this process (two handlers or prefixes on one file?)", p)
	}
	openPaths[p] = true
	return nil
}

func unregisterPath(p string) {
	openPathsMu.Lock()
	delete(openPaths, p)
	openPathsMu.Unlock()
}

// openExisting opens the store if it exists, checks it and reads the
// streams' metadata; otherwise it only checks that the store could be
// created. It writes nothing.
func (b *FileBroker) openExisting() error {
	abs, err := filepath.Abs(b.path)
	if err != nil {
		return fmt.Errorf("store path %q: %w", b.path, err)
	}
	b.path = abs
	if err := registerPath(abs); err != nil {
		return err
	}
	if err := b.openFile(); err != nil {
		unregisterPath(abs)
		return err
	}
	return nil
}

func (b *FileBroker) openFile() error {
	fi, err := os.Stat(b.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkCreatable(filepath.Dir(b.path))
	case err != nil:
		return fmt.Errorf("store %s: %w", b.path, err)
	case !fi.IsDir():
		return fmt.Errorf("store %s is not a directory", b.path)
	}
	if entries, err := os.ReadDir(b.path); err != nil {
		return fmt.Errorf("store %s: %w", b.path, err)
	} else if len(entries) == 0 {
		return nil // created on the first write
	}
	db, err := b.pebbleOpen(true)
	if err != nil {
		return err
	}
	if err := b.readStreams(db); err != nil {
		db.Close()
		return err
	}
	if err := b.readSessions(db); err != nil {
		db.Close()
		return err
	}
	b.db = db
	return nil
}

// checkCreatable reports whether dir exists as a directory or could be
// created: its nearest existing ancestor must be a directory.
func checkCreatable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("store directory %s: %s is not a directory", dir, d)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store directory %s: %w", dir, err)
		}
		if filepath.Dir(d) == d {
			return fmt.Errorf("store directory %s: no existing parent", dir)
		}
	}
}

// pebbleOpen opens the store, read-only (nothing is written: caddy
// validate, and the time before the first write) or for writing, waiting
// at most lockTimeout for a lock held by another process.
func (b *FileBroker) pebbleOpen(readOnly bool) (*pebble.DB, error) {
	opts := &pebble.Options{FS: privateFS{vfs.Default}, Logger: quietLogger{}, ReadOnly: readOnly, ErrorIfNotExists: readOnly, MemTableSize: memTableSize}
	deadline := time.Now().Add(b.lockTimeout)
	for {
		db, err := pebble.Open(b.path, opts)
		switch {
		case err == nil:
			return db, nil
		case isLockError(err):
			if time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return nil, fmt.Errorf("store %s is locked by another process (another Caddy using the same broker file?): gave up after %v", b.path, b.lockTimeout)
		case errors.Is(err, pebble.ErrCorruption):
			return nil, fmt.Errorf("store %s is corrupted (%v); restore it from a backup or move it away to start empty", b.path, err)
		case errors.Is(err, pebble.ErrDBDoesNotExist):
			return nil, fmt.Errorf("store %s is not a broker store (no pebble database in it): %v", b.path, err)
		default:
			return nil, fmt.Errorf("store %s: %w", b.path, err)
		}
	}
}

func isLockError(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || strings.Contains(err.Error(), "lock held")
}

// readStreams loads every stream's metadata. A store marked dirty (acks
// before fsync, then no clean stop) may have lost the tail of any stream:
// every stream moves to a new epoch, written with the first commit.
func (b *FileBroker) readStreams(db *pebble.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store %s is corrupted (%v); restore it from a backup or move it away to start empty", b.path, r)
		}
	}()
	get := func(k []byte) ([]byte, error) {
		v, c, err := db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return bytes.Clone(v), nil
	}
	format, err := get(keyFormat)
	if err != nil {
		return b.corrupted(err)
	}
	if format == nil {
		return nil // never written to
	}
	if !bytes.Equal(format, formatVersion) {
		return fmt.Errorf("store %s has format %q, this version reads %q", b.path, format, formatVersion)
	}
	state, err := get(keyState)
	if err != nil {
		return b.corrupted(err)
	}
	dirty := bytes.Equal(state, stateDirty)
	if seq, err := get(keySeq); err != nil {
		return b.corrupted(err)
	} else if len(seq) == 8 {
		b.nextID.Store(binary.BigEndian.Uint64(seq))
	}
	now := b.now().UnixNano()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte("s"), UpperBound: []byte("t")})
	if err != nil {
		return b.corrupted(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		name := string(it.Key()[1:])
		id, top, expired, epoch, ok := decodeStreamMeta(it.Value())
		if !ok {
			return fmt.Errorf("store %s is corrupted: bad metadata for stream %q", b.path, name)
		}
		if dirty {
			epoch = newEpoch()
		}
		st := &fileStream{
			memStream: memStream{name: name, epoch: epoch, top: top, expired: expired, touched: now},
			id:        id, next: top, wTop: top, wExpired: expired,
		}
		if id > b.nextID.Load() {
			b.nextID.Store(id)
		}
		b.shard(name).streams[name] = st
		if dirty {
			b.queue = append(b.queue, fileOp{kind: opMeta, st: st})
			b.bumped++
		}
	}
	if err := it.Error(); err != nil {
		return b.corrupted(err)
	}
	return nil
}

func (b *FileBroker) corrupted(err error) error {
	return fmt.Errorf("store %s cannot be read (%v); restore it from a backup or move it away to start empty", b.path, err)
}

// streamIter iterates over the messages of stream id on disk.
func (b *FileBroker) streamIter(db *pebble.DB, id uint64) (*pebble.Iterator, error) {
	return db.NewIter(&pebble.IterOptions{LowerBound: msgKey(id, 0), UpperBound: msgKey(id+1, 0)})
}

// load reads the retained messages of a stream known from the store.
// st.mu is held.
func (b *FileBroker) load(st *fileStream) error {
	if st.loaded {
		return nil
	}
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return b.unavailable(pebble.ErrClosed)
	}
	limit, _ := b.limits()
	lo := st.top + 1
	err := func() error {
		it, err := b.streamIter(b.db, st.id)
		if err != nil {
			return err
		}
		defer it.Close()
		first := true
		for ok := it.First(); ok; ok = it.Next() {
			m, ok := decodeMessage(it.Key(), it.Value())
			if !ok {
				return fmt.Errorf("corrupted message %x of stream %q", it.Key(), st.name)
			}
			if m.Offset > st.top {
				break // not committed as served (cannot happen with this writer)
			}
			if first {
				lo, first = m.Offset, false
			}
			m.Stream, m.Epoch = st.name, st.epoch
			st.push(m, limit)
		}
		return it.Error()
	}()
	if err != nil {
		st.buf, st.head, st.n = nil, 0, 0
		return b.unavailable(err)
	}
	st.diskLo = lo
	st.loaded = true
	return nil
}

// oldestExpired reports whether the first message of an unread stream on
// disk is at or before cutoffMs.
func (b *FileBroker) oldestExpired(st *fileStream, cutoffMs int64) bool {
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return false
	}
	it, err := b.streamIter(b.db, st.id)
	if err != nil {
		return false
	}
	defer it.Close()
	return it.First() && len(it.Value()) >= 8 && int64(binary.BigEndian.Uint64(it.Value())) <= cutoffMs
}

func encodeStreamMeta(id, top, expired uint64, epoch string) []byte {
	v := make([]byte, 24, 24+len(epoch))
	binary.BigEndian.PutUint64(v, id)
	binary.BigEndian.PutUint64(v[8:], top)
	binary.BigEndian.PutUint64(v[16:], expired)
	return append(v, epoch...)
}

func decodeStreamMeta(v []byte) (id, top, expired uint64, epoch string, ok bool) {
	if len(v) < 25 {
		return 0, 0, 0, "", false
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), binary.BigEndian.Uint64(v[16:]), string(v[24:]), true
}

func encodeMessage(m *Message) []byte {
	v := make([]byte, 8, 8+2*binary.MaxVarintLen64+len(m.BroadcastType)+len(m.ExcludeSocket)+len(m.Data))
	binary.BigEndian.PutUint64(v, uint64(m.Time))
	v = binary.AppendUvarint(v, uint64(len(m.BroadcastType)))
	v = append(v, m.BroadcastType...)
	v = binary.AppendUvarint(v, uint64(len(m.ExcludeSocket)))
	v = append(v, m.ExcludeSocket...)
	return append(v, m.Data...)
}

func decodeMessage(k, v []byte) (Message, bool) {
	var m Message
	if len(k) != 17 || len(v) < 8 {
		return m, false
	}
	m.Offset = binary.BigEndian.Uint64(k[9:])
	m.Time = int64(binary.BigEndian.Uint64(v))
	rest := v[8:]
	field := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	var ok1, ok2 bool
	m.BroadcastType, ok1 = field()
	m.ExcludeSocket, ok2 = field()
	m.Data = string(rest)
	return m, ok1 && ok2
}

// privateFS creates the store's files 0600 and directories 0700: they hold
// every retained broadcast.
type privateFS struct{ vfs.FS }

func (f privateFS) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err == nil {
		err = os.Chmod(name, 0o600)
	}
	return file, err
}

func (f privateFS) Lock(name string) (io.Closer, error) {
	l, err := f.FS.Lock(name)
	if fi, serr := os.Stat(name); err == nil && serr == nil && fi.Mode().Perm() != 0o600 {
		os.Chmod(name, 0o600)
	}
	return l, err
}

func (f privateFS) MkdirAll(dir string, _ os.FileMode) error { return f.FS.MkdirAll(dir, 0o700) }

// quietLogger drops pebble's informational lines (WAL and compaction
// chatter); a fatal error still stops the process, as pebble requires.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// memTableSize is pebble's write buffer: every memtable rotation starts a
// flush that competes with the WAL's fsyncs, and a larger one is replayed
// at start after a crash.
var memTableSize uint64 = 32 << 20
