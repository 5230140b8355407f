package pubsub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// IngestFunc receives one raw publication (AnyCable's broadcast JSON: one
// object, or an array for a batch) from an ingester. The root parses it and
// publishes through the hub, passing ctx on to Publish: the ctx of the
// redisx ingester carries an idempotency key (WithIdempotencyKey) that the
// Redis broker uses. A batch must derive one key per message of a stream
// (for example the key plus "/<index>").
//
// The redisx ingester retries an entry whose handler returned an error
// wrapping ErrUnavailable (or a context error): the broker could not be
// reached. Any other error means the payload can never be handled
// (malformed JSON): the entry is acknowledged and dropped.
type IngestFunc func(ctx context.Context, payload []byte) error

// Defaults of the ingesters (AnyCable's names).
const (
	DefaultIngestStream  = "__anycable__"
	DefaultIngestGroup   = "bx"
	DefaultIngestChannel = "__anycable__"
)

// retryable reports whether an ingestion error means "try again later".
func retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed)
}

// StreamIngesterOptions configures a StreamIngester.
type StreamIngesterOptions struct {
	// URL of the Redis that Rails writes to (see CheckRedisURL).
	URL string
	// Stream is the stream key; default "__anycable__".
	Stream string
	// Group is the consumer group; default "bx".
	Group string
	// Consumer names this node in the group; default "<host>-<random>".
	Consumer string
	// BlockTimeout is the XREADGROUP BLOCK time and the claim interval;
	// default 2s.
	BlockTimeout time.Duration
	// ClaimIdle is how long an entry stays pending (its consumer died, or
	// its handler failed) before any node claims it; default BlockTimeout.
	ClaimIdle time.Duration
	// Count bounds the entries read or claimed at once; default 100.
	Count int
	// Logger receives warnings; nil means none.
	Logger *zap.Logger
}

// StreamIngester is AnyCable's "redisx" broadcast adapter: Rails runs
// XADD __anycable__ * payload '<json>', and the nodes share the entries
// through the consumer group "bx", so each entry is handled by one node.
//
// An entry is acknowledged and deleted (XACK + XDEL) after its handler
// succeeds, if it is still pending for this node (see ackScript: after a
// loss of the stream, a new entry may reuse the id). An entry whose
// consumer died is claimed by another node after ClaimIdle (XAUTOCLAIM),
// and an entry whose handler failed because the broker was unavailable is
// retried the same way. A retry publishes with the
// same idempotency key (the entry id), so a node that published and then
// died before its XACK does not cause a second message.
//
// The group is created at "$" (AnyCable's behaviour: entries added before
// it existed are not read). If it disappears while running (Redis restarted
// without persistence, FLUSHALL), it is recreated at "0": everything still
// in the stream was added after the loss and is unprocessed.
type StreamIngester struct {
	cfg      *redisConfig
	stream   string
	group    string
	consumer string
	block    time.Duration
	idle     time.Duration
	count    int
	handle   IngestFunc
	log      *zap.Logger

	// attempts counts the failed tries of entries whose handler got an
	// error reply from Redis (run's goroutine only); dead counts the
	// entries given up after maxEntryAttempts.
	attempts map[string]int
	dead     atomic.Int64

	lifecycle
}

// maxEntryAttempts bounds the tries of an entry that Redis keeps refusing
// with an error reply (WRONGTYPE on a key, a script error): retried
// forever, it would block every later broadcast on the node.
const maxEntryAttempts = 5

// DeadEntries is the number of entries given up after maxEntryAttempts.
func (s *StreamIngester) DeadEntries() int64 { return s.dead.Load() }

// replyError reports whether err carries an error reply from Redis that
// trying again will not change; LOADING, BUSY, TRYAGAIN, CLUSTERDOWN,
// READONLY and MASTERDOWN pass with time, as connection errors do.
func replyError(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) || errors.Is(err, redis.Nil) {
		return false
	}
	for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "READONLY", "MASTERDOWN", "MOVED", "ASK"} {
		if strings.HasPrefix(re.Error(), p) {
			return false
		}
	}
	return true
}

