package pubsub

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestRedisLogAdapterRateLimitsPerKind(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	now := time.Unix(1000, 0)
	a := newRedisLogAdapter(func() *zap.Logger { return zap.New(core) }, 10*time.Second, func() time.Time { return now })
	for i := 0; i < 31; i++ {
		a.Printf(context.Background(), "redis: dial %s: refused (attempt %d)", "h:1", i)
	}
	a.Printf(context.Background(), "another kind %d", 1)
	if n := logs.Len(); n != 2 {
		t.Fatalf("%d lines for 32 calls of two kinds, want 2: %v", n, logs.All())
	}
	now = now.Add(11 * time.Second)
	a.Printf(context.Background(), "redis: dial %s: refused (attempt %d)", "h:1", 99)
	all := logs.All()
	last := all[len(all)-1]
	if last.Level != zapcore.WarnLevel || last.ContextMap()["suppressed"] != int64(30) {
		t.Fatalf("after the interval: %+v", last)
	}
	if got := last.ContextMap()["redis"]; got != "redis: dial h:1: refused (attempt 99)" {
		t.Fatalf("line: %v", got)
	}
}

// Once routed, what go-redis itself logs arrives through zap.
func TestRouteRedisLogsReachesZap(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	// As in a fresh process: the route (and its rate limits) of an earlier
	// run (-count) would keep that run's logger.
	routeOnce = sync.Once{}
	RouteRedisLogs(func() *zap.Logger { return zap.New(core) })
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	// go-redis logs that it truncates a sub-millisecond expiry while it
	// builds the command, whether or not Redis answers.
	_ = c.Set(context.Background(), "k", "v", time.Microsecond).Err()
	if logs.FilterMessage("go-redis: Redis unavailable or misbehaving").Len() == 0 {
		t.Fatalf("go-redis's line did not reach zap: %v", logs.All())
	}
}
