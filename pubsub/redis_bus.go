package pubsub

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Cross-node delivery: every node tails every bus partition with XREAD
// BLOCK from a concrete cursor (never "$"), one goroutine and one dedicated
// connection per partition. Per-partition readers keep delivery in order per
// stream (a stream lives in one partition), run the hub's dispatch for
// different partitions in parallel, register one key per blocking call
// (Redis re-registers every key of a blocking XREAD on each wake-up) and
// work unchanged on Cluster, where keys of different tags cannot share a
// command.
//
// A reader resumes from its cursor after a connection error, so a blip loses
// nothing. When entries after the cursor were trimmed (the node fell more
// than BusMaxLen behind) or the bus went back (FLUSHALL, Redis restarted
// without persistence, clock step), the partition is resynchronised: in one
// MULTI it reads the bus end and the meta of every watched stream, moves the
// cursor to that end, and hands the hub the history between what it last
// delivered and the meta's top. A stream whose epoch changed gets the new
// epoch's retained history; the hub's live rule then resets its subscribers
// ("epoch changed", or "gap" if history no longer holds the start). Nothing
// is skipped silently. Transient messages in a trimmed range are lost: they
// are at-most-once by nature.

// redisPart is one bus partition.
type redisPart struct {
	idx    int
	tag    string // "<prefix>:{<idx>}"
	busKey string

	// cursor is the id of the last bus entry handled. It is written by
	// initCursors before curReady is set, then only by the partition's
	// reader.
	cursor string

	mu      sync.Mutex
	watched map[string]*watchState
}

// watchState is what a node knows about a watched stream.
type watchState struct {
	n int // Watch calls not yet matched by Unwatch

	// The last numbered message the bus (or a resync) handed to the hub.
	busSet   bool
	busEpoch string
	busLast  uint64

	// The top of the first snapshot taken while watched, used by a resync
	// when the bus has brought nothing yet.
	floorSet   bool
	floorEpoch string
	floor      uint64
}

// Watch implements StreamWatcher: a watched stream's meta (its epoch) is
// kept alive, and a resync catches it up.
func (b *RedisBroker) Watch(stream string) {
	p := b.part(stream)
	p.mu.Lock()
	ws := p.watched[stream]
	if ws == nil {
		ws = &watchState{}
		p.watched[stream] = ws
	}
	ws.n++
	p.mu.Unlock()
}

// Unwatch implements StreamWatcher.
func (b *RedisBroker) Unwatch(stream string) {
	p := b.part(stream)
	p.mu.Lock()
	if ws := p.watched[stream]; ws != nil {
		if ws.n--; ws.n <= 0 {
			delete(p.watched, stream)
		}
	}
	p.mu.Unlock()
}

// noteSnapshot records the first snapshot's top of a watched stream.
func (b *RedisBroker) noteSnapshot(p *redisPart, stream string, top Position) {
	p.mu.Lock()
	if ws := p.watched[stream]; ws != nil && !ws.busSet && !ws.floorSet {
		ws.floorSet, ws.floorEpoch, ws.floor = true, top.Epoch, top.Offset
	}
	p.mu.Unlock()
}