// giveUp counts one failed try of entry id and reports whether it has had
// its last one.
func (s *StreamIngester) giveUp(id string, err error) bool {
	if !replyError(err) {
		return false
	}
	if s.attempts == nil {
		s.attempts = make(map[string]int)
	}
	s.attempts[id]++
	if s.attempts[id] < maxEntryAttempts {
		return false
	}
	delete(s.attempts, id)
	s.dead.Add(1)
	s.log.Error("redisx: entry given up after repeated Redis errors", zap.String("stream", s.stream),
		zap.String("id", id), zap.Int("attempts", maxEntryAttempts), zap.Error(err))
	return true
}

// NewStreamIngester validates o; it does no I/O.
func NewStreamIngester(o StreamIngesterOptions, handle IngestFunc) (*StreamIngester, error) {
	if handle == nil {
		return nil, errors.New("pubsub: stream ingester without a handler")
	}
	cfg, err := parseRedisURL(o.URL)
	if err != nil {
		return nil, err
	}
	s := &StreamIngester{cfg: cfg, stream: o.Stream, group: o.Group, consumer: o.Consumer,
		block: o.BlockTimeout, idle: o.ClaimIdle, count: o.Count, handle: handle, log: o.Logger}
	if s.stream == "" {
		s.stream = DefaultIngestStream
	}
	if s.group == "" {
		s.group = DefaultIngestGroup
	}
	if s.consumer == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "node"
		}
		s.consumer = host + "-" + randomName(4)
	}
	if s.block <= 0 {
		s.block = DefaultRedisBlockTimeout
	}
	if s.block < 10*time.Millisecond {
		return nil, fmt.Errorf("pubsub: ingester block timeout %v below 10ms", s.block)
	}
	if s.idle <= 0 {
		s.idle = s.block
	}
	if s.count <= 0 {
		s.count = 100
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s, nil
}

// Consumer is the ingester's consumer name in the group.
func (s *StreamIngester) Consumer() string { return s.consumer }

// Start starts reading in the background and returns at once; the ingester
// runs until Stop or until ctx ends. It fails only if called twice.
func (s *StreamIngester) Start(ctx context.Context) error {
	return s.start(ctx, "stream ingester", func() redis.UniversalClient {
		return s.cfg.client(clientTuning{name: "acs-redisx", retries: -1, timeout: s.block})
	}, s.run)
}

// Stop stops reading, waits for the handler in progress, removes the
// consumer from the group (unless it still owns pending entries, which
// another node must claim) and closes the client. It is idempotent.
func (s *StreamIngester) Stop() error {
	c := s.stop()
	if c == nil {
		return nil
	}
	ctx, cc := context.WithTimeout(context.Background(), s.block)
	defer cc()
	pending, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.stream, Group: s.group, Start: "-", End: "+", Count: 1, Consumer: s.consumer,
	}).Result()
	switch {
	case err != nil:
		// NOGROUP or Redis unreachable: nothing to clean (or nothing we can).
	case len(pending) > 0:
		s.log.Info("redisx: consumer kept in the group: it owns pending entries", zap.String("consumer", s.consumer))
	default:
		c.XGroupDelConsumer(ctx, s.stream, s.group, s.consumer)
	}
	return c.Close()
}

