//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one measured run against one server.
type Config struct {
	Name          string // "module" or "floor", for the report
	Base          *url.URL
	EventsPath    string
	BroadcastPath string
	Key           string
	Pid           int // server process for RSS and CPU; 0: not measured

	Conns           int
	Streams         int
	Ramp            time.Duration
	DialConcurrency int
	ConnectTimeout  time.Duration
	Settle          time.Duration

	Rate       float64 // messages per second, all streams together; 0: unpaced
	Messages   int
	Payload    int
	Batch      int
	Publishers int
	Drain      time.Duration

	// Hold keeps the connections open and idle this long after the drain,
	// to count pings and measure the server's idle CPU.
	Hold time.Duration

	// StreamPrefix names the streams (prefix + index); empty: a fresh
	// "sb-<run id>-" per run, so that no run sees another's history.
	StreamPrefix string

	ReadBuffer int

	// H2C opens the SSE connections as HTTP/2 streams over cleartext TCP
	// (h2c with prior knowledge), multiplexed over H2Conns TCP connections:
	// stream i uses connection i % H2Conns. H2Conns 0: one connection per
	// 100 streams.
	H2C     bool
	H2Conns int

	// TLS is "" (plaintext), "tls" (HTTP/1.1 over TLS), "h2" (HTTP/2 over
	// TLS, multiplexed like H2C) or "h3" (HTTP/3, multiplexed over H2Conns
	// QUIC connections). See tls.go.
	TLS string

	// WS opens each connection as an Action Cable WebSocket to WSPath
	// speaking WSProtocol (actioncable-v1-json when empty) that subscribes
	// to its $pubsub stream (wsclient.go).
	WS         bool
	WSPath     string
	WSProtocol string
}

// h2StreamsPerConn is the default streams per TCP connection with H2C, below
// the 250 concurrent streams Go's (and so Caddy's) HTTP/2 server allows.
const h2StreamsPerConn = 100

// h2ConnCount is the TCP connections a run with H2C uses.
func (c *Config) h2ConnCount() int {
	if !c.multiplexed() {
		return 0
	}
	n := c.H2Conns
	if n <= 0 {
		n = (c.Conns + h2StreamsPerConn - 1) / h2StreamsPerConn
	}
	return max(1, min(n, c.Conns))
}

// runner is the state of one run.
type runner struct {
	cfg     Config
	addr    string
	host    string
	runID   string
	streams []string

	lat      Histogram // delivery latency of first receptions, ns
	unique   atomic.Uint64
	received atomic.Uint64
	ready    chan readyMsg
	// confirmed[i] is set by connection i before it reports ready.
	confirmed []atomic.Bool
	wg        sync.WaitGroup
	clients   []*client
	// h2 holds one transport per shared connection when multiplexed.
	h2 []streamTransport
}

type readyMsg struct {
	idx     int
	connect time.Duration
	err     string
}

// client is one SSE connection. Its fields are written only by its own
// goroutine and read by the runner after that goroutine has ended.
type client struct {
	idx    int
	stream int

	confirmed   bool
	tr          SeqTracker
	pings       uint64
	disconnects uint64
	discReason  string
	misrouted   uint64
	badPayload  uint64
	otherEvents uint64
	lastRecv    int64 // Unix ns of the last data event
	endErr      string
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s %s] %s\n", time.Now().Format("15:04:05.000"), r.cfg.Name, fmt.Sprintf(format, args...))
}