// initCursors takes every partition's cursor: the id of its last entry, or
// "0-0" for an empty bus. It runs once, before the first snapshot.
func (b *RedisBroker) initCursors(ctx context.Context) error {
	b.curMu.Lock()
	defer b.curMu.Unlock()
	if b.curReady.Load() {
		return nil
	}
	_, rd, err := b.clients()
	if err != nil {
		return err
	}
	cmds := make([]*redis.XMessageSliceCmd, len(b.parts))
	_, err = rd.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, p := range b.parts {
			cmds[i] = pipe.XRevRangeN(ctx, p.busKey, "+", "-", 1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, p := range b.parts {
		p.cursor = "0-0"
		if ms := cmds[i].Val(); len(ms) > 0 {
			p.cursor = ms[0].ID
		}
	}
	b.curReady.Store(true)
	return nil
}

// backoff is a capped exponential delay with jitter.
type backoff struct {
	min, max, cur time.Duration
}

func (bo *backoff) next() time.Duration {
	if bo.cur == 0 {
		bo.cur = bo.min
	} else {
		bo.cur = min(bo.cur*2, bo.max)
	}
	// ±25 % jitter so that the nodes do not reconnect in step.
	return bo.cur*3/4 + rand.N(bo.cur/2+1)
}

func (bo *backoff) reset() { bo.cur = 0 }

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// readBlock is the BLOCK argument of the bus XREAD; the call's deadline is
// BlockTimeout, so a stalled Redis fails the read within BlockTimeout.
func (b *RedisBroker) readBlock() time.Duration {
	return b.block - max(b.block/4, 25*time.Millisecond)
}

// runReader is one partition's bus reader.
func (b *RedisBroker) runReader(p *redisPart) {
	defer b.wg.Done()
	ctx := b.ctx
	_, rd, err := b.clients()
	if err != nil {
		return
	}
	bo := backoff{min: 50 * time.Millisecond, max: max(b.block, time.Second)}
	failing := false
	defer func() {
		if failing {
			b.failingReaders.Add(-1)
		}
	}()
	fail := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		b.busErrors.Add(1)
		if !failing {
			failing = true
			b.failingReaders.Add(1)
			b.log.Warn("redis bus reader: "+what, zap.Int("partition", p.idx), zap.Error(err))
		}
		return sleep(ctx, bo.next())
	}
	for !b.curReady.Load() {
		if err := b.initCursors(ctx); err != nil && !fail("taking the cursors", err) {
			return
		}
	}
	check := false
	for ctx.Err() == nil {
		if check {
			if _, err := b.checkBus(ctx, p, ""); err != nil {
				if !fail("checking the bus", err) {
					return
				}
				continue
			}
			check = false
		}
		prev := p.cursor
		rctx, cancel := context.WithTimeout(ctx, b.block)
		res, err := rd.XRead(rctx, &redis.XReadArgs{
			Streams: []string{p.busKey, prev},
			Count:   int64(b.busCount),
			Block:   b.readBlock(),
		}).Result()
		cancel()
		if err != nil && !errors.Is(err, redis.Nil) {
			if !fail("reading", err) {
				return
			}
			check = true
			continue
		}
		if failing {
			failing = false
			b.failingReaders.Add(-1)
			b.log.Info("redis bus reader resumed", zap.Int("partition", p.idx))
		}
		bo.reset()
		if err != nil {
			// Idle (BLOCK timed out): look for a bus that went back
			// (flush, restart, clock step).
			check = true
			continue
		}
		var msgs []redis.XMessage
		if len(res) > 0 {
			msgs = res[0].Messages
		}
		if len(msgs) == 0 {
			continue
		}
		if len(msgs) >= b.busCount {
			// A full batch: entries after prev may have been trimmed before
			// this read. Check before handing anything over.
			resynced, err := b.checkBus(ctx, p, prev)
			if err != nil {
				if !fail("checking the bus", err) {
					return
				}
				continue // re-read from prev
			}
			if resynced {
				continue // the batch is covered by the resync
			}
		}
		deliver := b.deliver.Load()
		for i := range msgs {
			b.handleBus(ctx, p, &msgs[i], deliver)
		}
		p.cursor = msgs[len(msgs)-1].ID
	}
}

// checkBus resynchronises the partition if entries after cursor (default
// p.cursor) may have been trimmed (the cursor's own entry was), or if the
// bus went back behind the cursor, and reports whether it did.
func (b *RedisBroker) checkBus(ctx context.Context, p *redisPart, cursor string) (bool, error) {
	if cursor == "" {
		cursor = p.cursor
	}
	_, rd, err := b.clients()
	if err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(ctx, b.block)
	info, err := rd.XInfoStream(cctx, p.busKey).Result()
	cancel()
	why := ""
	switch {
	case err != nil && !isNoSuchKey(err):
		return false, err
	case err != nil:
		if cursor == "0-0" {
			return false, nil
		}
		why = "bus gone"
	case compareIDs(info.LastGeneratedID, cursor) < 0:
		why = "bus went back"
	case info.Length > 0 && (info.EntriesAdded == 0 || info.EntriesAdded > info.Length) &&
		compareIDs(firstID(info), cursor) > 0:
		// Entries were trimmed, and the cursor's entry with them: entries
		// between it and the first retained one may be lost. (Redis 7
		// keeps max-deleted-entry-id for XDEL only, not for trimming;
		// Redis 6.2 reports no entries-added, so it counts as trimmed.)
		why = "bus trimmed past the cursor"
	default:
		return false, nil
	}
	return true, b.resync(ctx, p, why)
}

// firstID is the id of a stream's first entry.
func firstID(info *redis.XInfoStream) string {
	if info.FirstEntry.ID != "" {
		return info.FirstEntry.ID
	}
	if info.RecordedFirstEntryID != "" {
		return info.RecordedFirstEntryID
	}
	return info.LastGeneratedID
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "no such key")
}