func (s *StreamIngester) run(ctx context.Context) {
	bo := backoff{min: 50 * time.Millisecond, max: max(s.block, time.Second)}
	failing := false
	fail := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		if !failing {
			failing = true
			s.log.Warn("redisx: "+what, zap.String("stream", s.stream), zap.Error(err))
		}
		return sleep(ctx, bo.next())
	}
	ready := false
	startID := "$"
	claimFrom := "0-0"
	var lastClaim time.Time
	// backlog: an entry had to be retried; this consumer's own pending
	// entries are replayed, in order, before anything new is read, so that
	// nothing overtakes the entry that failed.
	backlog := false
	for ctx.Err() == nil {
		if ready && backlog {
			res, err := s.client.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: s.group, Consumer: s.consumer, Streams: []string{s.stream, "0"}, Count: int64(s.count),
			}).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				if isNoGroup(err) {
					ready, startID, claimFrom, backlog = false, "0", "0-0", false
					continue
				}
				if !fail("replaying pending entries", err) {
					return
				}
				continue
			}
			pending := 0
			retry := false
			for _, st := range res {
				pending += len(st.Messages)
				retry = retry || s.process(ctx, st.Messages)
			}
			if retry {
				if !sleep(ctx, bo.next()) {
					return
				}
				continue
			}
			if pending == 0 {
				backlog = false
				bo.reset()
			}
			continue
		}
		if !ready {
			err := s.client.XGroupCreateMkStream(ctx, s.stream, s.group, startID).Err()
			if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
				if !fail("creating the consumer group", err) {
					return
				}
				continue
			}
			ready = true
			s.removeStaleConsumers(ctx)
		}
		if time.Since(lastClaim) >= s.block {
			msgs, next, err := s.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: s.stream, Group: s.group, Consumer: s.consumer,
				MinIdle: s.idle, Start: claimFrom, Count: int64(s.count),
			}).Result()
			if err != nil {
				if isNoGroup(err) {
					ready, startID, claimFrom = false, "0", "0-0"
					continue
				}
				if !fail("claiming pending entries", err) {
					return
				}
				continue
			}
			claimFrom = next
			if claimFrom == "" || next == "0-0" {
				claimFrom = "0-0"
				lastClaim = time.Now()
			}
			if s.process(ctx, msgs) {
				backlog = true
				continue
			}
			if claimFrom != "0-0" {
				continue // more pending entries to look at
			}
		}
		rctx, cancel := context.WithTimeout(ctx, s.block+max(s.block/2, 250*time.Millisecond))
		res, err := s.client.XReadGroup(rctx, &redis.XReadGroupArgs{
			Group: s.group, Consumer: s.consumer, Streams: []string{s.stream, ">"},
			Count: int64(s.count), Block: s.block,
		}).Result()
		cancel()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if isNoGroup(err) {
				// The cursor of XAUTOCLAIM belongs to the lost stream.
				ready, startID, claimFrom = false, "0", "0-0"
				continue
			}
			if !fail("reading", err) {
				return
			}
			continue
		}
		if failing {
			failing = false
			s.log.Info("redisx: reading again", zap.String("stream", s.stream))
		}
		bo.reset()
		for _, st := range res {
			if s.process(ctx, st.Messages) {
				backlog = true
				break
			}
		}
	}
}

// staleConsumerIdle is how long a consumer with nothing pending must have
// been silent before it is removed from the group: a live node reads every
// BlockTimeout, so only nodes that are gone stay silent this long.
var staleConsumerIdle = time.Hour

// removeStaleConsumers deletes consumers that crashed nodes left in the
// group (AnyCable leaves them forever). One with pending entries is kept:
// its entries are claimed by the live nodes first.
func (s *StreamIngester) removeStaleConsumers(ctx context.Context) {
	consumers, err := s.client.XInfoConsumers(ctx, s.stream, s.group).Result()
	if err != nil {
		return
	}
	for _, c := range consumers {
		if c.Name == s.consumer || c.Pending > 0 || c.Idle < staleConsumerIdle {
			continue
		}
		if err := s.client.XGroupDelConsumer(ctx, s.stream, s.group, c.Name).Err(); err == nil {
			s.log.Info("redisx: removed a consumer left by a node that is gone", zap.String("consumer", c.Name))
		}
	}
}