// errClass shortens an error so that errors of many connections group:
// addresses (the local port differs on every connection) are dropped.
func errClass(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		inner := op.Err.Error()
		var se *os.SyscallError
		if errors.As(op.Err, &se) {
			inner = se.Syscall + ": " + se.Err.Error()
		}
		return op.Op + ": " + inner
	}
	if errors.Is(err, io.EOF) {
		return "EOF (server closed the stream)"
	}
	if s := err.Error(); strings.HasPrefix(s, "stream error: stream ID ") {
		// An HTTP/2 RST_STREAM: drop the stream ID so that streams group.
		rest := strings.TrimPrefix(s, "stream error: stream ID ")
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			return "HTTP/2 stream reset:" + rest[i+1:]
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected EOF (server closed mid-chunk)"
	}
	return err.Error()
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run measures one server: connect, settle, publish, drain, close.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	r := &runner{
		cfg:   cfg,
		runID: newRunID(),
		ready: make(chan readyMsg, cfg.Conns),
	}
	r.confirmed = make([]atomic.Bool, cfg.Conns)
	r.host = cfg.Base.Host
	r.addr = cfg.Base.Host
	if cfg.Base.Port() == "" {
		r.addr = net.JoinHostPort(cfg.Base.Hostname(), "80")
	}
	prefix := cfg.StreamPrefix
	if prefix == "" {
		prefix = "sb-" + r.runID + "-"
	}
	for s := 0; s < cfg.Streams; s++ {
		r.streams = append(r.streams, fmt.Sprintf("%s%d", prefix, s))
	}
	res := newResult(cfg)
	res.RunID = r.runID
	if cfg.multiplexed() {
		r.h2 = make([]streamTransport, cfg.h2ConnCount())
		for i := range r.h2 {
			r.h2[i] = newStreamTransport(&cfg)
		}
		res.H2Conns = len(r.h2)
		defer func() {
			for _, t := range r.h2 {
				t.CloseIdleConnections()
			}
		}()
	}

	if cfg.Pid > 0 {
		if rss, err := readRSS(cfg.Pid); err == nil {
			res.ServerRSSBeforeKiB = rss
		} else {
			return nil, fmt.Errorf("reading server RSS of pid %d: %w", cfg.Pid, err)
		}
	}

	// Connect phase.
	clientCtx, closeClients := context.WithCancel(ctx)
	defer closeClients()
	r.clients = make([]*client, cfg.Conns)
	for i := range r.clients {
		r.clients[i] = &client{idx: i, stream: i % cfg.Streams}
	}
	cpuConn0, _ := serverCPU(cfg.Pid)
	connStart := time.Now()
	if cfg.multiplexed() {
		r.logf("opening %d %s streams over %d connections, %d SSE streams, to %s%s", cfg.Conns, cfg.modeName(), len(r.h2), cfg.Streams, cfg.Base.Host, cfg.EventsPath)
	} else {
		r.logf("opening %d %s connections over %d streams to %s%s", cfg.Conns, cfg.modeName(), cfg.Streams, cfg.Base.Host, cfg.connPath())
	}
	sem := make(chan struct{}, cfg.DialConcurrency)
	r.wg.Add(1)
	go r.spawn(clientCtx, sem)

	var connectTimes []time.Duration
	errs := map[string]int{}
	progress := time.NewTicker(2 * time.Second)
	defer progress.Stop()
