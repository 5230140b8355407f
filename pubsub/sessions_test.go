package pubsub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sessionTarget is one session cache under the conformance test.
type sessionTarget struct {
	cache SessionCache
	// advance makes d pass for the cache's entries.
	advance func(d time.Duration)
	// close closes the broker behind the cache.
	close func()
}

// TestSessionCacheConformance runs one behaviour table against the
// memory, file and Redis brokers' session caches.
func TestSessionCacheConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		clk := newFakeClock()
		b := newTestBroker(t, 0, 0, clk)
		checkSessionCache(t, sessionTarget{cache: b.Sessions(), advance: clk.Add, close: func() { b.Close() }})
	})
	t.Run("file", func(t *testing.T) {
		clk := newFakeClock()
		r := newReopening(t, FileOptions{Now: clk.Now})
		checkSessionCache(t, sessionTarget{cache: r.Sessions(), advance: clk.Add, close: func() { r.Close() }})
	})
	t.Run("redis", func(t *testing.T) {
		srv := startRedis(t)
		b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
		checkSessionCache(t, sessionTarget{cache: b.Sessions(), advance: redisAdvance(t, b.prefix, srv), close: func() { b.Close() }})
	})
}

// redisAdvance simulates time passing for the session keys of a broker
// on the given servers (every master of a cluster): Redis's clock cannot
// be faked, so each key's remaining TTL is shortened by d, and a key whose
// TTL would end is deleted. Real time passing meanwhile only shortens TTLs
// further by milliseconds, well within the margins of the table (minutes).
func redisAdvance(t testing.TB, prefix string, servers ...*redisServer) func(time.Duration) {
	return func(d time.Duration) {
		t.Helper()
		ctx := context.Background()
		for _, srv := range servers {
			keys, err := srv.Admin.Keys(ctx, prefix+":sess:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				left, err := srv.Admin.PTTL(ctx, k).Result()
				switch {
				case err != nil:
					t.Fatal(err)
				case left == -1:
					t.Fatalf("session key %s has no expiry", k)
				case left < 0: // gone meanwhile
				case left <= d:
					srv.Admin.Del(ctx, k)
				default:
					srv.Admin.PExpire(ctx, k, left-d)
				}
			}
		}
	}
}

