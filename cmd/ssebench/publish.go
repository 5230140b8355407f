//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// publisher sends the run's messages through the broadcast endpoint.
//
// Message k (0 <= k < Messages) goes to stream k % Streams with sequence
// number k/Streams + 1 and is due at t0 + k/Rate. Each worker owns the
// streams s with s % workers == w and sends its messages one request at a
// time, so that per-stream order on the wire is sequence order: any
// out-of-order delivery the clients see is the server's doing. A request
// carries up to Batch messages (a JSON array when Batch > 1) and is sent
// when its last message is due; the send time, taken just before the
// request is written, is the timestamp of every message in it.
type publisher struct {
	r       *runner
	url     string
	client  *http.Client
	workers int

	perStream  []int      // messages attempted per stream (the highest sequence sent)
	failedSeqs [][]uint64 // per stream, sequences whose request failed
	mu         sync.Mutex
	errs       map[string]int

	post       Histogram // request round trip, ns
	okMsgs     atomic.Uint64
	failedMsgs atomic.Uint64
	requests   atomic.Uint64
	lastAck    atomic.Int64
	maxLag     atomic.Int64 // worst lateness behind the schedule, ns
}

func newPublisher(r *runner) *publisher {
	cfg := r.cfg
	w := min(max(cfg.Publishers, 1), cfg.Streams)
	u := *cfg.Base
	u.Path = cfg.BroadcastPath
	u.RawQuery = ""
	p := &publisher{
		r:          r,
		url:        u.String(),
		workers:    w,
		perStream:  make([]int, cfg.Streams),
		failedSeqs: make([][]uint64, cfg.Streams),
		errs:       map[string]int{},
		client: &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConnsPerHost: w,
				MaxConnsPerHost:     w,
				IdleConnTimeout:     30 * time.Second,
				DisableCompression:  true,
				ForceAttemptHTTP2:   false,
				TLSClientConfig:     clientTLSConfig("http/1.1"), // -tls, -h2, -h3: publish over HTTP/1.1 over TLS
			},
		},
	}
	return p
}

func (p *publisher) run(ctx context.Context, t0 time.Time) {
	var wg sync.WaitGroup
	for w := 0; w < p.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.work(ctx, w, t0)
		}()
	}
	wg.Wait()
	p.client.CloseIdleConnections()
}

type pubMsg struct {
	k      int
	stream int
	seq    uint64
}

func (p *publisher) work(ctx context.Context, w int, t0 time.Time) {
	cfg := p.r.cfg
	batch := make([]pubMsg, 0, cfg.Batch)
	var payload, body []byte
	for k := 0; k < cfg.Messages && ctx.Err() == nil; k++ {
		s := k % cfg.Streams
		if s%p.workers != w {
			continue
		}
		batch = append(batch, pubMsg{k: k, stream: s, seq: uint64(k/cfg.Streams) + 1})
		if len(batch) < cfg.Batch && !p.lastOfWorker(k, w) {
			continue
		}
		if cfg.Rate > 0 {
			due := t0.Add(time.Duration(float64(k) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				sleepCtx(ctx, wait)
			} else {
				storeMax(&p.maxLag, int64(-wait))
			}
			if ctx.Err() != nil {
				break
			}
		}
		now := time.Now()
		body = body[:0]
		if len(batch) > 1 {
			body = append(body, '[')
		}
		for i, m := range batch {
			if i > 0 {
				body = append(body, ',')
			}
			payload = appendPayload(payload[:0], m.stream, m.seq, now.UnixNano(), cfg.Payload)
			body = append(body, `{"stream":`...)
			body = appendQuoted(body, []byte(p.r.streams[m.stream]))
			body = append(body, `,"data":`...)
			body = appendQuoted(body, payload)
			body = append(body, '}')
		}
		if len(batch) > 1 {
			body = append(body, ']')
		}
		p.send(ctx, body, batch, now)
		batch = batch[:0]
	}
	// Messages never sent (the run was cancelled) are not owed to anyone:
	// perStream only counts what was attempted.
}

// lastOfWorker reports whether k is the last message worker w owns. The
// worker's next message, if any, is at most Streams further (the next one
// of the same stream).
func (p *publisher) lastOfWorker(k, w int) bool {
	cfg := p.r.cfg
	for j := k + 1; j <= k+cfg.Streams && j < cfg.Messages; j++ {
		if (j%cfg.Streams)%p.workers == w {
			return false
		}
	}
	return true
}

func (p *publisher) send(ctx context.Context, body []byte, batch []pubMsg, start time.Time) {
	// One worker owns each stream and sends its sequences in order, and
	// perStream is read once every worker has returned.
	for _, m := range batch {
		p.perStream[m.stream] = int(m.seq)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		for _, m := range batch {
			p.fail(m, err.Error())
		}
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if p.r.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+p.r.cfg.Key)
	}
	p.requests.Add(1)
	resp, err := p.client.Do(req)
	if err != nil {
		for _, m := range batch {
			p.fail(m, errClass(err))
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	end := time.Now()
	p.post.Record(int64(end.Sub(start)))
	if resp.StatusCode != http.StatusCreated {
		reason := fmt.Sprintf("HTTP %d %s", resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
		for _, m := range batch {
			p.fail(m, reason)
		}
		return
	}
	p.okMsgs.Add(uint64(len(batch)))
	storeMax(&p.lastAck, end.UnixNano())
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func (p *publisher) fail(m pubMsg, reason string) {
	p.failedMsgs.Add(1)
	p.mu.Lock()
	p.failedSeqs[m.stream] = append(p.failedSeqs[m.stream], m.seq)
	p.errs[reason]++
	p.mu.Unlock()
}

// fill copies the publisher's numbers into the result.
func (p *publisher) fill(res *Result, t0 time.Time) {
	res.Published = p.okMsgs.Load()
	res.PublishFailed = p.failedMsgs.Load()
	res.PublishErrors = p.errs
	res.Requests = p.requests.Load()
	res.PostP50 = ms(time.Duration(p.post.Quantile(0.50)))
	res.PostP99 = ms(time.Duration(p.post.Quantile(0.99)))
	res.PostMax = ms(time.Duration(p.post.Max()))
	res.PublisherMaxLag = ms(time.Duration(p.maxLag.Load()))
	if last := p.lastAck.Load(); last > 0 {
		if d := time.Duration(last - t0.UnixNano()); d > 0 {
			res.PublishedPerSec = float64(res.Published) / d.Seconds()
		}
	}
}