// compareIDs orders two stream ids "<ms>-<seq>"; a malformed id sorts first.
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am != bm:
		if am < bm {
			return -1
		}
		return 1
	case as != bs:
		if as < bs {
			return -1
		}
		return 1
	}
	return 0
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
}

// handleBus hands one bus entry to the hub. For a watched stream it detects
// a regression: an offset at or below the last one the bus brought, in the
// same epoch, can only be a reused offset (Redis lost writes), since a bus
// entry is read once and a resync moves the cursor atomically with its meta
// read. Such a message is not delivered; the epoch is replaced so that the
// stream's next message resets the subscribers.
func (b *RedisBroker) handleBus(ctx context.Context, p *redisPart, x *redis.XMessage, deliver *func(Message)) {
	m, ok := parseBusEntry(x)
	if !ok {
		b.log.Warn("redis bus: malformed entry dropped", zap.String("key", p.busKey), zap.String("id", x.ID))
		return
	}
	if m.Offset > 0 {
		p.mu.Lock()
		if ws := p.watched[m.Stream]; ws != nil {
			if ws.busSet && ws.busEpoch == m.Epoch && m.Offset <= ws.busLast {
				p.mu.Unlock()
				b.regression(ctx, p, m.Stream, m.Epoch, m.Offset, ws.busLast)
				return
			}
			ws.busSet, ws.busEpoch, ws.busLast = true, m.Epoch, m.Offset
		}
		p.mu.Unlock()
	}
	if deliver != nil {
		(*deliver)(m)
	}
}

// regression replaces the epoch of a stream whose offsets went back.
func (b *RedisBroker) regression(ctx context.Context, p *redisPart, stream, epoch string, got, last uint64) {
	_, rd, err := b.clients()
	if err != nil {
		return
	}
	n, err := bumpScript.Run(ctx, rd, []string{p.metaKey(stream)}, epoch, newEpoch()).Int()
	if err != nil {
		b.log.Warn("redis: bumping the epoch after an offset regression failed",
			zap.String("stream", stream), zap.Error(err))
		return
	}
	if n == 1 {
		b.regressions.Add(1)
		b.log.Warn("redis: offsets of a stream went back (Redis lost writes); its epoch was replaced",
			zap.String("stream", stream), zap.String("epoch", epoch), zap.Uint64("offset", got), zap.Uint64("seen", last))
	}
}

// parseBusEntry decodes a bus entry {s, o, e, t, d, [x], [b]}.
func parseBusEntry(x *redis.XMessage) (Message, bool) {
	str := func(k string) string {
		v, _ := x.Values[k].(string)
		return v
	}
	m := Message{Publication: Publication{
		Stream:        str("s"),
		Data:          str("d"),
		ExcludeSocket: str("x"),
		BroadcastType: str("b"),
	}, Epoch: str("e")}
	o, err1 := strconv.ParseUint(str("o"), 10, 64)
	t, err2 := strconv.ParseInt(str("t"), 10, 64)
	if m.Stream == "" || err1 != nil || err2 != nil || (o > 0 && m.Epoch == "") {
		return Message{}, false
	}
	m.Offset, m.Time = o, t
	m.Transient = o == 0
	return m, true
}

