package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults of RedisOptions.
const (
	DefaultRedisPrefix       = "acs"
	DefaultRedisPartitions   = 16
	DefaultRedisBusMaxLen    = 2000
	DefaultRedisBlockTimeout = 2 * time.Second
	DefaultRedisMetaTTL      = 24 * time.Hour
	DefaultIdempotencyTTL    = 600 * time.Second
)

// maxBusRead is the largest batch a bus reader takes in one XREAD.
const maxBusRead = 1000

// RedisOptions configures a RedisBroker.
type RedisOptions struct {
	// URL names the Redis deployment; see CheckRedisURL for the forms.
	// Password, user name, database and TLS come from the URL.
	URL string
	// Prefix starts every key; default "acs". Two deployments that share a
	// Redis need different prefixes.
	Prefix string
	// HistoryLimit is how many messages a stream retains; 0 or negative
	// means DefaultHistoryLimit.
	HistoryLimit int
	// HistoryTTL is how long a message is retained; 0 or negative means
	// DefaultHistoryTTL.
	HistoryTTL time.Duration
	// MetaTTL is how long a stream's epoch and top offset live without a
	// publish, a read or a watcher. 0 means max(24h, 10×HistoryTTL); a value
	// below HistoryTTL is rejected (the counter would restart under retained
	// history).
	MetaTTL time.Duration
	// Partitions is the number of bus streams (and hash tags); default 16.
	// Every node of a deployment must use the same value: it is part of the
	// key names.
	Partitions int
	// BusMaxLen bounds each bus stream (MAXLEN ~); default 2000. A node
	// that falls further behind than this catches up from the histories of
	// its watched streams.
	BusMaxLen int
	// BlockTimeout is the XREAD BLOCK time of the bus readers and the I/O
	// timeout of every command; default 2s. A stalled Redis is detected
	// within it.
	BlockTimeout time.Duration
	// IdempotencyTTL is how long a publish's idempotency key is remembered
	// (see WithIdempotencyKey); default 600s.
	IdempotencyTTL time.Duration
	// Logger receives the broker's warnings; nil means no logging.
	Logger *zap.Logger
}

// RedisBroker is the broker for several nodes sharing one Redis (standalone,
// Sentinel or Cluster). Offsets, epochs and history live in Redis: one
// publish is one Lua script that numbers the message, appends it to the
// stream's history and to a partitioned bus stream. Every node tails every
// bus partition from a concrete cursor and hands each message to its hub,
// so a publish on any node reaches the subscribers of every node once, in
// offset order per stream.
//
// Keys, with p = crc32(stream) mod Partitions and the hash tag first:
//
//	<prefix>:{p}:m:<stream>        HASH  e epoch, s top offset     (MetaTTL)
//	<prefix>:{p}:h:<stream>        STREAM id <offset>-0, d t [x b] (HistoryTTL, MAXLEN ~ limit)
//	<prefix>:{p}:bus               STREAM s o e t d [x b]          (MAXLEN ~ BusMaxLen)
//	<prefix>:{p}:i:<stream>:<key>  STRING "<offset>/<epoch>/<ms>"  (IdempotencyTTL)
//
// The recovery decision and its reasons are the MemoryBroker's; retention by
// size and age is enforced when reading, so approximate trimming and the
// whole-key TTL never make a position look recoverable when it is not.
type RedisBroker struct {
	cfg      *redisConfig
	prefix   string
	parts    []*redisPart
	busMax   int
	block    time.Duration
	metaTTL  time.Duration
	idemTTL  time.Duration
	busCount int
	log      *zap.Logger

	historyLimits

	// now, when set (tests), replaces Redis TIME as the clock of the scripts.
	now func() time.Time

	deliver atomic.Pointer[func(Message)]
	closed  atomic.Bool

	clientMu sync.Mutex
	cmd      redis.UniversalClient // publishes, snapshots: no automatic retries
	rd       redis.UniversalClient // bus readers, resync, keep-alive

	curMu    sync.Mutex
	curReady atomic.Bool

	lifeMu  sync.Mutex
	started bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// failingReaders is the number of bus readers currently failing.
	failingReaders atomic.Int32
	// busErrors counts bus read failures (tests and metrics).
	busErrors atomic.Int64
	// resyncs counts partition resyncs (tests and metrics).
	resyncs atomic.Int64
	// regressions counts epochs bumped because Redis lost writes.
	regressions atomic.Int64
}