collect:
	for got := 0; got < cfg.Conns; {
		select {
		case m := <-r.ready:
			got++
			if m.err != "" {
				errs[m.err]++
			} else {
				connectTimes = append(connectTimes, m.connect)
			}
		case <-progress.C:
			r.logf("connected %d, failed %d of %d", len(connectTimes), sum(errs), cfg.Conns)
		case <-ctx.Done():
			res.Notes = append(res.Notes, "interrupted during the connect phase: "+context.Cause(ctx).Error())
			break collect
		}
	}
	res.ConnectPhase = time.Since(connStart)
	cpuConn1, _ := serverCPU(cfg.Pid)
	res.Connected = len(connectTimes)
	res.ConnectFailed = sum(errs)
	res.ConnectErrors = errs
	SortDurations(connectTimes)
	res.ConnectP50 = ms(Percentile(connectTimes, 0.50))
	res.ConnectP99 = ms(Percentile(connectTimes, 0.99))
	if n := len(connectTimes); n > 0 {
		res.ConnectMax = ms(connectTimes[n-1])
	}
	if cfg.Pid > 0 && res.Connected > 0 {
		res.ServerCPUConnectS = (cpuConn1 - cpuConn0).Seconds()
	}
	r.logf("connected %d of %d in %v (connect p50 %.1f ms, p99 %.1f ms)", res.Connected, cfg.Conns, res.ConnectPhase.Round(time.Millisecond), res.ConnectP50, res.ConnectP99)

	// Idle-open: let the server settle, then read its RSS.
	if ctx.Err() == nil && res.Connected > 0 {
		sleepCtx(ctx, cfg.Settle)
		if cfg.Pid > 0 {
			if rss, err := readRSS(cfg.Pid); err == nil {
				res.ServerRSSAfterKiB = rss
				res.ServerRSSPerConnKiB = float64(rss-res.ServerRSSBeforeKiB) / float64(res.Connected)
			}
		}
	}

	// Publish phase.
	var pub *publisher
	if ctx.Err() == nil && res.Connected > 0 && cfg.Messages > 0 {
		pub = newPublisher(r)
		cpu0, _ := serverCPU(cfg.Pid)
		self0 := selfCPU()
		mach0, _ := machineCPU()
		t0 := time.Now()
		r.logf("publishing %d messages of %d bytes at %s msgs/s (batch %d, %d publishers)", cfg.Messages, cfg.Payload, rateString(cfg.Rate), cfg.Batch, pub.workers)
		pub.run(ctx, t0)
		pubEnd := time.Now()
		// Expected deliveries: every acknowledged message to every
		// connection of its stream that was open when publishing began.
		var expected uint64
		for _, c := range r.confirmedClients() {
			expected += uint64(pub.perStream[c.stream] - len(pub.failedSeqs[c.stream]))
		}
		res.Expected = expected
		r.logf("published %d (%d failed) in %v; draining (%d expected deliveries)", pub.okMsgs.Load(), pub.failedMsgs.Load(), pubEnd.Sub(t0).Round(time.Millisecond), expected)
		deadline := time.Now().Add(cfg.Drain)
		for r.unique.Load() < expected && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if r.unique.Load() < expected {
			res.Notes = append(res.Notes, fmt.Sprintf("drain ended with %d of %d expected deliveries after %v", r.unique.Load(), expected, cfg.Drain))
		}
		cpu1, _ := serverCPU(cfg.Pid)
		self1 := selfCPU()
		mach1, _ := machineCPU()
		res.PublishPhase = time.Since(t0)
		res.MachineCPUPublishS = (mach1 - mach0).Seconds()
		if cfg.Pid > 0 {
			res.ServerCPUPublishS = (cpu1 - cpu0).Seconds()
		}
		res.GenCPUPublishS = (self1 - self0).Seconds()
		pub.fill(res, t0)
		res.publishStart = t0
		if cfg.Pid > 0 {
			if rss, err := readRSS(cfg.Pid); err == nil {
				res.ServerRSSPublishKiB = rss
			}
		}
	}

	// Idle hold: pings only.
	if ctx.Err() == nil && res.Connected > 0 && cfg.Hold > 0 {
		r.logf("holding %d connections idle for %v", res.Connected, cfg.Hold)
		cpu0, _ := serverCPU(cfg.Pid)
		self0 := selfCPU()
		t0 := time.Now()
		sleepCtx(ctx, cfg.Hold)
		cpu1, _ := serverCPU(cfg.Pid)
		res.HoldS = time.Since(t0).Seconds()
		res.GenCPUHoldS = (selfCPU() - self0).Seconds()
		if cfg.Pid > 0 {
			res.ServerCPUHoldS = (cpu1 - cpu0).Seconds()
		}
	}

	// Close every connection and wait for the readers.
	closeClients()
	waited := make(chan struct{})
	go func() { r.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(15 * time.Second):
		res.Notes = append(res.Notes, "some connection goroutines did not end within 15s of closing")
		return res, nil // their fields may still change: do not read them
	}
	r.aggregate(res, pub)
	res.GenMaxRSSKiB = selfMaxRSS()
	if wall := res.PublishPhase.Seconds(); wall > 0 && cfg.Pid > 0 {
		if other := (res.MachineCPUPublishS - res.ServerCPUPublishS - res.GenCPUPublishS) / wall; other > 0.2 {
			res.Notes = append(res.Notes, fmt.Sprintf("other processes used %.0f%% of a core during the publish phase: latency and CPU figures include that contention", 100*other))
		}
	}
	return res, nil
}

