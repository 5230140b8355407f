package pubsub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchData is a 256-byte broadcast.
var benchData = strings.Repeat("x", 256)

// BenchmarkBrokerPublish: acknowledged publishes/s and publish latency
// (p50, p99) with 256-byte broadcasts over 100 streams from many
// concurrent publishers, on the memory broker and the file broker in both
// durability modes, and the Redis broker.
//
//	go test -run '^$' -bench BrokerPublish -benchtime 40000x ./pubsub/
func BenchmarkBrokerPublish(b *testing.B) {
	for _, c := range []struct {
		name string
		new  func(b *testing.B) Broker
	}{
		{"memory", func(b *testing.B) Broker { return NewMemoryBroker(MemoryOptions{}) }},
		{"file", func(b *testing.B) Broker {
			return newFileTestBroker(b, filepath.Join(b.TempDir(), "store"), FileOptions{})
		}},
		{"file-sync_interval=100ms", func(b *testing.B) Broker {
			return newFileTestBroker(b, filepath.Join(b.TempDir(), "store"), FileOptions{SyncInterval: 100 * time.Millisecond})
		}},
		// A private redis-server (no persistence configured: its default
		// snapshotting only) on the same machine.
		{"redis", func(b *testing.B) Broker { return newRedisTestBroker(b, startRedis(b), RedisOptions{}, nil) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			br := c.new(b)
			br.Start(func(Message) {})
			defer br.Close()
			benchPublish(b, br, 100, envInt("FILE_BENCH_PUBLISHERS", 64))
		})
	}
}

// benchPublish publishes b.N broadcasts from `publishers` goroutines and
// reports the rate and the latency percentiles.
func benchPublish(b *testing.B, br Broker, streams, publishers int) {
	names := make([]string, streams)
	for i := range names {
		names[i] = "stream-" + strconv.Itoa(i)
	}
	// Warm up: every stream exists (and, for the file broker, the store).
	for _, n := range names {
		if _, err := br.Publish(context.Background(), Publication{Stream: n, Data: benchData}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, publishers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := br.Publish(context.Background(), Publication{Stream: names[int(i)%streams], Data: benchData}); err != nil {
					b.Error(err)
					return
				}
				lat[p] = append(lat[p], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "publishes/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkFileStartup: opening a store of FILE_BENCH_STREAMS streams
// (default 10,000) with 100 messages of 256 bytes each, until the broker
// serves (metadata read; a stream's messages are read on its first use),
// and then the first snapshot of every stream.
//
//	go test -run '^$' -bench FileStartup -benchtime 3x ./pubsub/
func BenchmarkFileStartup(b *testing.B) {
	streams := envInt("FILE_BENCH_STREAMS", 10000)
	dir := filepath.Join(b.TempDir(), "store")
	fb, err := NewFileBroker(FileOptions{Path: dir, SyncInterval: time.Second, HistoryLimit: 100, HistoryTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	fb.Start(nil)
	fill(b, fb, streams, 100*streams, 32)
	fb.Close()
	b.Logf("store of %d streams x 100 messages: %s", streams, dirSize(b, dir))
	b.ResetTimer()
	var open, firstWrite, reads time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		fb, err := NewFileBroker(FileOptions{Path: dir, HistoryLimit: 100, HistoryTTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		fb.Start(nil)
		tOpen := time.Now()
		// The first write reopens the store for writing.
		if _, err := fb.Publish(context.Background(), Publication{Stream: "other", Data: benchData}); err != nil {
			b.Fatal(err)
		}
		firstWrite += time.Since(tOpen)
		t1 := time.Now()
		for s := 0; s < streams; s++ {
			if snap, err := fb.Snapshot(context.Background(), "stream-"+strconv.Itoa(s), HistoryRequest{}); err != nil || snap.Top.Offset != 100 {
				b.Fatal(err, snap.Top)
			}
		}
		t2 := time.Now()
		open += tOpen.Sub(t0)
		reads += t2.Sub(t1)
		fb.Close()
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "open-ms")
	b.ReportMetric(float64(firstWrite.Milliseconds())/float64(b.N), "first-write-ms")
	b.ReportMetric(float64(reads.Milliseconds())/float64(b.N), "read-all-ms")
}

// TestFileSizeUnderSteadyLoad publishes FILE_SIZE_N broadcasts (256 B)
// over 1,000 streams with the default retention and durability, and logs
// the store's size along the way: it levels off, retention trims it.
// Skipped unless FILE_SIZE_N is set (it is a measurement, not a test):
//
//	FILE_SIZE_N=1000000 go test -run TestFileSizeUnderSteadyLoad -v ./pubsub/
func TestFileSizeUnderSteadyLoad(t *testing.T) {
	n := envInt("FILE_SIZE_N", 0)
	if n == 0 {
		t.Skip("set FILE_SIZE_N to measure")
	}
	dir := filepath.Join(t.TempDir(), "store")
	fb := newFileTestBroker(t, dir, FileOptions{})
	t0 := time.Now()
	for done := 0; done < n; {
		step := min(n-done, n/5)
		fill(t, fb, 1000, step, 256)
		done += step
		t.Logf("%d broadcasts over 1,000 streams (%v): store %s", done, time.Since(t0).Round(time.Second), dirSize(t, dir))
	}
	fb.Close()
	t.Logf("after a clean stop: %s", dirSize(t, dir))
}

// fill publishes n broadcasts round-robin over `streams` streams from
// `publishers` goroutines.
func fill(t testing.TB, br Broker, streams, n, publishers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := br.Publish(context.Background(), Publication{Stream: "stream-" + strconv.Itoa(int(i)%streams), Data: benchData}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func dirSize(t testing.TB, dir string) string {
	var total int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	return fmt.Sprintf("%.1f MB", float64(total)/1e6)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
