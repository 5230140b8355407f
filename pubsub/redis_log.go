package pubsub

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// go-redis writes its own plain-text lines (a failed dial, a bad pub/sub
// connection) to stderr through a process-wide logger; inside Caddy they
// would land between the JSON log lines, one per retry. RouteRedisLogs
// sends them through zap instead, at WARN, at most one line per message
// kind per interval, with the number of lines suppressed meanwhile.

// RedisLogInterval is how often one kind of go-redis line is logged.
const RedisLogInterval = 10 * time.Second

var routeOnce sync.Once

// RouteRedisLogs installs the zap adapter as go-redis's logger, once per
// process. logger is called for every line, so that lines go to whatever
// logger is current (Caddy replaces its default logger on reloads).
func RouteRedisLogs(logger func() *zap.Logger) {
	routeOnce.Do(func() {
		redis.SetLogger(newRedisLogAdapter(logger, RedisLogInterval, time.Now))
	})
}

// redisLogAdapter implements go-redis's logging interface.
type redisLogAdapter struct {
	logger   func() *zap.Logger
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	kinds map[string]*logKind
}

type logKind struct {
	last       time.Time
	suppressed int
}

func newRedisLogAdapter(logger func() *zap.Logger, interval time.Duration, now func() time.Time) *redisLogAdapter {
	return &redisLogAdapter{logger: logger, interval: interval, now: now, kinds: make(map[string]*logKind)}
}

// Printf logs one go-redis line, rate-limited per format string (the kind
// of message; the arguments vary with addresses and attempts).
func (a *redisLogAdapter) Printf(_ context.Context, format string, v ...any) {
	now := a.now()
	a.mu.Lock()
	k := a.kinds[format]
	if k == nil {
		if len(a.kinds) > 256 { // formats are constants; bound it anyway
			a.kinds = make(map[string]*logKind)
		}
		k = &logKind{}
		a.kinds[format] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < a.interval {
		k.suppressed++
		a.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	a.mu.Unlock()

	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	fields := []zap.Field{zap.String("redis", redactURL(msg))}
	if suppressed > 0 {
		fields = append(fields, zap.Int("suppressed", suppressed))
	}
	a.logger().Warn("go-redis: Redis unavailable or misbehaving", fields...)
}