var _ Broker = (*RedisBroker)(nil)
var _ StreamWatcher = (*RedisBroker)(nil)

// NewRedisBroker validates o and returns a broker. It does no network I/O:
// clients are created by Start (or the first Publish, Snapshot or Ping), so
// that a configuration can be validated without reaching Redis.
func NewRedisBroker(o RedisOptions) (*RedisBroker, error) {
	cfg, err := parseRedisURL(o.URL)
	if err != nil {
		return nil, err
	}
	b := &RedisBroker{cfg: cfg, prefix: o.Prefix, busMax: o.BusMaxLen, block: o.BlockTimeout,
		metaTTL: o.MetaTTL, idemTTL: o.IdempotencyTTL, log: o.Logger}
	if b.prefix == "" {
		b.prefix = DefaultRedisPrefix
	}
	if strings.ContainsAny(b.prefix, "{}") {
		return nil, fmt.Errorf("pubsub: redis prefix %q must not contain '{' or '}'", b.prefix)
	}
	np := o.Partitions
	if np == 0 {
		np = DefaultRedisPartitions
	}
	if np < 1 || np > 16384 {
		return nil, fmt.Errorf("pubsub: redis partitions %d out of range 1..16384", np)
	}
	if b.busMax == 0 {
		b.busMax = DefaultRedisBusMaxLen
	}
	if b.busMax < 2 {
		return nil, fmt.Errorf("pubsub: redis bus length %d below 2", b.busMax)
	}
	// A batch smaller than the bus length makes a trimmed cursor visible:
	// approximate trimming keeps at least BusMaxLen entries, so a reader whose
	// cursor was trimmed away always gets a full batch, and checks.
	b.busCount = min(maxBusRead, max(1, b.busMax/2))
	if b.block == 0 {
		b.block = DefaultRedisBlockTimeout
	}
	if b.block < 50*time.Millisecond {
		return nil, fmt.Errorf("pubsub: redis block timeout %v below 50ms", b.block)
	}
	histTTL := o.HistoryTTL
	if histTTL <= 0 {
		histTTL = DefaultHistoryTTL
	}
	if b.metaTTL == 0 {
		b.metaTTL = max(DefaultRedisMetaTTL, 10*histTTL)
	}
	if b.metaTTL < histTTL {
		return nil, fmt.Errorf("pubsub: redis meta TTL %v below the history TTL %v", b.metaTTL, histTTL)
	}
	if b.metaTTL < time.Second {
		return nil, fmt.Errorf("pubsub: redis meta TTL %v below one second", b.metaTTL)
	}
	if b.idemTTL <= 0 {
		b.idemTTL = DefaultIdempotencyTTL
	}
	if b.log == nil {
		b.log = zap.NewNop()
	}
	b.SetLimits(o.HistoryLimit, o.HistoryTTL)
	b.parts = make([]*redisPart, np)
	for i := range b.parts {
		tag := b.prefix + ":{" + strconv.Itoa(i) + "}"
		b.parts[i] = &redisPart{idx: i, tag: tag, busKey: tag + ":bus", cursor: "0-0",
			watched: make(map[string]*watchState)}
	}
	return b, nil
}

// effectiveMetaTTL is MetaTTL, raised to the history TTL if SetLimits
// raised that above it.
func (b *RedisBroker) effectiveMetaTTL() time.Duration {
	_, ttl := b.limits()
	return max(b.metaTTL, ttl)
}

// clients returns the two Redis clients, creating them on first use.
func (b *RedisBroker) clients() (cmd, rd redis.UniversalClient, err error) {
	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	if b.closed.Load() {
		return nil, nil, ErrClosed
	}
	if b.cmd == nil {
		// MaxRetries -1: go-redis would otherwise re-send a publish whose
		// reply timed out, and a publish that ran twice is two messages.
		// (A ClusterClient retries regardless: see runOnce.)
		b.cmd = b.cfg.client(clientTuning{name: "acs-cmd", retries: -1, timeout: b.block})
		b.rd = b.cfg.client(clientTuning{name: "acs-bus", retries: -1, timeout: b.block,
			pool: len(b.parts) + 4})
	}
	return b.cmd, b.rd, nil
}

