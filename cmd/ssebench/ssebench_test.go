//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

type gotEvent struct {
	Type, Data, ID string
}

// parseAll parses everything r yields and returns the events and the final
// error.
func parseAll(t *testing.T, r io.Reader, size int) ([]gotEvent, *Parser, error) {
	t.Helper()
	p := NewParser(r, size, 1<<16)
	var out []gotEvent
	for {
		ev, err := p.Next()
		if err != nil {
			return out, p, err
		}
		out = append(out, gotEvent{string(ev.Type), string(ev.Data), string(ev.ID)})
	}
}

// chunkReader returns its input in chunks of the given sizes, cycling.
type chunkReader struct {
	b     []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := c.sizes[c.i%len(c.sizes)]
	c.i++
	n = min(n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestParserWHATWG(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []gotEvent
	}{
		{"spec example: data lines joined by LF",
			"data: YHOO\ndata: +2\ndata: 10\n\n",
			[]gotEvent{{"message", "YHOO\n+2\n10", ""}}},
		{"spec example: comment, id, and an event without id keeps the last id",
			": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			[]gotEvent{{"message", "first event", "1"}, {"message", "second event", ""}}},
		{"spec example: empty data fields",
			"data\n\ndata\ndata\n\ndata:\n",
			[]gotEvent{{"message", "", ""}, {"message", "\n", ""}}},
		{"spec example: one leading space is removed",
			"data:test\n\ndata: test\n\ndata:  test\n\n",
			[]gotEvent{{"message", "test", ""}, {"message", "test", ""}, {"message", " test", ""}}},
		{"event type, and its reset after dispatch",
			"event: welcome\ndata: {\"type\":\"welcome\"}\n\ndata: x\n\n",
			[]gotEvent{{"welcome", `{"type":"welcome"}`, ""}, {"message", "x", ""}}},
		{"empty event field means message",
			"event:\ndata: x\n\n",
			[]gotEvent{{"message", "x", ""}}},
		{"event without data is not dispatched and its type is dropped",
			"event: ping\n\ndata: x\n\n",
			[]gotEvent{{"message", "x", ""}}},
		{"id persists until changed; id with NUL is ignored",
			"id: 7\n\ndata: a\n\nid: 8\x00\ndata: b\n\nid: 9\ndata: c\n\n",
			[]gotEvent{{"message", "a", "7"}, {"message", "b", "7"}, {"message", "c", "9"}}},
		{"CRLF, CR and LF line endings",
			"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r",
			[]gotEvent{{"message", "a\nb\nc", ""}, {"message", "d", ""}}},
		{"unknown fields and colon-less lines",
			"foo: bar\nbaz\ndata: x\nDATA: y\n\n",
			[]gotEvent{{"message", "x", ""}}},
		{"colon inside the value",
			"data: a: b:c\n\n",
			[]gotEvent{{"message", "a: b:c", ""}}},
		{"leading BOM is skipped once",
			"\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n",
			[]gotEvent{{"message", "x", ""}}},
		{"incomplete event at end of stream is discarded",
			"data: x\n\ndata: y\n",
			[]gotEvent{{"message", "x", ""}}},
		{"incomplete line at end of stream is discarded",
			"data: x\n\ndata: y",
			[]gotEvent{{"message", "x", ""}}},
		{"module wire format",
			"event: welcome\ndata: {\"type\":\"welcome\",\"sid\":\"abc\"}\n\n" +
				"event: confirm_subscription\ndata: {\"type\":\"confirm_subscription\",\"identifier\":\"{\\\"channel\\\":\\\"$pubsub\\\",\\\"stream_name\\\":\\\"s1\\\"}\"}\n\n" +
				"data: {\"p\":\"xx\",\"q\":1,\"t\":123}\nid: 1/VJUbLICA/s1\n\n" +
				"event: ping\ndata: {\"type\":\"ping\",\"message\":1764200000}\n\n",
			[]gotEvent{
				{"welcome", `{"type":"welcome","sid":"abc"}`, ""},
				{"confirm_subscription", `{"type":"confirm_subscription","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"s1\"}"}`, ""},
				{"message", `{"p":"xx","q":1,"t":123}`, "1/VJUbLICA/s1"},
				{"ping", `{"type":"ping","message":1764200000}`, "1/VJUbLICA/s1"},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, one byte at a time, and in odd chunks with a small
			// buffer: every split of lines and CRLF pairs must give the
			// same events.
			readers := map[string]func() (io.Reader, int){
				"whole":    func() (io.Reader, int) { return strings.NewReader(tc.in), 4096 },
				"one byte": func() (io.Reader, int) { return iotest.OneByteReader(strings.NewReader(tc.in)), 16 },
				"chunks":   func() (io.Reader, int) { return &chunkReader{b: []byte(tc.in), sizes: []int{3, 1, 7, 2}}, 16 },
			}
			for rn, mk := range readers {
				r, size := mk()
				got, _, err := parseAll(t, r, size)
				if !errors.Is(err, io.EOF) {
					t.Errorf("%s: err = %v, want EOF", rn, err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s:\n got %q\nwant %q", rn, got, tc.want)
				}
			}
		})
	}
}

func TestParserCRAtBufferEnd(t *testing.T) {
	// "data: a\r" fills the 16-byte buffer exactly... the LF of the CRLF
	// arrives in the next read and must not be taken for a blank line.
	in := "data: abcdefghi\r\ndata: b\r\n\r\n"
	r := &chunkReader{b: []byte(in), sizes: []int{16, 100}}
	got, _, err := parseAll(t, r, 16)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	want := []gotEvent{{"message", "abcdefghi\nb", ""}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParserRetryCommentsAndLongLines(t *testing.T) {
	long := strings.Repeat("x", 5000)
	in := ": ping\n\nretry: 1500\nretry: 12a\nretry:\ndata: " + long + "\n\n:\n"
	got, p, err := parseAll(t, strings.NewReader(in), 64)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Data != long {
		t.Fatalf("long line not parsed: %d events", len(got))
	}
	if p.Retry != 1500 {
		t.Errorf("Retry = %d, want 1500", p.Retry)
	}
	if p.Comments != 2 {
		t.Errorf("Comments = %d, want 2", p.Comments)
	}

	p = NewParser(strings.NewReader("data: "+long+"\n\n"), 64, 1024)
	if _, err := p.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("err = %v, want ErrLineTooLong", err)
	}
}

func TestParserReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom))
	got, _, err := parseAll(t, r, 64)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if len(got) != 1 || got[0].Data != "a" {
		t.Fatalf("got %q", got)
	}
}

// TestParserChunkedHTTP parses a chunked HTTP/1.1 response as the clients
// do (http.ReadResponse then the parser over the body).
func TestParserChunkedHTTP(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, chunk := range []string{"event: welcome\n", "data: {}\n\n", "data:", " x\n\n"} {
		raw += fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk)
	}
	raw += "0\r\n\r\n"
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := parseAll(t, resp.Body, 16)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	want := []gotEvent{{"welcome", "{}", ""}, {"message", "x", ""}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func FuzzParserSplits(f *testing.F) {
	f.Add("data: a\r\n\r\nevent: e\rdata: b\r\r:c\n", 3)
	f.Fuzz(func(t *testing.T, in string, chunk int) {
		if chunk <= 0 || chunk > 64 {
			return
		}
		a, _, errA := parseAll(t, strings.NewReader(in), 1<<15)
		b, _, errB := parseAll(t, &chunkReader{b: []byte(in), sizes: []int{chunk}}, 16)
		if errors.Is(errA, ErrLineTooLong) || errors.Is(errB, ErrLineTooLong) {
			return
		}
		if !slices.Equal(a, b) {
			t.Fatalf("split at %d changes the events:\n%q\n%q", chunk, a, b)
		}
	})
}

func TestHistogramBuckets(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < histBuckets-1; i++ {
		lo, hi := histBounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d] after %d", i, lo, hi, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d: index(lo)=%d index(hi)=%d", i, histIndex(lo), histIndex(hi))
		}
		if lo >= histSub && float64(hi-lo+1)/float64(lo) > 1.0/256+1e-12 {
			t.Fatalf("bucket %d too wide: [%d, %d]", i, lo, hi)
		}
		prevHi = hi
		if hi > 1<<62 {
			break
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	var exact []time.Duration
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		// Log-uniform from 1 µs to 10 s, the range of delivery latencies.
		v := int64(1000 * math.Pow(10, rng.Float64()*7))
		h.Record(v)
		exact = append(exact, time.Duration(v))
	}
	SortDurations(exact)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		got := float64(h.Quantile(q))
		want := float64(Percentile(exact, q))
		if rel := (got - want) / want; rel > 0.004 || rel < -0.004 {
			t.Errorf("q%.3f = %.0f, exact %.0f (%.2f%%)", q, got, want, 100*rel)
		}
	}
	if h.Max() != int64(exact[len(exact)-1]) || h.Min() != int64(exact[0]) {
		t.Errorf("min/max = %d/%d, want %d/%d", h.Min(), h.Max(), exact[0], exact[len(exact)-1])
	}
	if h.Count() != 100000 {
		t.Errorf("count = %d", h.Count())
	}

	var small Histogram
	for v := int64(1); v <= 100; v++ {
		small.Record(v)
	}
	for q, want := range map[float64]int64{0.5: 50, 0.9: 90, 0.99: 99, 1: 100, 0.001: 1} {
		if got := small.Quantile(q); got != want {
			t.Errorf("small q%g = %d, want %d", q, got, want)
		}
	}
	var neg Histogram
	neg.Record(-5)
	if neg.negative.Load() != 1 || neg.Max() != 0 {
		t.Errorf("negative value: negative=%d max=%d", neg.negative.Load(), neg.Max())
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram must report 0")
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(1); i <= 1000; i++ {
				h.Record(i * 1000)
			}
		}()
	}
	wg.Wait()
	if h.Count() != 8000 || h.Max() != 1000000 || h.Min() != 1000 {
		t.Fatalf("count %d max %d min %d", h.Count(), h.Max(), h.Min())
	}
}

