package pubsub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
)

func newFileTestBroker(t testing.TB, path string, o FileOptions) *FileBroker {
	t.Helper()
	o.Path = path
	b, err := NewFileBroker(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Start(nil); err != nil {
		t.Fatal(err)
	}
	return b
}

// reopening is a Broker whose FileBroker can be closed and opened again on
// the same store, as a process restart would.
type reopening struct {
	*FileBroker
	t    testing.TB
	opts FileOptions
}

func newReopening(t testing.TB, o FileOptions) *reopening {
	if o.Path == "" {
		o.Path = filepath.Join(t.TempDir(), "store")
	}
	r := &reopening{t: t, opts: o}
	r.FileBroker = newFileTestBroker(t, o.Path, o)
	return r
}

func (r *reopening) reopen() {
	r.t.Helper()
	if err := r.FileBroker.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.FileBroker = newFileTestBroker(r.t, r.opts.Path, r.opts)
}

// TestFileRecoveryDecision runs the recovery table (shared with the memory
// and Redis brokers, recovery_test.go) against the file broker, once
// without and once with a restart between the publishes and the reads.
func TestFileRecoveryDecision(t *testing.T) {
	for _, restart := range []bool{false, true} {
		for _, tc := range recoveryCases() {
			t.Run(fmt.Sprintf("restart=%v/%s", restart, tc.name), func(t *testing.T) {
				clk := newFakeClock()
				r := newReopening(t, FileOptions{HistoryLimit: tc.limit, HistoryTTL: tc.ttl, Now: clk.Now})
				if restart {
					setup := tc.setup
					tc.setup = func(t *testing.T, _ Broker, clk *fakeClock) {
						setup(t, r, clk)
						r.reopen()
					}
				}
				checkRecoveryCase(t, tc, brokerOf{r}, clk, false)
			})
		}
	}
}

// brokerOf calls the reopening broker's current FileBroker.
type brokerOf struct{ r *reopening }

func (b brokerOf) Start(d func(Message)) error { return b.r.FileBroker.Start(d) }
func (b brokerOf) Publish(ctx context.Context, p Publication) (Message, error) {
	return b.r.FileBroker.Publish(ctx, p)
}
func (b brokerOf) Snapshot(ctx context.Context, s string, req HistoryRequest) (Snapshot, error) {
	return b.r.FileBroker.Snapshot(ctx, s, req)
}
func (b brokerOf) Close() error { return b.r.FileBroker.Close() }

func TestFileUnknownStreamCreatesNothing(t *testing.T) {
	r := newReopening(t, FileOptions{})
	for i := 0; i < 100; i++ {
		snapshot(t, r, fmt.Sprint("chosen-", i), HistoryRequest{Since: 1})
	}
	m1 := checkUnknownStreamCreatesNothing(t, r)
	r.reopen()
	// Only the stream that was published to survives the restart, with its
	// epoch; the names that were only read left nothing in the store.
	s := snapshot(t, r, "fresh", HistoryRequest{From: &Position{}})
	if s.Status != Recovered || s.Top.Epoch != m1.Epoch || !slices.Equal(offsets(s.Messages), []uint64{1}) {
		t.Fatalf("after a restart: %+v", s)
	}
	if s := snapshot(t, r, "chosen-7", HistoryRequest{}); s.Top.Epoch != "" {
		t.Fatalf("a name only read before the restart has epoch %q", s.Top.Epoch)
	}
}

func TestFileSetLimits(t *testing.T) {
	clk := newFakeClock()
	r := newReopening(t, FileOptions{HistoryLimit: 100, HistoryTTL: time.Hour, Now: clk.Now})
	testSetLimits(t, r.FileBroker, clk)
}

func TestFileOffsetsAndTransient(t *testing.T) {
	for _, interval := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprint("sync_interval=", interval), func(t *testing.T) {
			r := newReopening(t, FileOptions{SyncInterval: interval})
			var mu sync.Mutex
			var delivered []Message
			r.Start(func(m Message) {
				mu.Lock()
				delivered = append(delivered, m)
				mu.Unlock()
			})
			ctx := context.Background()
			m1, _ := r.Publish(ctx, Publication{Stream: "s", Data: "1", BroadcastType: "bt", ExcludeSocket: "sid"})
			tr, _ := r.Publish(ctx, Publication{Stream: "s", Data: "t", Transient: true})
			m2, _ := r.Publish(ctx, Publication{Stream: "s", Data: "2"})
			if m1.Offset != 1 || m2.Offset != 2 || tr.Offset != 0 || tr.Epoch != m1.Epoch {
				t.Fatalf("messages %+v %+v %+v", m1, tr, m2)
			}
			mu.Lock()
			if len(delivered) != 3 || delivered[1].Data != "t" || delivered[2].Offset != 2 {
				t.Fatalf("delivered %+v", delivered)
			}
			mu.Unlock()
			r.reopen()
			s := snapshot(t, r, "s", HistoryRequest{From: &Position{Epoch: m1.Epoch}})
			if s.Status != Recovered || len(s.Messages) != 2 {
				t.Fatalf("after restart: %+v", s)
			}
			got := s.Messages[0]
			if got.Data != "1" || got.BroadcastType != "bt" || got.ExcludeSocket != "sid" || got.Time != m1.Time || got.Epoch != m1.Epoch || got.Stream != "s" {
				t.Fatalf("stored message %+v, published %+v", got, m1)
			}
			if m := publishN(t, r, "s", 1)[0]; m.Offset != 3 || m.Epoch != m1.Epoch {
				t.Fatalf("publish after restart: %+v", m)
			}
		})
	}
}