// resync moves the partition's cursor to the bus end and catches its
// watched streams up from their histories (see the comment at the top).
func (b *RedisBroker) resync(ctx context.Context, p *redisPart, why string) error {
	_, rd, err := b.clients()
	if err != nil {
		return err
	}
	p.mu.Lock()
	streams := make([]string, 0, len(p.watched))
	for s := range p.watched {
		streams = append(streams, s)
	}
	p.mu.Unlock()

	var last *redis.XMessageSliceCmd
	metas := make([]*redis.SliceCmd, len(streams))
	_, err = rd.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		last = pipe.XRevRangeN(ctx, p.busKey, "+", "-", 1)
		for i, s := range streams {
			metas[i] = pipe.HMGet(ctx, p.metaKey(s), "e", "s")
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.resyncs.Add(1)
	b.log.Info("redis bus: resynchronising a partition", zap.Int("partition", p.idx),
		zap.String("reason", why), zap.Int("watched", len(streams)))
	limit, _ := b.limits()
	deliver := b.deliver.Load()
	for i, s := range streams {
		v := metas[i].Val()
		e, _ := v[0].(string)
		ss, _ := v[1].(string)
		if e == "" {
			continue // no epoch: the next publish creates one and resets
		}
		top, _ := strconv.ParseUint(ss, 10, 64)
		p.mu.Lock()
		ws := p.watched[s]
		if ws == nil {
			p.mu.Unlock()
			continue
		}
		from := uint64(1)
		regressed := false
		seen := ws.busLast
		switch {
		case ws.busSet && ws.busEpoch == e:
			from = ws.busLast + 1
			regressed = top < ws.busLast
		case !ws.busSet && ws.floorSet && ws.floorEpoch == e:
			from = ws.floor + 1
		}
		if top > uint64(limit) {
			// Below the size window nothing is retained (logically): the
			// hub sees the gap and resets. With nothing known, the retained
			// window is handed over; the hub drops what its subscriptions
			// already have.
			from = max(from, top-uint64(limit)+1)
		}
		p.mu.Unlock()
		if regressed {
			b.regression(ctx, p, s, e, top, seen)
			continue
		}
		var got []Message
		for from <= top {
			res, err := rangeScript.Run(ctx, rd, []string{p.metaKey(s), p.histKey(s)},
				e, strconv.FormatUint(from, 10), strconv.FormatUint(top, 10), maxBusRead).Result()
			if errors.Is(err, redis.Nil) {
				break // the epoch changed meanwhile: the bus brings the rest
			}
			if err != nil {
				return err
			}
			page, err := parseEntries(s, e, res)
			if err != nil {
				return err
			}
			got = append(got, page...)
			if len(page) < maxBusRead {
				break
			}
			from = page[len(page)-1].Offset + 1
		}
		for _, m := range got {
			if deliver != nil {
				(*deliver)(m)
			}
		}
		p.mu.Lock()
		if ws := p.watched[s]; ws != nil {
			ws.busSet, ws.busEpoch, ws.busLast = true, e, top
		}
		p.mu.Unlock()
	}
	p.cursor = "0-0"
	if ms := last.Val(); len(ms) > 0 {
		p.cursor = ms[0].ID
	}
	return nil
}

// keepAlive refreshes the meta TTL of every watched stream every MetaTTL/4,
// so that an idle stream with subscribers keeps its epoch.
func (b *RedisBroker) keepAlive() {
	defer b.wg.Done()
	ctx := b.ctx
	t := time.NewTicker(b.metaTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := b.refreshWatched(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("redis: refreshing the meta TTL of watched streams failed", zap.Error(err))
		}
	}
}

func (b *RedisBroker) refreshWatched(ctx context.Context) error {
	_, rd, err := b.clients()
	if err != nil {
		return err
	}
	ttl := b.effectiveMetaTTL()
	var keys []string
	for _, p := range b.parts {
		p.mu.Lock()
		for s := range p.watched {
			keys = append(keys, p.metaKey(s))
		}
		p.mu.Unlock()
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		batch := keys[:n]
		keys = keys[n:]
		if _, err := rd.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, k := range batch {
				pipe.Expire(ctx, k, ttl)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