// Start implements Broker: deliver receives every message published on any
// node after the bus cursors were taken (before the first snapshot is
// read). The bus readers and the keep-alive start here; Start does not wait
// for Redis. Calling Start again only replaces deliver.
func (b *RedisBroker) Start(deliver func(Message)) error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	if deliver != nil {
		b.deliver.Store(&deliver)
	}
	if b.started {
		return nil
	}
	if _, _, err := b.clients(); err != nil {
		return err
	}
	b.started = true
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for _, p := range b.parts {
		b.wg.Add(1)
		go b.runReader(p)
	}
	b.wg.Add(1)
	go b.keepAlive()
	return nil
}

// Close implements Broker: it stops the readers and the keep-alive, waits
// for them and closes the clients. Later calls fail with ErrClosed. It is
// idempotent.
func (b *RedisBroker) Close() error {
	b.lifeMu.Lock()
	if b.closed.Swap(true) {
		b.lifeMu.Unlock()
		return nil
	}
	if b.started {
		b.cancel()
	}
	b.lifeMu.Unlock()
	b.clientMu.Lock()
	cmd, rd := b.cmd, b.rd
	b.clientMu.Unlock()
	var errs []error
	if rd != nil {
		// Closing the readers' client ends their blocking reads at once.
		errs = append(errs, rd.Close())
	}
	b.wg.Wait()
	if cmd != nil {
		errs = append(errs, cmd.Close())
	}
	return errors.Join(errs...)
}

// Ping checks that Redis answers.
func (b *RedisBroker) Ping(ctx context.Context) error {
	cmd, _, err := b.clients()
	if err != nil {
		return err
	}
	if err := cmd.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// RedisStats are counters of a RedisBroker's background work, for metrics
// and health checks.
type RedisStats struct {
	// FailingReaders is the number of bus partitions whose reader currently
	// cannot read (Redis unreachable or stalled). A node with failing
	// readers delivers nothing from those partitions: report it unhealthy.
	FailingReaders int
	// BusErrors counts failed bus reads and checks.
	BusErrors int64
	// Resyncs counts partitions resynchronised (cursor trimmed away, bus
	// reset).
	Resyncs int64
	// Regressions counts epochs replaced because offsets went back.
	Regressions int64
	// Watched is the number of watched streams.
	Watched int
}

// Stats returns the broker's counters.
func (b *RedisBroker) Stats() RedisStats {
	st := RedisStats{
		FailingReaders: int(b.failingReaders.Load()),
		BusErrors:      b.busErrors.Load(),
		Resyncs:        b.resyncs.Load(),
		Regressions:    b.regressions.Load(),
	}
	for _, p := range b.parts {
		p.mu.Lock()
		st.Watched += len(p.watched)
		p.mu.Unlock()
	}
	return st
}

// unavailable wraps a Redis error so that errors.Is(err, ErrUnavailable)
// holds (and errors.Is still finds the cause, such as a context error).
func unavailable(err error) error {
	return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
}

type idempotencyKeyCtx struct{}

// WithIdempotencyKey returns a context that makes Publish idempotent for
// key: a second publish to the same stream with the same key within the
// broker's idempotency TTL creates no message and returns the first one's
// (epoch, offset). A caller that retries a publish whose outcome it does not
// know (timeout, lost reply) must reuse the key. The redisx ingester sets
// the entry id. The key is per stream: a batch of several messages for one
// stream needs one key per message. Only the Redis broker honours it.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyCtx{}, key)
}

// IdempotencyKey returns the key set by WithIdempotencyKey, or "".
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKeyCtx{}).(string)
	return k
}

// part returns the partition of a stream.
func (b *RedisBroker) part(stream string) *redisPart {
	return b.parts[crc32.ChecksumIEEE([]byte(stream))%uint32(len(b.parts))]
}

func (p *redisPart) metaKey(stream string) string { return p.tag + ":m:" + stream }
func (p *redisPart) histKey(stream string) string { return p.tag + ":h:" + stream }

// seconds renders d as whole seconds for EXPIRE, rounded up, at least 1.
func seconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// nowArg is the clock argument of the scripts: "0" means Redis TIME.
func (b *RedisBroker) nowArg() string {
	if b.now == nil {
		return "0"
	}
	return strconv.FormatInt(b.now().UnixMilli(), 10)
}

