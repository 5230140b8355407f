//go:build linux

// Command ssebench is the load generator of caddy-anycable-sse: it opens
// many SSE connections to a running server (the module, -mode module) or
// to a bare net/http SSE server it starts itself (-mode floor), publishes
// timestamped, sequenced messages through the broadcast endpoint at a fixed
// rate, and reports connect and delivery latency, loss, duplicates, order,
// throughput, and the server's memory and CPU next to its own CPU.
//
//	go build -o /tmp/ssebench ./cmd/ssebench
//	/tmp/ssebench -compare -url http://127.0.0.1:8080 -pid $(pgrep -n caddy) \
//	    -conns 5000 -streams 10 -rate 50 -messages 200 -payload 256
//
// It always stops by itself (-duration), only targets loopback addresses
// unless -allow-remote, and closes every connection it opened.
//
// Linux only: it reads /proc for the server's RSS and CPU and uses Linux
// process and socket attributes; the build tag keeps the cross-compiles of
// the module (.ci/run) clean.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"
)

type options struct {
	mode          string
	compare       bool
	url           string
	eventsPath    string
	broadcastPath string
	key           string
	pid           int
	allowRemote   bool

	conns, streams  int
	ramp            time.Duration
	dialConcurrency int
	connectTimeout  time.Duration
	settle          time.Duration

	rate       float64
	messages   int
	payload    int
	batch      int
	publishers int
	drain      time.Duration
	hold       time.Duration

	duration     time.Duration
	pingInterval time.Duration
	listen       string
	readBuffer   int
	streamPrefix string

	json, markdown bool
	cpuProfile     string

	h2c     bool
	h2conns int

	tlsH1, h2, h3 bool // TLS modes (tls.go)
	floorTLS      bool // floor-server: serve over TLS and HTTP/3

	ws         bool // WebSocket mode (wsclient.go)
	wsPath     string
	wsProtocol string
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	var o options
	fs := flag.NewFlagSet("ssebench", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "module", "module: measure the server at -url; floor: measure a bare net/http SSE server started by the tool")
	fs.BoolVar(&o.compare, "compare", false, "measure the module at -url (with -pid), then the floor, and print both side by side")
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the server (mode module)")
	fs.StringVar(&o.eventsPath, "events-path", "/events", "SSE endpoint path")
	fs.StringVar(&o.broadcastPath, "broadcast-path", "/_broadcast", "broadcast endpoint path")
	fs.StringVar(&o.key, "key", "local-dev-key", "broadcast key (Authorization: Bearer)")
	fs.IntVar(&o.pid, "pid", 0, "server process id, for RSS (/proc/<pid>/status) and CPU (/proc/<pid>/stat)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a -url whose host is not a loopback address")
	fs.IntVar(&o.conns, "conns", 1000, "SSE connections (one TCP connection each)")
	fs.IntVar(&o.streams, "streams", 10, "streams; connection i subscribes to stream i % streams")
	fs.DurationVar(&o.ramp, "ramp", 0, "spread connection starts over this duration (0: as fast as -dial-concurrency allows)")
	fs.IntVar(&o.dialConcurrency, "dial-concurrency", 256, "connection handshakes in flight at most")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 30*time.Second, "per connection: dial to confirm_subscription")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "idle time after all connections are open, before reading the server's RSS")
	fs.Float64Var(&o.rate, "rate", 50, "messages per second over all streams (0: as fast as the publishers go)")
	fs.IntVar(&o.messages, "messages", 200, "messages to publish in total (message k goes to stream k % streams)")
	fs.IntVar(&o.payload, "payload", 256, "payload size in bytes (the data JSON object; at least ~45)")
	fs.IntVar(&o.batch, "batch", 1, "messages per broadcast request (a JSON array when > 1)")
	fs.IntVar(&o.publishers, "publishers", 4, "concurrent publishers (each owns a share of the streams, so per-stream order is kept)")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "after the last publish, wait at most this long for outstanding deliveries")
	fs.DurationVar(&o.hold, "hold", 0, "after the drain, keep the connections open and idle this long (pings, idle CPU)")
	fs.DurationVar(&o.duration, "duration", 5*time.Minute, "hard bound on the whole run")
	fs.DurationVar(&o.pingInterval, "ping-interval", 15*time.Second, "floor server: ping interval (set it to the module's)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "floor-server mode only: listen address")
	fs.StringVar(&o.streamPrefix, "stream-prefix", "", "stream names are <prefix><index> (default: sb-<random run id>-)")
	fs.IntVar(&o.readBuffer, "read-buffer", 4096, "read buffer per connection, bytes")
	fs.BoolVar(&o.h2c, "h2c", false, "open the SSE connections as HTTP/2 streams over cleartext TCP (h2c, prior knowledge), multiplexed over -h2conns TCP connections; the broadcast requests stay HTTP/1.1")
	fs.IntVar(&o.h2conns, "h2conns", 0, "with -h2c: TCP connections the streams share, stream i on connection i % h2conns (0: one per 100 streams)")
	fs.BoolVar(&o.tlsH1, "tls", false, "open each SSE connection as HTTP/1.1 over TLS (-url https://...); the floor serves TLS with a certificate made at start")
	fs.BoolVar(&o.h2, "h2", false, "open the SSE connections as HTTP/2 streams over TLS, multiplexed over -h2conns TCP connections (-url https://...)")
	fs.BoolVar(&o.h3, "h3", false, "open the SSE connections as HTTP/3 streams (quic-go), multiplexed over -h2conns QUIC connections (-url https://...)")
	fs.BoolVar(&o.floorTLS, "floor-tls", false, "floor-server mode only: serve HTTP/1.1 and HTTP/2 over TLS and HTTP/3 on the same port")
	fs.BoolVar(&o.ws, "ws", false, "open each connection as an Action Cable WebSocket to -ws-path that subscribes to its $pubsub stream; the broadcasts stay HTTP POSTs; the floor serves WebSocket too")
	fs.StringVar(&o.wsPath, "ws-path", floorWSPath, "with -ws: the WebSocket endpoint path (the module's websocket_path)")
	fs.StringVar(&o.wsProtocol, "ws-protocol", wsProtoV1, "with -ws: the subprotocol offered, "+wsProtoV1+" or "+wsProtoExt)
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the generator's own CPU profile to this file")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	fs.BoolVar(&o.markdown, "markdown", false, "print the results as a Markdown table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "ssebench: unexpected arguments:", fs.Args())
		return 2
	}

	if o.mode == "floor-server" {
		if err := runFloorServer(o.listen, o.key, o.pingInterval, o.duration, o.floorTLS); err != nil {
			fmt.Fprintln(os.Stderr, "floor-server:", err)
			return 1
		}
		return 0
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "ssebench:", err)
		return 2
	}
	debug.SetGCPercent(200)
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ssebench:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "ssebench:", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	limit, err := raiseNoFile(uint64(o.conns) + 1024)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ssebench: raising RLIMIT_NOFILE:", err)
	}
	if limit < uint64(o.conns)+64 {
		fmt.Fprintf(os.Stderr, "ssebench: RLIMIT_NOFILE is %d, too low for %d connections (raise the hard limit: ulimit -Hn)\n", limit, o.conns)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, o.duration, errors.New("-duration reached"))
	defer cancel()
	// Last resort: whatever hangs, the process ends shortly after -duration.
	watchdog := time.AfterFunc(o.duration+30*time.Second, func() {
		fmt.Fprintln(os.Stderr, "ssebench: watchdog: still running 30s after -duration, exiting")
		killChildren()
		os.Exit(3)
	})
	defer watchdog.Stop()
	defer killChildren()

	var results []*Result
	runModule := o.compare || o.mode == "module"
	runFloor := o.compare || o.mode == "floor"
	if runModule {
		if o.pid == 0 {
			fmt.Fprintln(os.Stderr, "ssebench: no -pid: server RSS and CPU will not be measured")
		}
		base, _ := url.Parse(o.url)
		res, err := Run(ctx, o.config("module", base, o.pid))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ssebench: module run:", err)
			return 1
		}
		if o.pid > 0 {
			res.Target += fmt.Sprintf(" (pid %d)", o.pid)
		}
		results = append(results, res)
	}
	if runFloor && ctx.Err() == nil {
		if runModule {
			sleepCtx(ctx, 2*time.Second) // let the first run's sockets close
		}
		fp, err := startFloor(o.key, o.pingInterval, o.duration, o.tlsMode() != tlsNone)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ssebench: floor:", err)
			return 1
		}
		registerChild(fp)
		base := &url.URL{Scheme: o.scheme(), Host: fp.Addr}
		res, err := Run(ctx, o.config("floor", base, fp.Pid))
		fp.Stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ssebench: floor run:", err)
			return 1
		}
		server := "net/http"
		if o.ws {
			server = "net/http + gobwas/ws"
		}
		res.Target = "floor (" + server + ", pid " + fmt.Sprint(fp.Pid) + ", " + fp.Addr + ")"
		results = append(results, res)
	}
	if ctx.Err() != nil {
		for _, r := range results {
			r.Notes = append(r.Notes, "run cut short: "+context.Cause(ctx).Error())
		}
	}

	switch {
	case o.json:
		if err := WriteJSON(os.Stdout, results); err != nil {
			fmt.Fprintln(os.Stderr, "ssebench:", err)
			return 1
		}
	case o.markdown:
		WriteMarkdown(os.Stdout, results)
	default:
		WriteText(os.Stdout, results)
	}
	return 0
}

