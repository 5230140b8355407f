package anycablesse

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/cableway/caddy-anycable-sse/cable"
	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/internal/redact"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// engines holds the state that must outlive one handler instance: the hub
// (with its broker, streams, history and epochs) and the open connections.
// Caddy provisions a new config before it cleans up the old one, so an
// unchanged key goes 1 -> 2 -> 1 references and the engine survives reloads.
var engines = caddy.NewUsagePool()

// engine is one hub and the connections it serves. Building one (in
// Provision) does no I/O and starts no goroutine; start, run when a config
// that uses it is started (lifecycle.go), does both, once.
type engine struct {
	registry *conn.Registry
	replays  *cable.Replays
	memory   *pubsub.MemoryBroker // set for the in-memory broker
	file     *pubsub.FileBroker   // set for the file broker, by start
	redis    *pubsub.RedisBroker  // set for the Redis broker
	metrics  *promMetrics
	// closeDelay is the stream_close_delay of the config that started
	// last: on a reload the new config's value decides what happens to the
	// streams of the old one.
	closeDelay atomic.Int64

	// openFile opens the file broker's store (I/O, takes its lock): at
	// start, not in Provision, so that caddy validate and a rejected
	// reload neither wait for nor hold the lock.
	openFile func() (*pubsub.FileBroker, error)

	lifeMu    sync.Mutex
	destroyed bool
	// started is set once hub and writers are, and never reset: readers
	// that are not ordered after start (metrics collectors) check it first.
	started atomic.Bool
	hub     *pubsub.Hub
	writers *conn.Pool
}

// start starts the engine: the broker (bus readers, janitor, file writer)
// with its hub, and the writer pool. It is idempotent, so an engine that a
// reload shares with the running config is simply already started.
func (e *engine) start() error {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if e.started.Load() {
		return nil
	}
	if e.destroyed {
		return pubsub.ErrClosed
	}
	var b pubsub.Broker
	switch {
	case e.memory != nil:
		b = e.memory
	case e.redis != nil:
		b = e.redis
	case e.openFile != nil:
		fb, err := e.openFile()
		if err != nil {
			return err
		}
		e.file, b = fb, fb
	}
	hub := pubsub.NewHub(b, pubsub.HubOptions{})
	if err := hub.Start(); err != nil {
		_ = b.Close()
		return err
	}
	if e.redis != nil {
		e.redis.OnCommand(e.runCommand)
	}
	e.hub = hub
	e.writers = conn.NewPool(writerCount())
	e.writers.SetLogger(caddy.Log().Named("http.handlers.anycable_sse"))
	e.started.Store(true)
	return nil
}

// Destruct implements caddy.Destructor: the last handler using the engine
// is gone. Its connections are told to leave (and resume on the new
// config); the reload does not wait for them: the writers, stopped later,
// send what they can meanwhile. Only process exit waits (App.Stop). An
// engine that never started (caddy validate, a rejected reload) has
// nothing running: its broker is closed, which for one that never started
// does no I/O.
func (e *engine) Destruct() error {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	e.destroyed = true
	e.registry.Shutdown(0)
	if !e.started.Load() {
		switch {
		case e.memory != nil:
			return e.memory.Close()
		case e.redis != nil:
			return e.redis.Close()
		}
		return nil
	}
	err := e.hub.Close()
	// Let the writers send the final disconnects before stopping them.
	time.AfterFunc(2*time.Second, e.writers.Close)
	return err
}

// shutdownWait bounds how long process exit waits for open streams to get
// their final disconnect.
const shutdownWait = 5 * time.Second

// writerCount sizes the pool that writes taken-over connections: writes
// never block for long, so a few goroutines per core are plenty.
func writerCount() int {
	return 4 * runtime.GOMAXPROCS(0)
}

// engineKey identifies a broker: the key must not include tunables, or a
// changed tunable would build a second broker beside the first on reload.
// Handlers with the same key share streams, history and connections; the
// prefix keeps sites apart (memory brokers included). Without a prefix, the
// memory engine is per site (Handler.brokerKey, siteScope).
func (b *BrokerConfig) engineKey(url string) string {
	switch b.Type {
	case "", "memory":
		return "memory|" + b.Prefix
	case "file":
		// A second prefix on the same store gets its own key, and is
		// refused when it opens the store.
		path, _ := b.filePath()
		return "file|" + b.filePrefix() + "|" + path
	default:
		return fmt.Sprintf("%s|%s|%s", b.Type, url, b.Prefix)
	}
}