// ackScript acknowledges and deletes the entries a consumer handled, but
// only those still pending for that consumer: an entry id does not name one
// entry forever. When the stream is lost (FLUSHALL, a restart without
// persistence) and Rails adds to it again, a new stream numbers its entries
// from the clock again, so an entry added in the same millisecond as one
// just handled gets the same id; an unconditional XACK + XDEL arriving
// after the loss would delete that new entry unread (and, if another node
// had already read it, acknowledge it too). An entry still pending for this
// consumer is the one it handled: the consumer reads nothing until its
// acknowledgement is done, and nothing else delivers to it. An entry that
// another node claimed meanwhile is left to that node.
//
//	KEYS[1] stream  ARGV[1] group  ARGV[2] consumer  ARGV[3..] entry ids
//
// It returns the number of entries acknowledged.
var ackScript = redis.NewScript(`
local n = 0
for i = 3, #ARGV do
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if type(p) ~= 'table' or p.err then
    return n -- NOGROUP: the stream or the group is gone, and the entries with it
  end
  if #p > 0 then
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
    redis.call('XDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`)

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// process handles entries in order and acknowledges the finished ones.
//
// It stops at the first entry that must be retried (the broker could not
// store it), so that later entries are not published before it: it reports
// that, and the caller then replays its own pending entries, in order,
// before it reads new ones.
func (s *StreamIngester) process(ctx context.Context, msgs []redis.XMessage) (retry bool) {
	var done []string
	for _, m := range msgs {
		if ctx.Err() != nil {
			break
		}
		raw, ok := m.Values["payload"]
		payload, isStr := raw.(string)
		if !ok || !isStr {
			s.log.Warn("redisx: entry without a payload field dropped", zap.String("id", m.ID))
			done = append(done, m.ID)
			continue
		}
		hctx := WithIdempotencyKey(ctx, "rx:"+s.stream+":"+m.ID)
		if err := s.handle(hctx, []byte(payload)); err != nil {
			if retryable(err) && !s.giveUp(m.ID, err) {
				s.log.Warn("redisx: entry left pending for a retry", zap.String("id", m.ID), zap.Error(err))
				retry = true
				break
			}
			if !retryable(err) {
				s.log.Warn("redisx: entry dropped", zap.String("id", m.ID), zap.Error(err))
			}
		}
		delete(s.attempts, m.ID)
		done = append(done, m.ID)
	}
	if len(done) == 0 {
		return retry
	}
	// Acknowledge even if ctx ended: the handlers ran.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.block)
	defer cancel()
	args := make([]any, 0, 2+len(done))
	args = append(args, s.group, s.consumer)
	for _, id := range done {
		args = append(args, id)
	}
	err := ackScript.Run(actx, s.client, []string{s.stream}, args...).Err()
	if err != nil {
		// The entries stay pending and are claimed again; the idempotency
		// key keeps the retry from publishing twice.
		s.log.Warn("redisx: acknowledging entries failed", zap.Int("entries", len(done)), zap.Error(err))
	}
	return retry
}

// PubSubIngesterOptions configures a PubSubIngester.
type PubSubIngesterOptions struct {
	// URL of the Redis that Rails publishes to (see CheckRedisURL).
	URL string
	// Channel is the pub/sub channel; default "__anycable__".
	Channel string
	// Timeout is the liveness probe interval and the reconnect cap;
	// default 2s.
	Timeout time.Duration
	// Logger receives warnings; nil means none.
	Logger *zap.Logger
}

// PubSubIngester is AnyCable's legacy "redis" broadcast adapter: Rails runs
// PUBLISH __anycable__ '<json>' and every subscribed node receives every
// message.
//
// It cannot give history guarantees, which is why AnyCable documents it as
// incompatible with its broker:
//   - Redis pub/sub is at-most-once: a message published while a node is
//     disconnected (reconnecting, Redis failover, a slow subscriber dropped
//     by Redis's output buffer limit) is gone, and nobody learns about it.
//   - Every node receives every message, so if every node published what it
//     receives through a shared (Redis) broker, each broadcast would become N
//     messages with N offsets. There is no cross-node key to deduplicate on:
//     pub/sub messages have no id.
//
// So it fits a single node, or the memory broker on each node (fan-out: each
// node numbers the messages for its own clients; ids then differ between
// nodes, and a client that reconnects to another node cannot resume). For
// several nodes with history, use the redisx StreamIngester or HTTP.
type PubSubIngester struct {
	cfg     *redisConfig
	channel string
	timeout time.Duration
	handle  IngestFunc
	log     *zap.Logger

	lifecycle
}