// Publish implements Broker. The message is numbered and stored by one
// script; it reaches the hubs (this node's too) through the bus. A failed
// publish returns an error wrapping ErrUnavailable and no message: the
// script may or may not have run, so a caller that retries must use an
// idempotency key (WithIdempotencyKey) to be sure not to publish twice.
func (b *RedisBroker) Publish(ctx context.Context, p Publication) (Message, error) {
	if err := usable(ctx, &b.closed, p.Stream); err != nil {
		return Message{}, err
	}
	cmd, _, err := b.clients()
	if err != nil {
		return Message{}, err
	}
	limit, ttl := b.limits()
	part := b.part(p.Stream)
	meta := part.metaKey(p.Stream)
	idemKey, idemTTL := meta, "0"
	if k := IdempotencyKey(ctx); k != "" && !p.Transient {
		idemKey, idemTTL = part.tag+":i:"+p.Stream+":"+k, seconds(b.idemTTL)
	}
	transient := "0"
	if p.Transient {
		transient = "1"
	}
	res, err := runOnce(ctx, cmd, publishScript, []string{meta, part.histKey(p.Stream), part.busKey, idemKey},
		p.Stream, p.Data, limit, seconds(ttl), seconds(b.effectiveMetaTTL()), newEpoch(),
		b.busMax, idemTTL, p.ExcludeSocket, p.BroadcastType, transient, b.nowArg()).Slice()
	if err != nil {
		return Message{}, unavailable(err)
	}
	if len(res) != 4 {
		return Message{}, unavailable(fmt.Errorf("publish script returned %d values", len(res)))
	}
	off, ok1 := res[0].(int64)
	epoch, ok2 := res[1].(string)
	ms, err3 := strconv.ParseInt(fmt.Sprint(res[2]), 10, 64)
	if !ok1 || !ok2 || err3 != nil || off < 0 {
		return Message{}, unavailable(fmt.Errorf("publish script returned %v", res))
	}
	return Message{Publication: p, Epoch: epoch, Offset: uint64(off), Time: ms}, nil
}

// Snapshot implements Broker with the MemoryBroker's decision and reasons:
//
//   - no request: NoHistory;
//   - From {e, o}: e != E: NotRecovered ("unknown epoch" for a stream with
//     no publish in its epoch, else "epoch mismatch"); o > T: NotRecovered
//     "ahead of the stream" (nothing changes: a forged id must not reset
//     every subscriber; lost writes are detected from the bus);
//     o == T: Recovered, no messages; o+1 retained by size (o >= T-limit)
//     and age: Recovered with o+1..T; otherwise NotRecovered "expired" when
//     the oldest stored entry after o is past the TTL (or none is stored),
//     else "trimmed";
//   - Since s (Unix seconds): Recovered with every retained message stored
//     at or after s.
//
// A snapshot of a stream without an epoch creates one, so that the first
// publish uses it, and refreshes the meta TTL.
func (b *RedisBroker) Snapshot(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error) {
	if err := usable(ctx, &b.closed, stream); err != nil {
		return Snapshot{}, err
	}
	cmd, _, err := b.clients()
	if err != nil {
		return Snapshot{}, err
	}
	// The bus cursors must be taken before the first snapshot is read: a
	// message committed after the snapshot is then read by the bus.
	if !b.curReady.Load() {
		if err := b.initCursors(ctx); err != nil {
			return Snapshot{}, unavailable(err)
		}
	}
	limit, ttl := b.limits()
	part := b.part(stream)
	mode, arg, cepoch := "n", "0", ""
	switch {
	case req.From != nil:
		mode, arg, cepoch = "f", strconv.FormatUint(req.From.Offset, 10), req.From.Epoch
	case req.Since > 0:
		mode, arg = "s", strconv.FormatInt(req.Since*1000, 10)
	}
	keys := []string{part.metaKey(stream), part.histKey(stream)}
	args := []any{mode, arg, cepoch, limit, seconds(b.effectiveMetaTTL()), "", b.nowArg(), ttl.Milliseconds()}
	res, err := runOnce(ctx, cmd, readScript, keys, args...).Slice()
	if err != nil && ctx.Err() == nil && brokenConn(err) {
		// One retry on a broken connection (not on a timeout: a stalled
		// Redis fails within BlockTimeout): the read script is safe to
		// repeat (it creates an epoch only if none exists, and bumps one
		// only if it still is the client's).
		res, err = runOnce(ctx, cmd, readScript, keys, args...).Slice()
	}
	if err != nil {
		return Snapshot{}, unavailable(err)
	}
	snap, err := decideRedis(stream, req, res, limit, ttl)
	if err != nil {
		return Snapshot{}, unavailable(err)
	}
	b.noteSnapshot(part, stream, snap.Top)
	return snap, nil
}