// confirmedClients are the clients that confirmed their subscription. It
// runs while their goroutines run, so it reads only the confirmed flags,
// which are set before the ready message is sent.
func (r *runner) confirmedClients() []*client {
	out := make([]*client, 0, len(r.clients))
	for _, c := range r.clients {
		if r.confirmed[c.idx].Load() {
			out = append(out, c)
		}
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func serverCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	return readCPU(pid)
}

func rateString(r float64) string {
	if r <= 0 {
		return "unpaced"
	}
	return fmt.Sprintf("%g", r)
}

// spawn starts the connections: at most DialConcurrency handshakes in
// flight, spread over Ramp when it is set.
func (r *runner) spawn(ctx context.Context, sem chan struct{}) {
	defer r.wg.Done()
	t0 := time.Now()
	n := r.cfg.Conns
	for i := 0; i < n; i++ {
		if r.cfg.Ramp > 0 {
			sleepCtx(ctx, time.Until(t0.Add(r.cfg.Ramp*time.Duration(i)/time.Duration(n))))
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for j := i; j < n; j++ {
				r.ready <- readyMsg{idx: j, err: "not started: run cancelled"}
			}
			return
		}
		r.wg.Add(1)
		switch {
		case r.cfg.WS:
			go r.clients[i].runWS(ctx, r, sem)
		case r.cfg.multiplexed():
			go r.clients[i].runH2(ctx, r, sem, r.h2[i%len(r.h2)])
		default:
			go r.clients[i].run(ctx, r, sem)
		}
	}
}

// readySignal returns signal, which reports the connection's setup (its
// connect latency, or why it failed) exactly once and frees its dial slot,
// and ensure, deferred, which reports a connection that ended first.
func (c *client) readySignal(r *runner, sem chan struct{}) (signal func(time.Duration, string), ensure func()) {
	signaled := false
	signal = func(d time.Duration, err string) {
		if signaled {
			return
		}
		signaled = true
		if err == "" {
			r.confirmed[c.idx].Store(true)
		}
		<-sem
		r.ready <- readyMsg{idx: c.idx, connect: d, err: err}
	}
	ensure = func() { signal(0, "ended before confirm_subscription: "+c.endErr) }
	return signal, ensure
}

// run is one connection's life: dial, request, response head, then events
// until the run closes it.
func (c *client) run(ctx context.Context, r *runner, sem chan struct{}) {
	defer r.wg.Done()
	signal, ensure := c.readySignal(r, sem)
	defer ensure()

	start := time.Now()
	d := net.Dialer{Timeout: r.cfg.ConnectTimeout, KeepAlive: -1}
	conn, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		c.endErr = errClass(err)
		signal(0, c.endErr)
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(start.Add(r.cfg.ConnectTimeout))
	rw := conn // what the request and response go over: conn or TLS on it
	if r.cfg.TLS == tlsH1 {
		if rw, err = tlsClient(ctx, conn, r.cfg.Base.Hostname()); err != nil {
			c.endErr = errClass(err)
			signal(0, "TLS handshake: "+c.endErr)
			return
		}
	}

	var req []byte
	req = append(req, "GET "...)
	req = append(req, r.cfg.EventsPath...)
	req = append(req, "?stream="...)
	req = append(req, url.QueryEscape(r.streams[c.stream])...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, r.host...)
	req = append(req, "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: ssebench\r\n\r\n"...)
	if _, err := rw.Write(req); err != nil {
		c.endErr = errClass(err)
		signal(0, c.endErr)
		return
	}
	br := bufio.NewReaderSize(rw, r.cfg.ReadBuffer)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.endErr = errClass(err)
		signal(0, "response: "+c.endErr)
		return
	}
	if reason := checkResponse(resp); reason != "" {
		signal(0, reason)
		return
	}
	c.readEvents(ctx, r, resp.Body, start, signal, func() { _ = conn.SetDeadline(time.Time{}) })
}

// checkResponse returns why a response head is not an SSE stream, or "".
func checkResponse(resp *http.Response) string {
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("HTTP %d %s", resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return "Content-Type " + ct
	}
	return ""
}

// readEvents parses the SSE body until it ends. onConfirm runs once, when
// confirm_subscription arrives, before signal reports the connection ready.
func (c *client) readEvents(ctx context.Context, r *runner, body io.Reader, start time.Time,
	signal func(time.Duration, string), onConfirm func()) {
	p := NewParser(body, r.cfg.ReadBuffer, 1<<20)
	for {
		ev, err := p.Next()
		if err != nil {
			if ctx.Err() == nil {
				c.endErr = errClass(err)
			}
			return
		}
		now := time.Now()
		switch string(ev.Type) {
		case "message":
			c.onData(r, ev.Data, now)
		case "ping":
			c.pings++
		case "welcome":
		case "confirm_subscription":
			if !c.confirmed {
				c.confirmed = true
				onConfirm()
				signal(now.Sub(start), "")
			}
		case "reject_subscription":
			signal(0, "reject_subscription")
			return
		case "disconnect":
			c.disconnects++
			c.discReason = string(ev.Data)
		default:
			c.otherEvents++
		}
	}
}

// newH2CTransport is a transport that speaks only HTTP/2 over cleartext TCP
// (prior knowledge) and keeps to one TCP connection: further streams wait
// for a free stream slot rather than open a second connection.
func newH2CTransport(dialTimeout time.Duration) *http.Transport {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: -1}
	return &http.Transport{
		Proxy:              nil,
		DialContext:        d.DialContext,
		Protocols:          &protos,
		MaxConnsPerHost:    1,
		DisableCompression: true,
		HTTP2: &http.HTTP2Config{
			StrictMaxConcurrentRequests: true,
		},
	}
}