// NewPubSubIngester validates o; it does no I/O.
func NewPubSubIngester(o PubSubIngesterOptions, handle IngestFunc) (*PubSubIngester, error) {
	if handle == nil {
		return nil, errors.New("pubsub: pub/sub ingester without a handler")
	}
	cfg, err := parseRedisURL(o.URL)
	if err != nil {
		return nil, err
	}
	p := &PubSubIngester{cfg: cfg, channel: o.Channel, timeout: o.Timeout, handle: handle, log: o.Logger}
	if p.channel == "" {
		p.channel = DefaultIngestChannel
	}
	if p.timeout <= 0 {
		p.timeout = DefaultRedisBlockTimeout
	}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	return p, nil
}

// Start subscribes in the background and returns at once; the ingester runs
// until Stop or until ctx ends. It fails only if called twice.
func (p *PubSubIngester) Start(ctx context.Context) error {
	return p.start(ctx, "pub/sub ingester", func() redis.UniversalClient {
		return p.cfg.client(clientTuning{name: "acs-redis-pubsub", retries: -1, timeout: p.timeout})
	}, p.run)
}

// Stop unsubscribes, waits for the handler in progress and closes the
// client. It is idempotent.
func (p *PubSubIngester) Stop() error {
	if c := p.stop(); c != nil {
		return c.Close()
	}
	return nil
}

func (p *PubSubIngester) run(ctx context.Context) {
	bo := backoff{min: 50 * time.Millisecond, max: max(p.timeout, time.Second)}
	for ctx.Err() == nil {
		err := p.session(ctx, &bo)
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("redis pub/sub ingester: reconnecting", zap.String("channel", p.channel), zap.Error(err))
		if !sleep(ctx, bo.next()) {
			return
		}
	}
}

// session is one subscription; it returns when the connection is lost or
// dead (a ping unanswered for a whole timeout).
func (p *PubSubIngester) session(ctx context.Context, bo *backoff) error {
	ps := p.client.Subscribe(ctx, p.channel)
	defer ps.Close()
	pinged := false
	for {
		v, err := ps.ReceiveTimeout(ctx, p.timeout)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				// Quiet: probe the connection.
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				pinged = true
				continue
			}
			return err
		}
		pinged = false
		switch m := v.(type) {
		case *redis.Subscription:
			bo.reset()
		case *redis.Message:
			if err := p.handle(ctx, []byte(m.Payload)); err != nil && ctx.Err() == nil {
				p.log.Warn("redis pub/sub ingester: message dropped", zap.Error(err))
			}
		}
	}
}

// lifecycle is what both ingesters share: started once, in the background,
// with their own client; stopped once, waiting for the loop to end.
type lifecycle struct {
	mu      sync.Mutex
	client  redis.UniversalClient
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

// start makes the client and runs loop in the background until stop or
// until ctx ends. It fails only if called twice.
func (l *lifecycle) start(ctx context.Context, what string, newClient func() redis.UniversalClient, loop func(context.Context)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || l.done != nil {
		return errors.New("pubsub: " + what + " already started")
	}
	l.client = newClient()
	ctx, l.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	l.done = done
	go func() {
		defer close(done)
		loop(ctx)
	}()
	return nil
}

// stop ends the loop and waits for it. It returns the client for the
// caller's last words and closing, or nil when there is nothing to stop
// (never started, or stopped already).
func (l *lifecycle) stop() redis.UniversalClient {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	done, cancel, c := l.done, l.cancel, l.client
	l.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	<-done
	return c
}