func TestPercentile(t *testing.T) {
	d := SortDurations([]time.Duration{10, 1, 9, 2, 8, 3, 7, 4, 6, 5})
	for q, want := range map[float64]time.Duration{0.5: 5, 0.9: 9, 0.99: 10, 1: 10, 0.01: 1} {
		if got := Percentile(d, q); got != want {
			t.Errorf("p%g = %d, want %d", q, got, want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty")
	}
}

func TestSeqTracker(t *testing.T) {
	type want struct{ distinct, dups, ooo, lost uint64 }
	check := func(t *testing.T, tr *SeqTracker, expected uint64, skip []uint64, w want) {
		t.Helper()
		got := want{tr.Distinct(), tr.Duplicates(), tr.OutOfOrder(), tr.Lost(expected, skip)}
		if got != w {
			t.Errorf("got %+v, want %+v (holes %v)", got, w, tr.holes)
		}
	}
	t.Run("in order", func(t *testing.T) {
		var tr SeqTracker
		for s := uint64(1); s <= 10; s++ {
			if !tr.Add(s) {
				t.Fatal("new seq reported as duplicate")
			}
		}
		check(t, &tr, 10, nil, want{10, 0, 0, 0})
		check(t, &tr, 12, nil, want{10, 0, 0, 2}) // the last two never came
	})
	t.Run("gap, late fill, duplicates", func(t *testing.T) {
		var tr SeqTracker
		for _, s := range []uint64{1, 2, 5, 6} {
			tr.Add(s)
		}
		check(t, &tr, 6, nil, want{4, 0, 0, 2}) // 3 and 4 missing
		tr.Add(4)                               // late: out of order, not lost
		check(t, &tr, 6, nil, want{5, 0, 1, 1})
		if tr.Add(4) || tr.Add(6) || tr.Add(1) {
			t.Fatal("duplicates reported as new")
		}
		check(t, &tr, 6, nil, want{5, 3, 1, 1})
		if tr.Received(3) || !tr.Received(4) || tr.Received(7) {
			t.Fatal("Received is wrong")
		}
	})
	t.Run("hole split in the middle", func(t *testing.T) {
		var tr SeqTracker
		tr.Add(1)
		tr.Add(10) // hole 2..9
		tr.Add(5)  // holes 2..4, 6..9
		tr.Add(2)  // holes 3..4, 6..9
		tr.Add(9)  // holes 3..4, 6..8
		tr.Add(7)  // holes 3..4, 6, 8
		check(t, &tr, 10, nil, want{6, 0, 4, 4})
		if !slices.Equal(tr.holes, []span{{3, 4}, {6, 6}, {8, 8}}) {
			t.Fatalf("holes %v", tr.holes)
		}
		tr.Add(6)
		tr.Add(6)
		check(t, &tr, 10, nil, want{7, 1, 5, 3})
	})
	t.Run("failed publications are not owed", func(t *testing.T) {
		var tr SeqTracker
		for _, s := range []uint64{1, 2, 4, 5} {
			tr.Add(s)
		}
		check(t, &tr, 6, []uint64{3, 6}, want{4, 0, 0, 0})
		check(t, &tr, 6, []uint64{6}, want{4, 0, 0, 1})
		// A failed publication that was delivered anyway is not "unlost".
		check(t, &tr, 6, []uint64{2, 3, 6}, want{4, 0, 0, 0})
	})
	t.Run("received beyond the expected count", func(t *testing.T) {
		var tr SeqTracker
		tr.Add(1)
		tr.Add(3)
		tr.Add(8)
		check(t, &tr, 3, nil, want{3, 0, 0, 1}) // only 2 is owed and missing
	})
	t.Run("zero is invalid", func(t *testing.T) {
		var tr SeqTracker
		if tr.Add(0) {
			t.Fatal("0 accepted")
		}
	})
}

func TestPayload(t *testing.T) {
	for _, size := range []int{10, 45, 64, 256, 4096} {
		p := appendPayload(nil, 3, 17, 1764200000123456789, size)
		if size >= 60 && len(p) != size {
			t.Errorf("size %d: got %d bytes", size, len(p))
		}
		var v map[string]any
		if err := json.Unmarshal(p, &v); err != nil {
			t.Fatalf("size %d: not JSON: %v: %s", size, err, p)
		}
		s, q, ts, ok := parsePayload(p)
		if !ok || s != 3 || q != 17 || ts != 1764200000123456789 {
			t.Errorf("parse = %d %d %d %v", s, q, ts, ok)
		}
		// The module re-encodes objects (numbers kept exact, keys sorted).
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.UseNumber()
		v = nil
		_ = dec.Decode(&v)
		resorted, _ := json.Marshal(v)
		s, q, ts, ok = parsePayload(resorted)
		if !ok || s != 3 || q != 17 || ts != 1764200000123456789 {
			t.Errorf("re-encoded %s: parse = %d %d %d %v", resorted, s, q, ts, ok)
		}
		// The broadcast data string decodes back to the payload.
		var data string
		if err := json.Unmarshal(appendQuoted(nil, p), &data); err != nil || data != string(p) {
			t.Errorf("quoted payload: %v %q", err, data)
		}
	}
	for _, bad := range []string{`{}`, `{"s":1,"q":2}`, `{"s":-1,"q":2,"t":3}`, `{"s":1,"q":x,"t":3}`} {
		if _, _, _, ok := parsePayload([]byte(bad)); ok {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestStatCPU(t *testing.T) {
	line := "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000 10 18446744073709551615"
	d, err := parseStatCPU([]byte(line))
	if err != nil || d != 3*time.Second {
		t.Fatalf("got %v, %v; want 3s", d, err)
	}
	m, err := parseMachineCPU([]byte("cpu  100 5 50 9999 7 3 2 40 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	if err != nil || m != 2*time.Second { // 100+5+50+3+2+40 ticks
		t.Errorf("machine CPU = %v, %v; want 2s", m, err)
	}
	if _, err := readRSS(1 << 30); err == nil {
		t.Error("readRSS of a missing pid must fail")
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, h := range []string{"127.0.0.1", "::1", "127.5.6.7", "localhost"} {
		if err := checkLoopback(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	for _, h := range []string{"10.0.0.1", "8.8.8.8", "::ffff:1.2.3.4"} {
		if err := checkLoopback(h); err == nil {
			t.Errorf("%s accepted", h)
		}
	}
}

// benchConfig is a small run against a test server.
func benchConfig(t *testing.T, base string) Config {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Name: "test", Base: u, EventsPath: "/events", BroadcastPath: "/_broadcast", Key: "k",
		Conns: 12, Streams: 3, DialConcurrency: 4, ConnectTimeout: 5 * time.Second,
		Rate: 0, Messages: 30, Payload: 128, Batch: 4, Publishers: 2, Drain: 2 * time.Second,
		ReadBuffer: 512,
	}
}

// TestRunAgainstFloor runs the whole pipeline (connections, parser,
// publisher, accounting) against the floor server in process.
func TestRunAgainstFloor(t *testing.T) {
	f := newFloorServer("k", 0)
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, benchConfig(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	// 30 messages over 3 streams, 4 connections per stream.
	if res.Connected != 12 || res.Published != 30 || res.Expected != 120 || res.Delivered != 120 {
		t.Fatalf("connected %d published %d expected %d delivered %d; notes %v",
			res.Connected, res.Published, res.Expected, res.Delivered, res.Notes)
	}
	if res.Lost+res.Duplicated+res.OutOfOrder+res.Misrouted+res.BadPayload != 0 {
		t.Fatalf("clean server flagged: %+v", res)
	}
	if res.LatencyN != 120 || res.LatMax <= 0 || res.LatP50 > res.LatP99 || res.LatP99 > res.LatMax {
		t.Fatalf("latency: n %d p50 %v p99 %v max %v", res.LatencyN, res.LatP50, res.LatP99, res.LatMax)
	}
	var md, txt, js bytes.Buffer
	WriteMarkdown(&md, []*Result{res, res})
	WriteText(&txt, []*Result{res})
	if err := WriteJSON(&js, []*Result{res}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| Delivery latency p99 (ms) |") || !strings.Contains(txt.String(), "Lost") {
		t.Fatalf("report:\n%s\n%s", md.String(), txt.String())
	}
}

// TestRunDetectsFaults runs against a floor server that drops offset 3,
// sends offset 5 twice and offset 7 after offset 8, on every stream.
func TestRunDetectsFaults(t *testing.T) {
	f := newFloorServer("k", 0)
	var held [][]byte
	f.mangle = func(stream string, off uint64, frame []byte) [][]byte {
		switch off {
		case 3:
			return nil
		case 5:
			return [][]byte{frame, frame}
		case 7:
			held = [][]byte{frame} // under the stream lock; streams run one at a time below
			return nil
		case 8:
			return append([][]byte{frame}, held...)
		}
		return [][]byte{frame}
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := benchConfig(t, srv.URL)
	cfg.Streams, cfg.Publishers, cfg.Batch = 1, 1, 1
	cfg.Conns, cfg.Messages = 5, 10
	cfg.Drain = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Expected != 50 || res.Delivered != 45 || res.Lost != 5 || res.ConnsWithLoss != 5 ||
		res.Duplicated != 5 || res.OutOfOrder != 5 {
		t.Fatalf("expected %d delivered %d lost %d (conns %d) dup %d ooo %d",
			res.Expected, res.Delivered, res.Lost, res.ConnsWithLoss, res.Duplicated, res.OutOfOrder)
	}
}

func TestRunConnectErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-AnyCable-Error", "public streams are disabled")
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	cfg := benchConfig(t, srv.URL)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 0 || res.ConnectFailed != 12 || res.ConnectErrors["HTTP 400 public streams are disabled"] != 12 {
		t.Fatalf("connected %d failed %d errors %v", res.Connected, res.ConnectFailed, res.ConnectErrors)
	}
}

// TestRunH2CAgainstFloor runs the -h2c path against the floor server with
// the floor's protocols: every SSE connection must be an HTTP/2 stream, the
// streams must share exactly H2Conns TCP connections, and the accounting
// must be as clean as over HTTP/1.1.
func TestRunH2CAgainstFloor(t *testing.T) {
	f := newFloorServer("k", 0)
	// Over HTTP/2 a write deadline left set resets the idle stream when it
	// fires: the hold below outlasts it. One second, not less: on a loaded
	// machine a single write can be descheduled for a few hundred ms.
	f.writeTimeout = time.Second
	var mu sync.Mutex
	remotes := map[string]int{}
	var notH2 int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			mu.Lock()
			remotes[r.RemoteAddr]++
			if r.ProtoMajor != 2 {
				notH2++
			}
			mu.Unlock()
		}
		f.ServeHTTP(w, r)
	}))
	srv.Config.Protocols = floorProtocols()
	srv.Start()
	defer srv.Close()

	cfg := benchConfig(t, srv.URL)
	cfg.H2C, cfg.H2Conns = true, 5
	cfg.Hold = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 12 || res.Published != 30 || res.Expected != 120 || res.Delivered != 120 {
		t.Fatalf("connected %d published %d expected %d delivered %d; errors %v notes %v",
			res.Connected, res.Published, res.Expected, res.Delivered, res.ConnectErrors, res.Notes)
	}
	if res.Lost+res.Duplicated+res.OutOfOrder+res.Misrouted+res.BadPayload != 0 || len(res.EndedEarly) != 0 {
		t.Fatalf("clean server flagged: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if notH2 != 0 || len(remotes) != 5 || !res.H2C || res.H2Conns != 5 {
		t.Fatalf("%d non-HTTP/2 requests; streams per TCP connection %v; result h2c %v conns %d",
			notH2, remotes, res.H2C, res.H2Conns)
	}
	for addr, n := range remotes {
		if n < 2 || n > 3 { // 12 streams over 5 connections: 3,3,2,2,2
			t.Fatalf("connection %s carried %d streams: %v", addr, n, remotes)
		}
	}
	var md bytes.Buffer
	WriteMarkdown(&md, []*Result{res})
	if !strings.Contains(md.String(), "h2c streams on 5 TCP connections") {
		t.Fatalf("report does not say h2c:\n%s", md.String())
	}

	if got := errClass(errors.New("stream error: stream ID 7; INTERNAL_ERROR; received from peer")); got != "HTTP/2 stream reset: INTERNAL_ERROR; received from peer" {
		t.Fatalf("errClass of a stream reset: %q", got)
	}

	// The default: one TCP connection per 100 streams.
	if n := (&Config{Conns: 5000, H2C: true}).h2ConnCount(); n != 50 {
		t.Fatalf("default h2 connections for 5000 streams: %d", n)
	}
	if n := (&Config{Conns: 12, H2C: true}).h2ConnCount(); n != 1 {
		t.Fatalf("default h2 connections for 12 streams: %d", n)
	}
}