// runH2 is one connection's life as an HTTP/2 stream on tr: request,
// response head, then events until the run closes it.
func (c *client) runH2(ctx context.Context, r *runner, sem chan struct{}, tr streamTransport) {
	defer r.wg.Done()
	signal, ensure := c.readySignal(r, sem)
	defer ensure()

	start := time.Now()
	// The stream is cancelled when the run closes its connections, or when
	// it is not confirmed within ConnectTimeout.
	errConnectTimeout := errors.New("connect timeout (no confirm_subscription)")
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(r.cfg.ConnectTimeout, func() { cancel(errConnectTimeout) })
	defer timer.Stop()

	u := *r.cfg.Base
	u.Path = r.cfg.EventsPath
	u.RawQuery = "stream=" + url.QueryEscape(r.streams[c.stream])
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, u.String(), nil)
	if err != nil {
		c.endErr = err.Error()
		signal(0, c.endErr)
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("User-Agent", "ssebench")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		if cause := context.Cause(sctx); cause == errConnectTimeout {
			err = cause
		}
		c.endErr = errClass(err)
		signal(0, "response: "+c.endErr)
		return
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != r.cfg.protoMajor() {
		signal(0, "response is "+resp.Proto+", not "+r.cfg.modeName())
		return
	}
	if reason := checkResponse(resp); reason != "" {
		signal(0, reason)
		return
	}
	c.readEvents(sctx, r, resp.Body, start, signal, func() { timer.Stop() })
	if !c.confirmed && context.Cause(sctx) == errConnectTimeout {
		c.endErr = errConnectTimeout.Error()
	}
}

func (c *client) onData(r *runner, data []byte, now time.Time) {
	r.received.Add(1)
	s, seq, sent, ok := parsePayload(data)
	if !ok {
		c.badPayload++
		return
	}
	if s != c.stream {
		c.misrouted++
		return
	}
	c.lastRecv = now.UnixNano()
	if c.tr.Add(seq) {
		r.unique.Add(1)
		r.lat.Record(now.UnixNano() - sent)
	}
}

// aggregate sums the clients once their goroutines have ended.
func (r *runner) aggregate(res *Result, pub *publisher) {
	ended := map[string]int{}
	disc := map[string]int{}
	var last int64
	for _, c := range r.clients {
		if !c.confirmed {
			continue
		}
		res.Pings += c.pings
		res.ServerDisconnects += c.disconnects
		if c.discReason != "" {
			disc[c.discReason]++
		}
		res.Misrouted += c.misrouted
		res.BadPayload += c.badPayload
		res.OtherEvents += c.otherEvents
		res.Duplicated += c.tr.Duplicates()
		res.OutOfOrder += c.tr.OutOfOrder()
		if c.endErr != "" {
			ended[c.endErr]++
		}
		last = max(last, c.lastRecv)
		if pub != nil {
			exp := uint64(pub.perStream[c.stream])
			lost := c.tr.Lost(exp, pub.failedSeqs[c.stream])
			res.Lost += lost
			if lost > 0 {
				res.ConnsWithLoss++
			}
			res.Delivered += c.tr.Distinct()
		}
	}
	res.EndedEarly = ended
	res.DisconnectReasons = disc
	res.Received = r.received.Load()
	res.LatencyN = r.lat.Count()
	res.LatP50 = ms(time.Duration(r.lat.Quantile(0.50)))
	res.LatP90 = ms(time.Duration(r.lat.Quantile(0.90)))
	res.LatP99 = ms(time.Duration(r.lat.Quantile(0.99)))
	res.LatP999 = ms(time.Duration(r.lat.Quantile(0.999)))
	res.LatMax = ms(time.Duration(r.lat.Max()))
	res.LatMean = r.lat.Mean() / 1e6
	if n := r.lat.negative.Load(); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d latencies were negative (clock step?) and counted as 0", n))
	}
	if pub != nil && last > 0 {
		span := time.Duration(last - res.publishStart.UnixNano())
		res.DeliverySpanS = span.Seconds()
		if span > 0 {
			res.DeliveredPerSec = float64(res.Delivered) / span.Seconds()
		}
	}
	if res.Delivered > 0 {
		if res.ServerCPUPublishS > 0 {
			res.ServerCPUPerMsgUs = res.ServerCPUPublishS * 1e6 / float64(res.Delivered)
		}
		res.GenCPUPerMsgUs = res.GenCPUPublishS * 1e6 / float64(res.Delivered)
	}
	if res.PublishPhase > 0 {
		res.ServerCPUPct = 100 * res.ServerCPUPublishS / res.PublishPhase.Seconds()
		res.GenCPUPct = 100 * res.GenCPUPublishS / res.PublishPhase.Seconds()
	}
	if len(ended) > 0 {
		keys := make([]string, 0, len(ended))
		for k := range ended {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			res.Notes = append(res.Notes, fmt.Sprintf("%d connections ended early: %s", ended[k], k))
		}
	}
	for k, v := range disc {
		res.Notes = append(res.Notes, fmt.Sprintf("%d disconnect events: %s", v, k))
	}
}