// logName is the broker as logs may show it: no password. url is the
// resolved broker URL (Handler.resolved).
func (b *BrokerConfig) logName(url string) string {
	switch b.Type {
	case "", "memory":
		if b.Prefix != "" {
			return "memory (prefix " + b.Prefix + ")"
		}
		return "memory"
	case "file":
		path, _ := b.filePath()
		return fmt.Sprintf("file %s (prefix %s)", path, b.filePrefix())
	default:
		return fmt.Sprintf("%s %s (prefix %s)", b.Type, redact.URL(url), b.Prefix)
	}
}

// memoryNow is the memory broker's clock; tests set it to a fake clock
// before loading a config (nil is time.Now).
var memoryNow func() time.Time

// loadEngine returns the engine for the handler's broker, building it on
// first use (no I/O, no goroutine: see engine.start).
func (h *Handler) loadEngine() (*engine, error) {
	limit, ttl := h.HistoryLimit, time.Duration(h.HistoryTTL)
	val, _, err := engines.LoadOrNew(h.brokerKey(), func() (caddy.Destructor, error) {
		e := &engine{registry: conn.NewRegistry(), replays: cable.NewReplays(), metrics: initMetrics()}
		switch h.Broker.Type {
		case "", "memory":
			e.memory = pubsub.NewMemoryBroker(pubsub.MemoryOptions{HistoryLimit: limit, HistoryTTL: ttl, Now: memoryNow})
		case "file":
			open, err := fileOpener(h.Broker, limit, ttl)
			if err != nil {
				return nil, err
			}
			e.openFile = open
		case "redis":
			rb, err := pubsub.NewRedisBroker(pubsub.RedisOptions{
				URL: h.urls.broker, Prefix: h.Broker.Prefix, HistoryLimit: limit, HistoryTTL: ttl,
				// Pooled objects outlive this config: log through Caddy's
				// current default logger, not this config's.
				Logger: caddy.Log().Named("http.handlers.anycable_sse.redis"),
			})
			if err != nil {
				return nil, err
			}
			e.redis = rb
		default:
			return nil, fmt.Errorf("unsupported broker %q", h.Broker.Type)
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*engine), nil
}

// applyLimits pushes the handler's history settings into the engine. It
// runs when the config starts (never in Provision), so a reload rejected
// before its start never changes the running engine; one rejected after
// (another app failed to start) puts the running config's back (App.Stop).
func (h *Handler) applyLimits() {
	h.engine.closeDelay.Store(int64(h.StreamCloseDelay))
	limit, ttl := h.HistoryLimit, time.Duration(h.HistoryTTL)
	if h.engine.memory != nil {
		h.engine.memory.SetLimits(limit, ttl)
	}
	if h.engine.redis != nil {
		h.engine.redis.SetLimits(limit, ttl)
	}
	if f := h.engine.file; f != nil {
		f.SetLimits(limit, ttl)
		f.SetSyncInterval(time.Duration(h.Broker.SyncInterval))
		// The config runs (not a caddy validate): background writes may go
		// to the store.
		f.Activate()
	}
	h.engine.hub.SetLimits(h.MaxLiveStreams, h.MaxSubscriptions)
}

// command carries out a remote command (AnyCable's disconnect) from a
// broadcast. With the Redis broker it goes to every node, this one included,
// because the connections it names may be anywhere in the fleet.
func (e *engine) command(ctx context.Context, raw []byte, cmd *protocol.RemoteCommand) error {
	if e.redis == nil {
		e.registry.DisconnectIdentifiers(cmd.Identifier, cmd.Reconnect)
		return nil
	}
	if err := e.redis.PublishCommand(ctx, raw); err != nil {
		// The fleet could not be told; this node at least acts on it.
		e.registry.DisconnectIdentifiers(cmd.Identifier, cmd.Reconnect)
		return err
	}
	return nil
}

// runCommand acts on a command another node (or this one) published.
func (e *engine) runCommand(payload []byte) {
	_, cmd, err := protocol.ParseBroadcast(payload, protocol.BroadcastLimits{MaxStreamLen: defaultMaxStreamName})
	if err != nil || cmd == nil {
		return
	}
	e.registry.DisconnectIdentifiers(cmd.Identifier, cmd.Reconnect)
}
