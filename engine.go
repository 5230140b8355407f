package anycablesse

import (
	"fmt"
	"runtime"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/sse"
)

// engines holds the state that must outlive one handler instance: the hub
// (with its broker, streams, history and epochs) and the open connections.
// Caddy provisions a new config before it cleans up the old one, so an
// unchanged key goes 1 -> 2 -> 1 references and the engine survives reloads.
var engines = caddy.NewUsagePool()

// engine is one hub and the connections it serves.
type engine struct {
	hub      *pubsub.Hub
	registry *sse.Registry
	writers  *sse.Writers
	memory   *pubsub.MemoryBroker // set for the in-memory broker
	redis    *pubsub.RedisBroker  // set for the Redis broker
	metrics  *promMetrics
}

// Destruct implements caddy.Destructor: the last handler using the engine
// is gone.
func (e *engine) Destruct() error {
	e.registry.Shutdown(shutdownWait)
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
func (b *BrokerConfig) engineKey() string {
	switch b.Type {
	case "", "memory":
		return "memory"
	default:
		return fmt.Sprintf("%s|%s|%s", b.Type, b.URL, b.Prefix)
	}
}

// loadEngine returns the engine for the handler's broker, building it on
// first use, and pushes the handler's tunables into it.
func (h *Handler) loadEngine() (*engine, error) {
	limit, ttl := h.HistoryLimit, time.Duration(h.HistoryTTL)
	val, _, err := engines.LoadOrNew(h.Broker.engineKey(), func() (caddy.Destructor, error) {
		switch h.Broker.Type {
		case "", "memory":
			mb := pubsub.NewMemoryBroker(pubsub.MemoryOptions{HistoryLimit: limit, HistoryTTL: ttl})
			hub := pubsub.NewHub(mb, pubsub.HubOptions{})
			if err := hub.Start(); err != nil {
				return nil, err
			}
			return &engine{hub: hub, registry: sse.NewRegistry(), writers: sse.NewWriters(writerCount()), memory: mb}, nil
		case "redis":
			rb, err := pubsub.NewRedisBroker(pubsub.RedisOptions{
				URL: h.Broker.URL, Prefix: h.Broker.Prefix, HistoryLimit: limit, HistoryTTL: ttl,
				Logger: h.logger.Named("redis"),
			})
			if err != nil {
				return nil, err
			}
			hub := pubsub.NewHub(rb, pubsub.HubOptions{})
			if err := hub.Start(); err != nil {
				return nil, err
			}
			return &engine{hub: hub, registry: sse.NewRegistry(), writers: sse.NewWriters(writerCount()), redis: rb}, nil
		default:
			return nil, fmt.Errorf("unsupported broker %q", h.Broker.Type)
		}
	})
	if err != nil {
		return nil, err
	}
	e := val.(*engine)
	e.metrics = h.metrics
	if e.memory != nil {
		e.memory.SetLimits(limit, ttl)
	}
	if e.redis != nil {
		e.redis.SetLimits(limit, ttl)
	}
	return e, nil
}