// TestFileRestartKeepsEverything: many streams, a restart, and every
// stream's epoch, top and history are the same.
func TestFileRestartKeepsEverything(t *testing.T) {
	r := newReopening(t, FileOptions{HistoryLimit: 20})
	type state struct {
		top  Position
		msgs []Message
	}
	read := func() map[string]state {
		out := map[string]state{}
		for i := 0; i < 50; i++ {
			name := fmt.Sprintf("s%d", i)
			s := snapshot(t, r, name, HistoryRequest{From: &Position{Epoch: snapshot(t, r, name, HistoryRequest{}).Top.Epoch}})
			if s.Status != Recovered && s.Reason != "trimmed" {
				t.Fatalf("%s: %+v", name, s)
			}
			s = snapshot(t, r, name, HistoryRequest{Since: 1})
			out[name] = state{s.Top, s.Messages}
		}
		return out
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := r.Publish(context.Background(), Publication{Stream: fmt.Sprintf("s%d", (g*7+i)%50), Data: fmt.Sprint(g, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	before := read()
	r.reopen()
	after := read()
	for name, b := range before {
		a := after[name]
		if a.top != b.top || len(a.msgs) != len(b.msgs) || len(a.msgs) != int(min(20, b.top.Offset)) {
			t.Fatalf("%s: before %+v (%d messages), after %+v (%d)", name, b.top, len(b.msgs), a.top, len(a.msgs))
		}
		for i := range a.msgs {
			if a.msgs[i] != b.msgs[i] {
				t.Fatalf("%s: message %d %+v, was %+v", name, i, a.msgs[i], b.msgs[i])
			}
		}
	}
}

// TestFileDeliveryOrderUnderConcurrency: group commit keeps offset order
// per stream and loses nothing.
func TestFileDeliveryOrderUnderConcurrency(t *testing.T) {
	r := newReopening(t, FileOptions{HistoryLimit: 10})
	checkDeliveryOrderUnderConcurrency(t, r, 16, 200)
	if st := r.Stats(); st.Commits == 0 || st.Commits >= 3200 {
		t.Fatalf("%d commits for 3200 publishes: no group commit", st.Commits)
	}
}

// crash stops b as a killed process would: no final commit, no clean mark.
func crash(t testing.TB, b *FileBroker) {
	t.Helper()
	b.qmu.Lock()
	b.queue = nil
	b.qclosed = true
	b.qmu.Unlock()
	b.active.Store(false) // the writer's last flush writes nothing
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFileSyncIntervalCrashMovesEpochs: with early acknowledgements, a
// stop without the final commit may have lost a tail, so every stream gets
// a new epoch; a clean stop keeps them.
func TestFileSyncIntervalCrashMovesEpochs(t *testing.T) {
	r := newReopening(t, FileOptions{SyncInterval: time.Hour})
	first := publishN(t, r, "a", 1)[0] // waits: the store is not marked dirty yet
	if !r.dirtyDurable.Load() {
		t.Fatal("store not marked dirty after the first commit in sync_interval mode")
	}
	publishN(t, r, "a", 5)
	publishN(t, r, "b", 5)
	r.reopen() // clean
	s := snapshot(t, r, "a", HistoryRequest{From: &Position{Epoch: first.Epoch, Offset: 1}})
	if s.Status != Recovered || len(s.Messages) != 5 || r.EpochsReplaced() != 0 {
		t.Fatalf("after a clean stop: %+v, %d epochs replaced", s, r.EpochsReplaced())
	}
	publishN(t, r, "a", 3) // acknowledged before any fsync
	crash(t, r.FileBroker)
	r.FileBroker = newFileTestBroker(t, r.opts.Path, r.opts)
	if r.EpochsReplaced() != 2 {
		t.Fatalf("%d epochs replaced after a crash, want 2", r.EpochsReplaced())
	}
	s = snapshot(t, r, "a", HistoryRequest{From: &Position{Epoch: first.Epoch, Offset: 6}})
	if s.Status != NotRecovered || s.Reason != "epoch mismatch" {
		t.Fatalf("old position after a crash: %+v", s)
	}
	// The new epochs are written with the first commit: a second restart
	// (clean) keeps them.
	e := publishN(t, r, "a", 1)[0].Epoch
	r.reopen()
	if got := snapshot(t, r, "a", HistoryRequest{}).Top.Epoch; got != e {
		t.Fatalf("epoch %q after a clean restart, want %q", got, e)
	}
}

// TestFileDefaultDurabilityCrashKeepsEpochs: acknowledged means committed,
// so a crash keeps every epoch and message.
func TestFileDefaultDurabilityCrashKeepsEpochs(t *testing.T) {
	r := newReopening(t, FileOptions{})
	ms := publishN(t, r, "a", 7)
	crash(t, r.FileBroker)
	r.FileBroker = newFileTestBroker(t, r.opts.Path, r.opts)
	s := snapshot(t, r, "a", HistoryRequest{From: &Position{Epoch: ms[0].Epoch, Offset: 2}})
	if s.Status != Recovered || !slices.Equal(offsets(s.Messages), seq(3, 7)) || r.EpochsReplaced() != 0 {
		t.Fatalf("after a crash: %+v", s)
	}
}

// TestFileWriteErrorAcknowledgesNothing: a failing commit answers
// ErrUnavailable, stores and delivers nothing, and leaves no hole once the
// store works again.
func TestFileWriteErrorAcknowledgesNothing(t *testing.T) {
	r := newReopening(t, FileOptions{})
	var delivered atomic.Int64
	r.Start(func(Message) { delivered.Add(1) })
	e := publishN(t, r, "s", 2)[0].Epoch
	var fail atomic.Bool
	r.failCommit = func() error {
		if fail.Load() {
			return errors.New("no space left on device")
		}
		return nil
	}
	fail.Store(true)
	_, err := r.Publish(context.Background(), Publication{Stream: "s", Data: "lost"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), r.Path()) {
		t.Fatalf("publish with a failing store: %v", err)
	}
	if delivered.Load() != 2 {
		t.Fatalf("%d delivered, want 2: the failed message was delivered", delivered.Load())
	}
	if s := snapshot(t, r, "s", HistoryRequest{}); s.Top.Offset != 2 {
		t.Fatalf("top %d after a failed publish", s.Top.Offset)
	}
	fail.Store(false)
	m := publishN(t, r, "s", 1)[0]
	if m.Offset != 3 {
		t.Fatalf("offset %d after the store came back, want 3", m.Offset)
	}
	r.reopen()
	s := snapshot(t, r, "s", HistoryRequest{From: &Position{Epoch: e}})
	if !slices.Equal(offsets(s.Messages), seq(1, 3)) || s.Messages[2].Data != "m0" {
		t.Fatalf("stored %+v", s.Messages)
	}
}

func TestFileWriteErrorWithSyncInterval(t *testing.T) {
	r := newReopening(t, FileOptions{SyncInterval: 10 * time.Millisecond})
	publishN(t, r, "s", 1)
	var fail atomic.Bool
	fail.Store(true)
	r.failCommit = func() error {
		if fail.Load() {
			return errors.New("input/output error")
		}
		return nil
	}
	publishN(t, r, "s", 1) // acknowledged early, its commit fails
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := r.Publish(context.Background(), Publication{Stream: "s", Data: "x"})
		if errors.Is(err, ErrUnavailable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("publishes still accepted while the store fails")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fail.Store(false)
	for r.failing.Load() != nil {
		time.Sleep(5 * time.Millisecond)
	}
	top := snapshot(t, r, "s", HistoryRequest{}).Top
	r.reopen()
	if got := snapshot(t, r, "s", HistoryRequest{}).Top; got != top {
		t.Fatalf("after the retry and a restart: top %+v, want %+v", got, top)
	}
}

// TestFileRetentionTrimsTheStore: the limit and the TTL remove messages
// from the store, not only from memory.
func TestFileRetentionTrimsTheStore(t *testing.T) {
	clk := newFakeClock()
	r := newReopening(t, FileOptions{HistoryLimit: 10, HistoryTTL: time.Minute, Now: clk.Now})
	for i := 0; i < 5; i++ {
		publishN(t, r, fmt.Sprint("s", i), 100)
	}
	r.reopen()
	if n := countMessages(t, r.FileBroker); n != 50 {
		t.Fatalf("%d messages stored with limit 10 on 5 streams, want 50", n)
	}
	clk.Add(2 * time.Minute)
	r.Activate()
	r.sweep() // reads the unread streams whose oldest message expired
	r.reopen()
	if n := countMessages(t, r.FileBroker); n != 0 {
		t.Fatalf("%d messages stored after the TTL", n)
	}
	s := snapshot(t, r, "s0", HistoryRequest{From: &Position{Epoch: snapshot(t, r, "s0", HistoryRequest{}).Top.Epoch, Offset: 95}})
	if s.Status != NotRecovered || s.Reason != "expired" || s.Top.Offset != 100 {
		t.Fatalf("after expiry and a restart: %+v", s)
	}
}

func countMessages(t testing.TB, b *FileBroker) int {
	t.Helper()
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: []byte("m"), UpperBound: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

func TestFileEvictedStreamLeavesTheStore(t *testing.T) {
	clk := newFakeClock()
	r := newReopening(t, FileOptions{HistoryTTL: time.Second, Now: clk.Now})
	old := publishN(t, r, "s", 2)[1]
	clk.Add(time.Hour)
	r.sweep() // expires
	r.sweep() // evicts
	r.reopen()
	if s := snapshot(t, r, "s", HistoryRequest{From: &Position{Epoch: old.Epoch, Offset: 2}}); s.Status != NotRecovered || s.Top.Epoch == old.Epoch {
		t.Fatalf("evicted stream after a restart: %+v", s)
	}
}

// TestFileOpenWritesNothing: opening, starting and closing an unused
// broker (caddy validate) neither creates the store nor changes it.
func TestFileOpenWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	b, err := NewFileBroker(FileOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(nil)
	b.Close()
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("validate created %s: %v", filepath.Dir(dir), err)
	}

	r := newReopening(t, FileOptions{Path: dir, SyncInterval: time.Hour})
	publishN(t, r, "s", 3)
	crash(t, r.FileBroker) // dirty: an open would bump every epoch
	before := dirState(t, dir)
	b, err = NewFileBroker(FileOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(nil)
	b.Close()
	if after := dirState(t, dir); !maps2Equal(before, after) {
		t.Fatalf("an unused open changed the store:\nbefore %v\nafter  %v", before, after)
	}
}

func dirState(t testing.TB, dir string) map[string]string {
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := e.Info()
		mtime := fi.ModTime().UnixNano()
		if e.Name() == "LOCK" {
			mtime = 0 // empty, opened (O_CREAT) to be locked
		}
		out[e.Name()] = fmt.Sprintf("%d/%x/%v", len(data), data, mtime)
	}
	return out
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "store")
	r := newReopening(t, FileOptions{Path: dir})
	publishN(t, r, "s", 1)
	for _, d := range []string{filepath.Dir(dir), dir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want 0700", d, fi.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode())
		}
	}
}

// TestFileLockedStore: a second broker on the same store is refused with
// an error naming it, within the lock timeout (never a hang).
func TestFileLockedStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	r := newReopening(t, FileOptions{Path: dir})
	publishN(t, r, "s", 1)
	_, err := NewFileBroker(FileOptions{Path: dir})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("second broker in the process: %v", err)
	}
	// Another process: its lock is held on the store's LOCK file.
	unregisterPath(dir)
	defer registerPath(dir)
	_, err = NewFileBroker(FileOptions{Path: dir, LockTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second broker on a locked store: %v", err)
	}
}

// TestFileCorruptedStore: a damaged store is a clear error at open.
func TestFileCorruptedStore(t *testing.T) {
	for _, damage := range []string{"garbage", "truncated manifest", "not a store"} {
		t.Run(damage, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			r := newReopening(t, FileOptions{Path: dir})
			publishN(t, r, "s", 3)
			r.Close()
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				p := filepath.Join(dir, e.Name())
				switch {
				case damage == "garbage" && strings.HasPrefix(e.Name(), "CURRENT"):
					os.WriteFile(p, []byte("\x00\xffnot a manifest name\n"), 0o600)
				case damage == "truncated manifest" && strings.HasPrefix(e.Name(), "MANIFEST"):
					os.Truncate(p, 10)
				case damage == "not a store":
					os.Remove(p)
				}
			}
			if damage == "not a store" {
				os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o600)
			}
			_, err := NewFileBroker(FileOptions{Path: dir})
			if err == nil || !strings.Contains(err.Error(), dir) {
				t.Fatalf("open of a damaged store: %v", err)
			}
			t.Log(err)
		})
	}
}

// TestFileRandomisedJoinLeave is the hub's randomised join/leave test on
// the file broker.
func TestFileRandomisedJoinLeave(t *testing.T) {
	r := newReopening(t, FileOptions{HistoryLimit: 4 * 600})
	randomisedJoinLeave(t, r.FileBroker, 600)
}

// TestFileDiskAlmostFull: when the filesystem has less free space than the
// store's reserve, publishes are refused (ErrUnavailable, the reason says
// so), nothing is stored, and writes resume when space is back.
func TestFileDiskAlmostFull(t *testing.T) {
	r := newReopening(t, FileOptions{})
	e := publishN(t, r, "s", 1)[0].Epoch
	r.minFree = 1 << 62 // more than any disk has
	_, err := r.Publish(context.Background(), Publication{Stream: "s", Data: "refused"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "disk almost full") {
		t.Fatalf("publish on a full disk: %v", err)
	}
	r.minFree = 0
	publishN(t, r, "s", 1)
	r.reopen()
	s := snapshot(t, r, "s", HistoryRequest{From: &Position{Epoch: e}})
	if !slices.Equal(offsets(s.Messages), seq(1, 2)) || s.Messages[1].Data != "m0" {
		t.Fatalf("stored %+v", s.Messages)
	}
}
