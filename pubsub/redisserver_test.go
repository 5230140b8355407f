package pubsub

import (
	"context"
	"testing"
	"time"

	"github.com/cableway/caddy-anycable-sse/internal/redistest"
)

func init() { redistest.Quiet() }

type redisServer = redistest.Server

func startRedis(t testing.TB) *redisServer { return redistest.Start(t) }

func TestRedisServerHelper(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	if err := s.Admin.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if n := s.Admin.Exists(ctx, "k").Val(); n != 0 {
		t.Fatalf("key survived a restart without persistence")
	}
	s.Freeze()
	fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := s.Admin.Ping(fctx).Err()
	cancel()
	if err == nil {
		t.Fatal("PING answered by a frozen server")
	}
	s.Thaw()
	if err := s.Admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after thaw: %v", err)
	}
	s.Stop()
	if err := s.Admin.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered by a stopped server")
	}
	s.Start()
	if err := s.Admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after start: %v", err)
	}
}
