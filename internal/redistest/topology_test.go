package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestStartCluster(t *testing.T) {
	Quiet()
	c := StartCluster(t, 3)
	ctx := context.Background()
	// Keys of different slots land on different masters, and the cluster
	// client follows them.
	seen := map[string]bool{}
	for _, k := range []string{"{a}", "{b}", "{c}", "{d}", "{e}", "{f}", "{g}"} {
		if err := c.Admin.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		n := c.NodeOf(k)
		if n.Admin.Exists(ctx, k).Val() != 1 {
			t.Fatalf("%s is not on %s, the node NodeOf names", k, n.Addr())
		}
		seen[n.Addr()] = true
	}
	if len(seen) != 3 {
		t.Fatalf("7 keys on %d masters", len(seen))
	}
	// MoveSlot moves a slot and its keys; the cluster client follows.
	to := c.Nodes[0]
	if c.NodeOf("{a}") == to {
		to = c.Nodes[1]
	}
	c.MoveSlot("{a}", to)
	if c.NodeOf("{a}") != to || to.Admin.Exists(ctx, "{a}").Val() != 1 {
		t.Fatalf("{a} did not move to %s", to.Addr())
	}
	if v, err := c.Admin.Get(ctx, "{a}").Result(); err != nil || v != "v" {
		t.Fatalf("GET {a} after the move: %q %v", v, err)
	}
	c.FlushAll()
	if n, _ := c.Admin.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("DBSIZE %d after FlushAll", n)
	}
}

func TestStartSentinel(t *testing.T) {
	Quiet()
	s := StartSentinel(t)
	ctx := context.Background()
	fc := redisFailover(s)
	defer fc.Close()
	if err := fc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v := s.Admin.Get(ctx, "k").Val(); v != "v" {
		t.Fatalf("the failover client wrote elsewhere: %q on the master", v)
	}
}

func redisFailover(s *Sentinel) *redis.Client {
	return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster,
		SentinelAddrs: []string{s.Sentinel.Addr()}, DisableIdentity: true})
}