// brokenConn reports whether err is an I/O error other than a timeout,
// such as a pooled connection that Redis closed (restart, CLIENT KILL).
func brokenConn(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		return false // an error reply: Redis ran the command
	}
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// decideRedis applies the recovery decision to the read script's reply
// {epoch, top, created, bumped, now ms, entries}.
func decideRedis(stream string, req HistoryRequest, res []any, limit int, ttl time.Duration) (Snapshot, error) {
	if len(res) != 6 {
		return Snapshot{}, fmt.Errorf("read script returned %d values", len(res))
	}
	epoch, _ := res[0].(string)
	top, ok := res[1].(int64)
	created, _ := res[2].(int64)
	bumped, _ := res[3].(int64)
	now, err := strconv.ParseInt(fmt.Sprint(res[4]), 10, 64)
	if (epoch == "" && (created != 1 || top != 0)) || !ok || top < 0 || err != nil {
		return Snapshot{}, fmt.Errorf("read script returned %v", res[:5])
	}
	if req.From != nil && req.From.Epoch == "" && req.From.Offset == 0 {
		// Seen before the stream had an epoch: every epoch since is newer.
		req.From = &Position{Epoch: epoch}
	}
	entries, err := parseEntries(stream, epoch, res[5])
	if err != nil {
		return Snapshot{}, err
	}
	T := uint64(top)
	snap := Snapshot{Top: Position{Epoch: epoch, Offset: T}}
	switch {
	case req.From != nil:
		o := req.From.Offset
		snap.Status = NotRecovered
		switch {
		case bumped == 1:
			snap.Reason = "ahead of the stream"
		case req.From.Epoch != epoch:
			if created == 1 || T == 0 {
				snap.Reason = "unknown epoch"
			} else {
				snap.Reason = "epoch mismatch"
			}
		case o > T:
			snap.Reason = "ahead of the stream"
		case o == T:
			snap.Status = Recovered
		default:
			low := uint64(1)
			if T > uint64(limit) {
				low = T - uint64(limit) + 1
			}
			cutoff := now - ttl.Milliseconds()
			need := o + 1
			if need >= low && len(entries) > 0 && entries[0].Offset == need && entries[0].Time > cutoff &&
				uint64(len(entries)) == T-o && contiguous(entries) {
				snap.Status = Recovered
				snap.Messages = entries
			} else if len(entries) == 0 || entries[0].Time <= cutoff {
				snap.Reason = "expired"
			} else {
				snap.Reason = "trimmed"
			}
		}
	case req.Since > 0:
		snap.Status = Recovered
		snap.Messages = entries
	default:
		snap.Status = NoHistory
	}
	if snap.Status != Recovered {
		snap.Messages = nil
	}
	return snap, nil
}

func contiguous(ms []Message) bool {
	for i := 1; i < len(ms); i++ {
		if ms[i].Offset != ms[i-1].Offset+1 {
			return false
		}
	}
	return true
}

// parseEntries turns an XRANGE reply of a history stream into messages.
func parseEntries(stream, epoch string, v any) ([]Message, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("history entries of type %T", v)
	}
	out := make([]Message, 0, len(list))
	for _, e := range list {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("history entry %v", e)
		}
		id, _ := pair[0].(string)
		fields, _ := pair[1].([]any)
		off, err := entryOffset(id)
		if err != nil {
			return nil, err
		}
		m := Message{Publication: Publication{Stream: stream}, Epoch: epoch, Offset: off}
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			val, _ := fields[i+1].(string)
			switch k {
			case "d":
				m.Data = val
			case "t":
				m.Time, _ = strconv.ParseInt(val, 10, 64)
			case "x":
				m.ExcludeSocket = val
			case "b":
				m.BroadcastType = val
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// entryOffset parses a history entry id "<offset>-0".
func entryOffset(id string) (uint64, error) {
	ms, _, ok := strings.Cut(id, "-")
	if !ok {
		return 0, fmt.Errorf("history entry id %q", id)
	}
	return strconv.ParseUint(ms, 10, 64)
}

// randomName returns n random bytes in hex, for consumer names.
func randomName(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}
