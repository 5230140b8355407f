package anycablesse

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Broadcast adapters: how anycable-rails' broadcasts reach the hub.
const (
	adapterHTTP   = "http"   // POST broadcast_path (broadcast.go)
	adapterRedisX = "redisx" // the Redis Stream __anycable__ through a consumer group
	adapterRedis  = "redis"  // the legacy Redis pub/sub channel __anycable__
)

// ingesters are the Redis readers of the redisx and redis adapters. Like
// engines they outlive handler instances; they start with the config
// (Handler.start), never in `caddy validate`, so validating a config never
// consumes broadcasts.
var ingesters = caddy.NewUsagePool()

type ingester interface {
	Start(ctx context.Context) error
	Stop() error
}

// pooledIngester starts its ingester once, however many handlers and
// configs share it.
type pooledIngester struct {
	ingester
	once *sync.Once
}

func (p pooledIngester) start() error {
	var err error
	p.once.Do(func() { err = p.Start(context.Background()) })
	return err
}

func (p pooledIngester) Destruct() error { return p.Stop() }

// ingesterKeys lists what this handler took from the pool.
func (h *Handler) loadIngesters() error {
	for _, a := range h.BroadcastAdapters {
		var key string
		var build func() (ingester, error)
		switch a {
		case adapterHTTP:
			continue
		case adapterRedisX:
			key = fmt.Sprintf("redisx|%s|%s|%s", h.urls.redis, h.RedisxStream, h.engineKey)
			build = func() (ingester, error) {
				return pubsub.NewStreamIngester(pubsub.StreamIngesterOptions{
					URL: h.urls.redis, Stream: h.RedisxStream, Logger: caddy.Log().Named("http.handlers.anycable_sse.redisx"),
				}, h.engine.ingest)
			}
		case adapterRedis:
			key = fmt.Sprintf("redis|%s|%s|%s", h.urls.redis, h.RedisChannel, h.engineKey)
			build = func() (ingester, error) {
				return pubsub.NewPubSubIngester(pubsub.PubSubIngesterOptions{
					URL: h.urls.redis, Channel: h.RedisChannel, Logger: caddy.Log().Named("http.handlers.anycable_sse.redis_pubsub"),
				}, h.engine.ingest)
			}
		}
		val, _, err := ingesters.LoadOrNew(key, func() (caddy.Destructor, error) {
			ing, err := build()
			if err != nil {
				return nil, err
			}
			return pooledIngester{ingester: ing, once: new(sync.Once)}, nil
		})
		if err != nil {
			return fmt.Errorf("broadcast_adapters %s: %w", a, err)
		}
		h.ingesterKeys = append(h.ingesterKeys, key)
		h.ingesters = append(h.ingesters, val.(pooledIngester))
	}
	return nil
}

// started runs when the config starts (Handler.start, never in `caddy
// validate`): the history settings go into the engine and the Redis
// adapters start (once; an ingester kept across a reload just goes on).
func (h *Handler) started() {
	h.applyLimits()
	warnSharedListeners(h.logger)
	for _, ing := range h.ingesters {
		if err := ing.start(); err != nil {
			h.logger.Error("starting a broadcast adapter", zap.Error(err))
		}
	}
}

func (h *Handler) releaseIngesters() {
	for _, key := range h.ingesterKeys {
		_, _ = ingesters.Delete(key)
	}
}

// ingest publishes one payload that a Redis adapter read. A malformed
// payload is an error the ingester logs and drops; a broker that cannot
// store it returns an error wrapping pubsub.ErrUnavailable, which leaves a
// redisx entry pending for a retry.
func (e *engine) ingest(ctx context.Context, payload []byte) error {
	pubs, cmd, err := protocol.ParseBroadcast(payload, protocol.BroadcastLimits{MaxStreamLen: defaultMaxStreamName})
	if err != nil {
		return err
	}
	if cmd != nil {
		return e.command(ctx, payload, cmd)
	}
	// A retried redisx entry must not publish twice: each publication of
	// the entry carries its own idempotency key.
	key := pubsub.IdempotencyKey(ctx)
	for i, p := range pubs {
		pctx := ctx
		if key != "" && len(pubs) > 1 {
			pctx = pubsub.WithIdempotencyKey(ctx, fmt.Sprintf("%s/%d", key, i))
		}
		if _, err := e.hub.Publish(pctx, toPublication(p)); err != nil {
			if e.metrics != nil {
				e.metrics.brokerErrors.WithLabelValues("publish").Inc()
			}
			if !errors.Is(err, pubsub.ErrUnavailable) && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%w: %v", pubsub.ErrUnavailable, err)
			}
			return err
		}
		e.metrics.broadcasts.Inc()
	}
	return nil
}

// errRedisAdapterWithRedisBroker: every node receives every pub/sub
// message; with a shared broker each node would store it again.
var errRedisAdapterWithRedisBroker = errors.New("broadcast_adapters redis (pub/sub) reaches every node, so with broker redis each message would be stored once per node: use redisx")

// checkAdapters checks an adapter list on its own.
func checkAdapters(list []string) error {
	seen := map[string]bool{}
	for _, a := range list {
		switch a {
		case adapterHTTP, adapterRedisX, adapterRedis:
		default:
			return fmt.Errorf("broadcast_adapters: unknown adapter %q (known: http, redisx, redis)", a)
		}
		if seen[a] {
			return fmt.Errorf("broadcast_adapters: %q listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

// checkAdaptersWithBroker checks the adapter list against the broker.
func (h *Handler) checkAdaptersWithBroker() error {
	if err := checkAdapters(h.BroadcastAdapters); err != nil {
		return err
	}
	return checkAdapterBroker(h.BroadcastAdapters, h.Broker.Type)
}

// checkAdapterBroker is the one check of adapters against a broker type,
// shared by Validate and the Caddyfile parser (which reports it at the
// directive's line).
func checkAdapterBroker(list []string, brokerType string) error {
	if contains(list, adapterRedis) && brokerType == "redis" {
		return errRedisAdapterWithRedisBroker
	}
	return nil
}

// warnAdapters logs the adapter combinations that work but surprise.
func (h *Handler) warnAdapters() {
	if contains(h.BroadcastAdapters, adapterRedisX) && h.Broker.Type != "redis" {
		h.logger.Warn("broadcast_adapters redisx with a one-node broker: each node takes a share of the broadcasts, "+
			"so with several nodes every client misses the others' share; use broker redis beyond one node",
			zap.String("broker", h.Broker.logName(h.resolved().broker)))
	}
}