func (o *options) config(name string, base *url.URL, pid int) Config {
	return Config{
		Name:            name,
		Base:            base,
		EventsPath:      o.eventsPath,
		BroadcastPath:   o.broadcastPath,
		Key:             o.key,
		Pid:             pid,
		Conns:           o.conns,
		Streams:         o.streams,
		Ramp:            o.ramp,
		DialConcurrency: o.dialConcurrency,
		ConnectTimeout:  o.connectTimeout,
		Settle:          o.settle,
		Rate:            o.rate,
		Messages:        o.messages,
		Payload:         o.payload,
		Batch:           o.batch,
		Publishers:      o.publishers,
		Drain:           o.drain,
		Hold:            o.hold,
		ReadBuffer:      o.readBuffer,
		StreamPrefix:    o.streamPrefix,
		H2C:             o.h2c,
		H2Conns:         o.h2conns,
		TLS:             o.tlsMode(),
		WS:              o.ws,
		WSPath:          o.wsPath,
		WSProtocol:      o.wsProtocol,
	}
}

func (o *options) validate() error {
	switch o.mode {
	case "module", "floor":
	default:
		return fmt.Errorf("-mode must be module or floor, not %q", o.mode)
	}
	switch {
	case o.conns < 1:
		return errors.New("-conns must be at least 1")
	case o.streams < 1:
		return errors.New("-streams must be at least 1")
	case o.messages < 0:
		return errors.New("-messages must not be negative")
	case o.rate < 0:
		return errors.New("-rate must not be negative")
	case o.batch < 1 || o.batch > 1000:
		return errors.New("-batch must be in 1..1000 (the module's default max_broadcast_batch)")
	case o.publishers < 1:
		return errors.New("-publishers must be at least 1")
	case o.dialConcurrency < 1:
		return errors.New("-dial-concurrency must be at least 1")
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.h2conns < 0:
		return errors.New("-h2conns must not be negative")
	case o.h2conns > 0 && !o.h2c && !o.h2 && !o.h3:
		return errors.New("-h2conns needs -h2c, -h2 or -h3")
	case o.readBuffer < 256:
		return errors.New("-read-buffer must be at least 256")
	case !strings.HasPrefix(o.eventsPath, "/") || !strings.HasPrefix(o.broadcastPath, "/"):
		return errors.New("-events-path and -broadcast-path must start with /")
	}
	if o.mode == "module" || o.compare {
		u, err := url.Parse(o.url)
		if err != nil {
			return fmt.Errorf("-url: %w", err)
		}
		if u.Scheme != o.scheme() {
			return fmt.Errorf("-url: %s:// goes with %s, got %q", o.scheme(), o.modeFlags(), u.Scheme)
		}
		if u.Host == "" {
			return errors.New("-url has no host")
		}
		if !o.allowRemote {
			if err := checkLoopback(u.Hostname()); err != nil {
				return err
			}
		}
	}
	if err := o.validateTLS(); err != nil {
		return err
	}
	if err := o.validateWS(); err != nil {
		return err
	}
	if o.h2c || o.h2 {
		c := o.config("", &url.URL{}, 0)
		if per := (o.conns + c.h2ConnCount() - 1) / c.h2ConnCount(); per > 250 {
			fmt.Fprintf(os.Stderr, "ssebench: %d streams per TCP connection: above the 250 concurrent streams Go's HTTP/2 server (Caddy, the floor) allows, the rest wait for a slot until -connect-timeout; raise -h2conns\n", per)
		}
	}
	warnH3StreamLimit(o)
	return nil
}

// checkLoopback refuses a host that is not, or does not resolve only to, a
// loopback address.
func checkLoopback(host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url host %s is not a loopback address (use -allow-remote to load another machine)", host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("-url host %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("-url host %s resolves to nothing", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("-url host %s resolves to %s, not loopback (use -allow-remote to load another machine)", host, a.IP)
		}
	}
	return nil
}

var (
	childMu  sync.Mutex
	children []*floorProcess
)

func registerChild(fp *floorProcess) {
	childMu.Lock()
	children = append(children, fp)
	childMu.Unlock()
}

// killChildren kills floor servers still running (they also die with this
// process through Pdeathsig and stdin EOF).
func killChildren() {
	childMu.Lock()
	defer childMu.Unlock()
	for _, fp := range children {
		select {
		case <-fp.done:
		default:
			_ = fp.cmd.Process.Kill()
		}
	}
	children = nil
}