func checkSessionCache(t *testing.T, tg sessionTarget) {
	ctx := context.Background()
	c := tg.cache
	put := func(sid string, state []byte, ttl time.Duration) {
		t.Helper()
		if err := c.Put(ctx, sid, state, ttl); err != nil {
			t.Fatalf("put %s: %v", sid, err)
		}
	}
	take := func(sid string) ([]byte, bool) {
		t.Helper()
		state, ok, err := c.Take(ctx, sid)
		if err != nil {
			t.Fatalf("take %s: %v", sid, err)
		}
		return state, ok
	}
	touch := func(sid string, ttl time.Duration) bool {
		t.Helper()
		found, err := c.Touch(ctx, sid, ttl)
		if err != nil {
			t.Fatalf("touch %s: %v", sid, err)
		}
		return found
	}
	wantTaken := func(sid string, want []byte) {
		t.Helper()
		got, ok := take(sid)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("take %s = %q, %v; want %q", sid, got, ok, want)
		}
	}
	wantGone := func(sid string) {
		t.Helper()
		if got, ok := take(sid); ok {
			t.Fatalf("take %s = %q: the entry should be gone", sid, got)
		}
	}

	t.Run("put take once", func(t *testing.T) {
		state := []byte("{\"ids\":\"u1\"}\x00\xff")
		put("a", state, time.Minute)
		state[0] = 'X' // the cache keeps its own copy
		wantTaken("a", []byte("{\"ids\":\"u1\"}\x00\xff"))
		wantGone("a")
		wantGone("never-put")
	})
	t.Run("put replaces", func(t *testing.T) {
		put("r", []byte("one"), time.Minute)
		put("r", []byte("two"), time.Minute)
		wantTaken("r", []byte("two"))
	})
	t.Run("empty state", func(t *testing.T) {
		put("e", nil, time.Minute)
		wantTaken("e", nil)
	})
	t.Run("expiry", func(t *testing.T) {
		put("x", []byte("s"), time.Minute)
		put("y", []byte("s"), 3*time.Minute)
		tg.advance(50 * time.Second)
		if !touch("y", 3*time.Minute) {
			t.Fatal("touch of a live entry found nothing")
		}
		tg.advance(20 * time.Second) // x: 70s after its minute
		if touch("x", time.Minute) {
			t.Fatal("touch recreated an expired entry")
		}
		wantGone("x")
		wantTaken("y", []byte("s"))
	})
	t.Run("touch extends", func(t *testing.T) {
		put("t", []byte("s"), time.Minute)
		tg.advance(40 * time.Second)
		if !touch("t", time.Minute) {
			t.Fatal("touch of a live entry found nothing")
		}
		tg.advance(40 * time.Second) // 80s after the put, 40s after the touch
		wantTaken("t", []byte("s"))
	})
	t.Run("touch after take", func(t *testing.T) {
		put("k", []byte("s"), time.Minute)
		wantTaken("k", []byte("s"))
		if touch("k", time.Minute) {
			t.Fatal("touch found a taken entry")
		}
		wantGone("k")
		if touch("missing", time.Minute) {
			t.Fatal("touch found an entry never put")
		}
		wantGone("missing")
	})
	t.Run("refresh replaces only a live entry", func(t *testing.T) {
		refresh := func(sid string, state []byte) bool {
			t.Helper()
			found, err := c.Refresh(ctx, sid, state, time.Minute)
			if err != nil {
				t.Fatalf("refresh %s: %v", sid, err)
			}
			return found
		}
		put("f", []byte("one"), time.Minute)
		tg.advance(40 * time.Second)
		if !refresh("f", []byte("two")) {
			t.Fatal("refresh of a live entry found nothing")
		}
		tg.advance(40 * time.Second) // 80s after the put, 40s after the refresh
		wantTaken("f", []byte("two"))
		if refresh("f", []byte("three")) {
			t.Fatal("refresh found a taken entry")
		}
		wantGone("f") // not recreated: a restore stays the only one
		if refresh("never", []byte("x")) {
			t.Fatal("refresh found an entry never put")
		}
		wantGone("never")
	})
	t.Run("bounds", func(t *testing.T) {
		big := bytes.Repeat([]byte{'z'}, MaxSessionState)
		put("max", big, time.Minute)
		wantTaken("max", big)
		for name, call := range map[string]func() error{
			"oversized state": func() error { return c.Put(ctx, "big", append(big, 'z'), time.Minute) },
			"empty sid":       func() error { return c.Put(ctx, "", nil, time.Minute) },
			"long sid":        func() error { return c.Put(ctx, string(bytes.Repeat([]byte{'s'}, MaxSessionID+1)), nil, time.Minute) },
			"zero ttl":        func() error { return c.Put(ctx, "z", nil, 0) },
			"zero ttl touch":  func() error { _, err := c.Touch(ctx, "z", 0); return err },
		} {
			if err := call(); !errors.Is(err, ErrSessionInvalid) {
				t.Errorf("%s: err %v, want ErrSessionInvalid", name, err)
			}
		}
		wantGone("big")
		wantGone("z")
	})
	t.Run("concurrent take", func(t *testing.T) {
		for round := 0; round < 10; round++ {
			sid := fmt.Sprintf("c%d", round)
			put(sid, []byte(sid), time.Minute)
			var winners atomic.Int32
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					state, ok, err := c.Take(ctx, sid)
					if err != nil {
						t.Error(err)
					}
					if ok {
						winners.Add(1)
						if string(state) != sid {
							t.Errorf("take %s = %q", sid, state)
						}
					}
				}()
			}
			wg.Wait()
			if n := winners.Load(); n != 1 {
				t.Fatalf("round %d: %d takes of one entry succeeded", round, n)
			}
		}
	})
	t.Run("closed", func(t *testing.T) {
		tg.close()
		if err := c.Put(ctx, "after", nil, time.Minute); !errors.Is(err, ErrClosed) {
			t.Fatalf("put after close: %v, want ErrClosed", err)
		}
		if _, _, err := c.Take(ctx, "after"); !errors.Is(err, ErrClosed) {
			t.Fatalf("take after close: %v, want ErrClosed", err)
		}
	})
}

