package pubsub

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var benchPayload = strings.Repeat("x", 200)

// chanSub signals every delivery on a channel.
type chanSub struct{ ch chan Message }

func (c *chanSub) Deliver(_ *Subscription, d *Delivery) {
	select {
	case c.ch <- d.Msg:
	default:
	}
}
func (c *chanSub) Reset(*Subscription, string) {}
func (c *chanSub) SocketID() string            { return "" }

func benchBroker(b *testing.B, srv *redisServer, prefix string) *RedisBroker {
	b.Helper()
	br := newRedisTestBroker(b, srv, RedisOptions{Prefix: prefix}, nil)
	return br
}

// BenchmarkRedisPublish is the publish round trip (one script per publish).
func BenchmarkRedisPublish(b *testing.B) {
	srv := startRedis(b)
	for _, streams := range []int{1, 1000} {
		b.Run(fmt.Sprintf("sequential/streams=%d", streams), func(b *testing.B) {
			br := benchBroker(b, srv, fmt.Sprintf("bp%d", redisPrefixSeq.Add(1)))
			br.Start(nil)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := br.Publish(ctx, Publication{Stream: "s" + strconv.Itoa(i%streams), Data: benchPayload}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parallel/streams=1000", func(b *testing.B) {
		br := benchBroker(b, srv, fmt.Sprintf("bp%d", redisPrefixSeq.Add(1)))
		br.Start(nil)
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for pb.Next() {
				if _, err := br.Publish(context.Background(), Publication{Stream: "s" + strconv.Itoa(rng.IntN(1000)), Data: benchPayload}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("idempotent", func(b *testing.B) {
		br := benchBroker(b, srv, fmt.Sprintf("bp%d", redisPrefixSeq.Add(1)))
		br.Start(nil)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ctx := WithIdempotencyKey(context.Background(), strconv.Itoa(i))
			if _, err := br.Publish(ctx, Publication{Stream: "s" + strconv.Itoa(i%1000), Data: benchPayload}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRedisCrossNodeLatency: publish on node A, delivery to a
// subscriber on node B, one message at a time.
func BenchmarkRedisCrossNodeLatency(b *testing.B) {
	srv := startRedis(b)
	prefix := fmt.Sprintf("lat%d", redisPrefixSeq.Add(1))
	ha := newRedisHub(b, benchBroker(b, srv, prefix), HubOptions{})
	hb := newRedisHub(b, benchBroker(b, srv, prefix), HubOptions{})
	sub := &chanSub{ch: make(chan Message, 1)}
	s, _, err := hb.Join(context.Background(), sub, "id", "lat", HistoryRequest{})
	if err != nil {
		b.Fatal(err)
	}
	s.Release()
	defer hb.Leave(s)
	lat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		m, err := ha.Publish(ctx, Publication{Stream: "lat", Data: benchPayload})
		if err != nil {
			b.Fatal(err)
		}
		for got := range sub.ch {
			if got.Offset == m.Offset {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(q(0.999), "p99.9-µs")
}

// redisInfo returns the fields of an INFO section.
func redisInfo(b *testing.B, srv *redisServer, section string) map[string]string {
	b.Helper()
	s, err := srv.Admin.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			out[k] = v
		}
	}
	return out
}

// commandCalls parses INFO commandstats into calls per command.
func commandCalls(b *testing.B, srv *redisServer) map[string]int64 {
	out := map[string]int64{}
	for k, v := range redisInfo(b, srv, "commandstats") {
		if !strings.HasPrefix(k, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(f, "calls="); ok {
				out[strings.TrimPrefix(k, "cmdstat_")], _ = strconv.ParseInt(n, 10, 64)
			}
		}
	}
	return out
}

// BenchmarkRedisCommandsPerBroadcast: Redis commands and bytes per
// broadcast with two nodes reading the bus, 200-byte payloads, 100 streams.
func BenchmarkRedisCommandsPerBroadcast(b *testing.B) {
	srv := startRedis(b)
	prefix := fmt.Sprintf("cost%d", redisPrefixSeq.Add(1))
	hubs := []*Hub{newRedisHub(b, benchBroker(b, srv, prefix), HubOptions{}), newRedisHub(b, benchBroker(b, srv, prefix), HubOptions{})}
	var subs []*chanSub
	for _, h := range hubs {
		sub := &chanSub{ch: make(chan Message, 1)}
		subs = append(subs, sub)
		for s := 0; s < 100; s++ {
			x, _, err := h.Join(context.Background(), sub, "id", "s"+strconv.Itoa(s), HistoryRequest{})
			if err != nil {
				b.Fatal(err)
			}
			x.Release()
		}
	}
	srv.Do("CONFIG", "RESETSTAT")
	before := commandCalls(b, srv)
	stats := redisInfo(b, srv, "stats")
	in0, _ := strconv.ParseInt(stats["total_net_input_bytes"], 10, 64)
	out0, _ := strconv.ParseInt(stats["total_net_output_bytes"], 10, 64)
	cpu0 := redisCPU(b, srv)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := hubs[0].Publish(ctx, Publication{Stream: "s" + strconv.Itoa(i%100), Data: benchPayload})
		if err != nil {
			b.Fatal(err)
		}
		for _, sub := range subs {
			for got := range sub.ch {
				if got.Offset == m.Offset && got.Stream == m.Stream {
					break
				}
			}
		}
	}
	b.StopTimer()
	after := commandCalls(b, srv)
	stats = redisInfo(b, srv, "stats")
	in1, _ := strconv.ParseInt(stats["total_net_input_bytes"], 10, 64)
	out1, _ := strconv.ParseInt(stats["total_net_output_bytes"], 10, 64)
	// Commands the scripts run inside Redis, as opposed to commands sent.
	inner := map[string]bool{"hget": true, "hset": true, "hincrby": true, "expire": true, "del": true,
		"xadd": true, "time": true, "get": true, "set": true}
	var total, sent int64
	var parts []string
	for k, v := range after {
		if d := v - before[k]; d > 0 && k != "info" && k != "config|resetstat" {
			total += d
			if !inner[k] {
				sent += d
			}
			parts = append(parts, fmt.Sprintf("%s=%.2f", k, float64(d)/float64(b.N)))
		}
	}
	slices.Sort(parts)
	b.ReportMetric(float64(sent)/float64(b.N), "sent-cmds/broadcast")
	b.ReportMetric(float64(total)/float64(b.N), "all-cmds/broadcast")
	b.ReportMetric(float64(redisCPU(b, srv)-cpu0)/float64(b.N), "redis-cpu-µs/broadcast")
	b.ReportMetric(float64(in1-in0)/float64(b.N), "in-B/broadcast")
	b.ReportMetric(float64(out1-out0)/float64(b.N), "out-B/broadcast")
	b.Logf("N=%d, per broadcast (including each node's script calls, two bus readers): %s", b.N, strings.Join(parts, " "))
}

// redisCPU is the server's CPU time in microseconds (INFO cpu).
func redisCPU(b *testing.B, srv *redisServer) int64 {
	info := redisInfo(b, srv, "cpu")
	u, _ := strconv.ParseFloat(info["used_cpu_user"], 64)
	s, _ := strconv.ParseFloat(info["used_cpu_sys"], 64)
	return int64((u + s) * 1e6)
}

// BenchmarkRedisBusReaderLayout compares the two ways a node can tail 16
// bus partitions: one goroutine with one XREAD BLOCK per partition (what
// the broker does), or one XREAD BLOCK over all 16 keys. Messages go to
// random partitions one at a time; the metrics are Redis CPU per message and
// the publish-to-receive latency.
func BenchmarkRedisBusReaderLayout(b *testing.B) {
	srv := startRedis(b)
	const parts = 16
	for _, layout := range []string{"per-partition", "single-xread"} {
		b.Run(layout, func(b *testing.B) {
			prefix := fmt.Sprintf("lay%d", redisPrefixSeq.Add(1))
			keys := make([]string, parts)
			for i := range keys {
				keys[i] = prefix + ":{" + strconv.Itoa(i) + "}:bus"
			}
			cfg, _ := parseRedisURL(srv.URL())
			rd := cfg.client(clientTuning{name: "bench-rd", retries: -1, timeout: 5 * time.Second, pool: parts + 2})
			pubc := cfg.client(clientTuning{name: "bench-pub", retries: -1, timeout: 5 * time.Second})
			defer rd.Close()
			defer pubc.Close()
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan string, 1024)
			done := make(chan struct{})
			read := func(streams []string) {
				cursors := make([]string, len(streams))
				for i := range cursors {
					cursors[i] = "0-0"
				}
				for ctx.Err() == nil {
					res, err := rd.XRead(ctx, &redis.XReadArgs{Streams: append(slices.Clone(streams), cursors...), Count: 100, Block: time.Second}).Result()
					if err != nil {
						continue
					}
					for _, st := range res {
						i := slices.Index(streams, st.Stream)
						for _, m := range st.Messages {
							cursors[i] = m.ID
							got <- m.ID
						}
					}
				}
			}
			n := 0
			if layout == "per-partition" {
				for _, k := range keys {
					n++
					go func() { read([]string{k}); done <- struct{}{} }()
				}
			} else {
				n++
				go func() { read(keys); done <- struct{}{} }()
			}
			time.Sleep(100 * time.Millisecond)
			lat := make([]time.Duration, 0, b.N)
			cpu0 := redisCPU(b, srv)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				id, err := pubc.XAdd(ctx, &redis.XAddArgs{Stream: keys[rand.IntN(parts)], MaxLen: 2000, Approx: true,
					Values: []string{"s", "stream", "o", "1", "e", "abcdefgh", "t", "0", "d", benchPayload}}).Result()
				if err != nil {
					b.Fatal(err)
				}
				for x := range got {
					if x == id {
						break
					}
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64(redisCPU(b, srv)-cpu0)/float64(b.N), "redis-cpu-µs/msg")
			cancel()
			rd.Close()
			for ; n > 0; n-- {
				<-done
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRedisWatching10k: a node with 10,000 watched streams (one
// subscriber each). Reports the node's heap per watched stream, the
// keep-alive pass, and CPU and allocations per publish delivered.
func BenchmarkRedisWatching10k(b *testing.B) {
	const n = 10000
	srv := startRedis(b)
	prefix := fmt.Sprintf("w%d", redisPrefixSeq.Add(1))
	br := benchBroker(b, srv, prefix)
	h := newRedisHub(b, br, HubOptions{})
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	sub := &chanSub{ch: make(chan Message, 1)}
	subsList := make([]*Subscription, 0, n)
	joinStart := time.Now()
	for i := 0; i < n; i++ {
		s, _, err := h.Join(context.Background(), sub, "id", "stream-"+strconv.Itoa(i), HistoryRequest{})
		if err != nil {
			b.Fatal(err)
		}
		s.Release()
		subsList = append(subsList, s)
	}
	joinTook := time.Since(joinStart)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	ka := time.Now()
	if err := br.refreshWatched(context.Background()); err != nil {
		b.Fatal(err)
	}
	kaTook := time.Since(ka)
	// A resync of one partition, by an idle broker (no readers) watching
	// the same streams.
	idle := benchBroker(b, srv, prefix)
	for i := 0; i < n; i++ {
		idle.Watch("stream-" + strconv.Itoa(i))
	}
	rs := time.Now()
	if err := idle.resync(context.Background(), idle.parts[0], "benchmark"); err != nil {
		b.Fatal(err)
	}
	rsTook := time.Since(rs)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		m, err := br.Publish(ctx, Publication{Stream: "stream-" + strconv.Itoa(rand.IntN(n)), Data: benchPayload})
		if err != nil {
			b.Fatal(err)
		}
		for got := range sub.ch {
			if got.Stream == m.Stream && got.Offset == m.Offset {
				break
			}
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/publish")
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/n, "heap-B/watched")
	b.Logf("%d joins in %v; keep-alive pass %v; resync of one partition (%d streams) %v",
		n, joinTook.Round(time.Millisecond), kaTook.Round(time.Millisecond), len(br.parts[0].watched), rsTook.Round(time.Millisecond))
	for _, s := range subsList {
		h.Leave(s)
	}
}