// TestSessionRedisTwoNodes: two brokers on one Redis (two nodes) share the
// cache: a session put on one is taken on the other, once in the fleet.
func TestSessionRedisTwoNodes(t *testing.T) {
	srv := startRedis(t)
	a := newRedisTestBroker(t, srv, RedisOptions{Prefix: "fleet"}, nil).Sessions()
	b := newRedisTestBroker(t, srv, RedisOptions{Prefix: "fleet"}, nil).Sessions()
	other := newRedisTestBroker(t, srv, RedisOptions{Prefix: "elsewhere"}, nil).Sessions()
	ctx := context.Background()

	if err := a.Put(ctx, "s1", []byte("state"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := srv.Admin.Exists(ctx, "fleet:sess:s1").Val(); n != 1 {
		t.Fatal("the session key is not under the broker's prefix")
	}
	if left := srv.Admin.PTTL(ctx, "fleet:sess:s1").Val(); left <= 0 || left > time.Minute {
		t.Fatalf("PTTL %v after a put for a minute", left)
	}
	if _, ok, _ := other.Take(ctx, "s1"); ok {
		t.Fatal("a deployment with another prefix took the session")
	}
	if found, err := b.Touch(ctx, "s1", time.Hour); err != nil || !found {
		t.Fatalf("touch on the other node: %v, %v", found, err)
	}
	if left := srv.Admin.PTTL(ctx, "fleet:sess:s1").Val(); left <= time.Minute {
		t.Fatalf("PTTL %v after a touch for an hour", left)
	}
	checkSessionTwoNodes(t, a, b, "s1")
}

// checkSessionTwoNodes: sid, put on a, is taken on b once; then sessions
// put on a and taken concurrently on both nodes have one winner each.
func checkSessionTwoNodes(t *testing.T, a, b SessionCache, sid string) {
	t.Helper()
	ctx := context.Background()
	state, ok, err := b.Take(ctx, sid)
	if err != nil || !ok || string(state) != "state" {
		t.Fatalf("take on the other node = %q, %v, %v", state, ok, err)
	}
	if _, ok, _ := a.Take(ctx, sid); ok {
		t.Fatal("the session was restored twice")
	}
	for round := 0; round < 10; round++ {
		sid := fmt.Sprintf("c%d", round)
		if err := a.Put(ctx, sid, []byte(sid), time.Minute); err != nil {
			t.Fatal(err)
		}
		var winners atomic.Int32
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			node := a
			if g%2 == 1 {
				node = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, ok, err := node.Take(ctx, sid); err != nil {
					t.Error(err)
				} else if ok {
					winners.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d takes succeeded across two nodes", round, n)
		}
	}
}

// TestSessionRedisCluster: on a Redis Cluster the sessions spread over the
// masters (one key per command, no hash tag of the broker's), and the
// cache behaves as on one server, for two nodes alike.
func TestSessionRedisCluster(t *testing.T) {
	tp := startTopology(t, "cluster")
	prefix := fmt.Sprintf("sc%d", redisPrefixSeq.Add(1))
	a := tp.broker(t, 0, RedisOptions{Prefix: prefix})
	b := tp.broker(t, 1, RedisOptions{Prefix: prefix})
	ctx := context.Background()

	masters := map[*redisServer]bool{}
	for i := 0; i < 20; i++ {
		sid := fmt.Sprintf("spread%d", i)
		if err := a.Sessions().Put(ctx, sid, []byte("state"), time.Minute); err != nil {
			t.Fatal(err)
		}
		srv := tp.cluster.NodeOf(prefix + ":sess:" + sid)
		if srv.Admin.Exists(ctx, prefix+":sess:"+sid).Val() != 1 {
			t.Fatalf("session %s is not on the master of its slot", sid)
		}
		masters[srv] = true
	}
	if len(masters) < 2 {
		t.Fatalf("20 sessions on %d master(s): not spread over the slots", len(masters))
	}
	checkSessionTwoNodes(t, a.Sessions(), b.Sessions(), "spread0")
	checkSessionCache(t, sessionTarget{cache: b.Sessions(), advance: redisAdvance(t, prefix, tp.cluster.Nodes...),
		close: func() { b.Close() }})
}

// TestSessionRedisExpiresForReal: Redis itself removes an entry after its
// PX time (the conformance test shortens TTLs by hand). No timing is
// asserted: the key is polled until gone, with a generous bound.
func TestSessionRedisExpiresForReal(t *testing.T) {
	srv := startRedis(t)
	b := newRedisTestBroker(t, srv, RedisOptions{}, nil)
	ctx := context.Background()
	if err := b.Sessions().Put(ctx, "short", []byte("s"), 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the session key to expire", func() bool {
		return srv.Admin.Exists(ctx, b.prefix+":sess:short").Val() == 0
	})
	if _, ok, err := b.Sessions().Take(ctx, "short"); ok || err != nil {
		t.Fatalf("take after expiry: %v, %v", ok, err)
	}
}

// TestSessionFileSurvivesRestart: entries, takes, touches and expiries
// outlive the process, and the sweep removes expired entries from the
// store too.
func TestSessionFileSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	r := newReopening(t, FileOptions{Now: clk.Now})
	for _, sid := range []string{"kept", "taken", "lapsed", "swept", "touched"} {
		if err := r.Sessions().Put(ctx, sid, []byte("state of "+sid), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := r.Sessions().Take(ctx, "taken"); !ok {
		t.Fatal("take before the restart failed")
	}
	if found, _ := r.Sessions().Touch(ctx, "touched", 10*time.Minute); !found {
		t.Fatal("touch before the restart found nothing")
	}
	wantTaken := func(sid string) {
		t.Helper()
		if got, ok, err := r.Sessions().Take(ctx, sid); err != nil || !ok || string(got) != "state of "+sid {
			t.Fatalf("take %s after a restart = %q, %v, %v", sid, got, ok, err)
		}
	}
	wantGone := func(sid string) {
		t.Helper()
		if _, ok, err := r.Sessions().Take(ctx, sid); ok || err != nil {
			t.Fatalf("take %s after a restart: %v, %v; want nothing", sid, ok, err)
		}
	}

	r.reopen()
	wantTaken("kept")
	wantGone("taken")

	r.reopen()
	clk.Add(2 * time.Minute) // past the minute of the entries not touched
	if found, _ := r.Sessions().Touch(ctx, "lapsed", time.Hour); found {
		t.Fatal("touch recreated an entry that expired across the restart")
	}
	wantTaken("touched")

	// "swept" expired a minute ago; the sweep removes it from the table
	// and the store: with the clock set back, a copy left on disk would be
	// live again after a restart.
	r.sweep()
	if n := sessionCount(&r.sessions); n != 0 {
		t.Fatalf("%d entries after the sweep, want 0", n)
	}
	r.reopen()
	clk.Add(-2 * time.Minute)
	if n := sessionCount(&r.sessions); n != 0 {
		t.Fatalf("%d entries read from the store after the sweep, want 0", n)
	}
	wantGone("swept")
	wantGone("lapsed")
}

// TestSessionFileOpenWritesNothing: opening and closing a store with
// sessions in it, without using them, changes nothing on disk.
func TestSessionFileOpenWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	clk := newFakeClock()
	r := newReopening(t, FileOptions{Path: path, Now: clk.Now})
	if err := r.Sessions().Put(context.Background(), "s", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, path)
	clk.Add(time.Hour) // the entry is expired: only a used store removes it
	b, err := NewFileBroker(FileOptions{Path: path, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(nil)
	b.sweep()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if after := dirState(t, path); !maps2Equal(before, after) {
		t.Fatal("an unused broker changed the store")
	}
}

// TestSessionMemorySweep: the janitor's pass removes expired entries and
// keeps live ones.
func TestSessionMemorySweep(t *testing.T) {
	clk := newFakeClock()
	b := newTestBroker(t, 0, 0, clk)
	ctx := context.Background()
	b.Sessions().Put(ctx, "short", nil, time.Minute)
	b.Sessions().Put(ctx, "long", nil, time.Hour)
	clk.Add(2 * time.Minute)
	b.sweep()
	if n := sessionCount(&b.sessions); n != 1 {
		t.Fatalf("%d entries after the sweep, want 1", n)
	}
	if _, ok, _ := b.Sessions().Take(ctx, "long"); !ok {
		t.Fatal("the sweep removed a live entry")
	}
}

// TestSessionHubAccess: the hub hands out its broker's cache, and nil for
// a broker without one.
func TestSessionHubAccess(t *testing.T) {
	b := NewMemoryBroker(MemoryOptions{})
	defer b.Close()
	if NewHub(b, HubOptions{}).Sessions() != b.Sessions() {
		t.Fatal("the hub does not hand out the broker's session cache")
	}
	plain := struct{ Broker }{b} // only the Broker methods
	if s := NewHub(plain, HubOptions{}).Sessions(); s != nil {
		t.Fatalf("a broker without a cache gave %T", s)
	}
}

// sessionCount is the number of entries in a table, expired ones included.
func sessionCount(t *sessionTable) (n int) {
	for i := range t.shards {
		t.shards[i].mu.Lock()
		n += len(t.shards[i].m)
		t.shards[i].mu.Unlock()
	}
	return n
}
