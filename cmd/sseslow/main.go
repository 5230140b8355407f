//go:build linux

// Command sseslow measures what clients that stop reading cost a running
// server: the probe of issue 13 (-mode probe) and a soak (-mode soak).
//
// probe: N clients with 4 KiB receive buffers subscribe to one stream and
// never read; -mb of messages are published through the broadcast endpoint
// as fast as it takes them. It reports the server's peak RSS growth (from
// /proc/<pid>/status, sampled every 20 ms), the bytes the server's kernel
// still holds for those clients after the flood (/proc/net/tcp), and how
// long a client then takes to see its stream end when it reads again.
//
// soak: -conns connections of which -slow stop reading, -rate broadcasts/s
// for -duration, reporting every -interval the server's RSS, its goroutines
// (go_goroutines from -metrics) and the kernel's queued bytes.
//
//	go build -o /tmp/caddy ./cmd/caddy && go build -o /tmp/sseslow ./cmd/sseslow
//	/tmp/sseslow -mode probe -url http://127.0.0.1:8080 -pid $(pgrep -n caddy) -clients 50 -mb 32
//
// It only targets loopback addresses.
//
// Linux only: it reads /proc for the server's RSS and CPU and uses Linux
// process and socket attributes; the build tag keeps the cross-compiles of
// the module (.ci/run) clean.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	mode, url, key, stream, metrics string
	pid, clients, conns, slow       int
	ids, requests                   int
	mb, payload                     int
	rate                            float64
	duration, interval              time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "probe", "probe, soak, replay (one POST of -ids identifiers each asking for the whole history) or names (-requests POSTs of 100 new names each)")
	flag.IntVar(&o.ids, "ids", 100, "replay: identifiers in the POST")
	flag.IntVar(&o.requests, "requests", 3000, "names: POST requests")
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	flag.StringVar(&o.key, "key", "", "broadcast key")
	flag.StringVar(&o.stream, "stream", "slowprobe", "stream name")
	flag.StringVar(&o.metrics, "metrics", "/metrics", "metrics path (soak: go_goroutines)")
	flag.IntVar(&o.pid, "pid", 0, "server process id (RSS)")
	flag.IntVar(&o.clients, "clients", 1, "probe: slow clients")
	flag.IntVar(&o.mb, "mb", 32, "probe: megabytes to publish")
	flag.IntVar(&o.payload, "payload", 16<<10, "message size in bytes")
	flag.IntVar(&o.conns, "conns", 1000, "soak: connections")
	flag.IntVar(&o.slow, "slow", 100, "soak: connections that stop reading")
	flag.Float64Var(&o.rate, "rate", 500, "soak: broadcasts per second")
	flag.DurationVar(&o.duration, "duration", 30*time.Minute, "soak: how long")
	flag.DurationVar(&o.interval, "interval", time.Minute, "soak: report every")
	flag.Parse()
	u, err := url.Parse(o.url)
	if err != nil || !loopback(u.Hostname()) {
		fmt.Fprintln(os.Stderr, "sseslow: -url must be a loopback address")
		os.Exit(2)
	}
	switch o.mode {
	case "probe":
		err = probe(o, u)
	case "soak":
		err = soak(o, u)
	case "replay":
		err = replayProbe(o, u)
	case "names":
		err = namesProbe(o, u)
	default:
		err = fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sseslow:", err)
		os.Exit(1)
	}
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// dial opens a stream with a 4 KiB receive buffer (set before connecting,
// so that the kernel cannot widen the window) and reads its header.
func dial(u *url.URL, stream string, rcvbuf int) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		if rcvbuf <= 0 {
			return nil
		}
		var serr error
		_ = rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
		return serr
	}}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "GET /events?stream=%s HTTP/1.1\r\nHost: %s\r\n\r\n", url.QueryEscape(stream), u.Host)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if strings.HasPrefix(line, "event: confirm_subscription") {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// publish sends n messages of size bytes to stream in batches of 16 (fewer
// for big messages: the broadcast body is bounded).
func publish(o options, u *url.URL, stream string, n, size int) error {
	data := strings.Repeat("x", size)
	batch := min(16, max(1, (512<<10)/max(size, 1)))
	var parts []string
	flush := func() error {
		if len(parts) == 0 {
			return nil
		}
		req, _ := http.NewRequest(http.MethodPost, u.String()+"/_broadcast", strings.NewReader("["+strings.Join(parts, ",")+"]"))
		if o.key != "" {
			req.Header.Set("Authorization", "Bearer "+o.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("broadcast: %s", resp.Status)
		}
		parts = parts[:0]
		return nil
	}
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf(`{"stream":%q,"data":"%d %s"}`, stream, i, data))
		if len(parts) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// rssKB is the process's resident set in KiB.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// kernelQueued sums the unsent bytes (tx_queue) of the server's sockets
// whose peers are the given local ports, and returns the sum and the max.
func kernelQueued(serverPort int, ports map[int]bool) (sum, most int64) {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 5 || fs[0] == "sl" {
				continue
			}
			lp := hexPort(fs[1])
			rp := hexPort(fs[2])
			if lp != serverPort || !ports[rp] {
				continue
			}
			tx, _, _ := strings.Cut(fs[4], ":")
			n, _ := strconv.ParseInt(tx, 16, 64)
			sum += n
			most = max(most, n)
		}
	}
	return sum, most
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	n, _ := strconv.ParseInt(addr[i+1:], 16, 32)
	return int(n)
}

func probe(o options, u *url.URL) error {
	serverPort, _ := strconv.Atoi(u.Port())
	conns := make([]net.Conn, 0, o.clients)
	ports := map[int]bool{}
	for i := 0; i < o.clients; i++ {
		c, err := dial(u, o.stream, 4096)
		if err != nil {
			return err
		}
		defer c.Close()
		conns = append(conns, c)
		ports[c.LocalAddr().(*net.TCPAddr).Port] = true
	}
	time.Sleep(time.Second)
	base := rssKB(o.pid)
	var peak atomic.Int64
	peak.Store(base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r := rssKB(o.pid); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	n := o.mb << 20 / o.payload
	start := time.Now()
	if err := publish(o, u, o.stream, n, o.payload); err != nil {
		return err
	}
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	sum, most := kernelQueued(serverPort, ports)
	// The client reads again: how long until its stream ends?
	endStart := time.Now()
	var ended, slowest time.Duration
	var endedN int
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		t0 := time.Now()
		_, err := io.Copy(io.Discard, c)
		if err == nil || errors.Is(err, syscall.ECONNRESET) {
			endedN++
			ended += time.Since(t0)
		}
		slowest = max(slowest, time.Since(t0))
	}
	_ = endStart
	fmt.Printf("clients %d  published %d MB (%d x %d B) in %v\n", o.clients, o.mb, n, o.payload, took.Round(time.Millisecond))
	fmt.Printf("peak RSS growth %.1f MB (base %.1f MB)\n", float64(peak.Load()-base)/1024, float64(base)/1024)
	fmt.Printf("kernel bytes still queued 2 s after the flood: %d KiB total, %d KiB max per client\n", sum>>10, most>>10)
	fmt.Printf("streams ended when read again: %d/%d, slowest %v\n", endedN, o.clients, slowest.Round(time.Millisecond))
	return nil
}

func goroutines(u *url.URL, path string) int {
	resp, err := http.Get(u.String() + path)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return -1
}

func soak(o options, u *url.URL) error {
	serverPort, _ := strconv.Atoi(u.Port())
	var slow []net.Conn
	slowPorts := map[int]bool{}
	allPorts := map[int]bool{}
	var readers sync.WaitGroup
	done := make(chan struct{})
	var reconnects atomic.Int64
	for i := 0; i < o.conns; i++ {
		stream := fmt.Sprintf("%s-%d", o.stream, i%10)
		if i < o.slow {
			c, err := dial(u, stream, 4096)
			if err != nil {
				return err
			}
			defer c.Close()
			slow = append(slow, c)
			slowPorts[c.LocalAddr().(*net.TCPAddr).Port] = true
			allPorts[c.LocalAddr().(*net.TCPAddr).Port] = true
			continue
		}
		c, err := dial(u, stream, 0)
		if err != nil {
			return err
		}
		allPorts[c.LocalAddr().(*net.TCPAddr).Port] = true
		readers.Add(1)
		go func(c net.Conn, stream string) {
			defer readers.Done()
			buf := make([]byte, 32<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					c.Close()
					select {
					case <-done:
						return
					default:
					}
					reconnects.Add(1)
					if c, err = dial(u, stream, 0); err != nil {
						return
					}
				}
			}
		}(c, stream)
		go func(c net.Conn) { <-done; c.Close() }(c)
	}
	fmt.Printf("soak: %d connections (%d slow), %.0f broadcasts/s of %d B for %v\n", o.conns, o.slow, o.rate, o.payload, o.duration)
	fmt.Println("elapsed\tRSS MB\tgoroutines\tkernel KiB (slow)\treconnects")
	report := func(el time.Duration) {
		sum, _ := kernelQueued(serverPort, slowPorts)
		fmt.Printf("%v\t%.1f\t%d\t%d\t%d\n", el.Round(time.Second), float64(rssKB(o.pid))/1024, goroutines(u, o.metrics), sum>>10, reconnects.Load())
	}
	report(0)
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate * 16))
	defer tick.Stop()
	rep := time.NewTicker(o.interval)
	defer rep.Stop()
	end := time.After(o.duration)
	i := 0
	for {
		select {
		case <-tick.C:
			// 16 broadcasts per request, to reach the rate from one goroutine.
			if err := publish(o, u, fmt.Sprintf("%s-%d", o.stream, i%10), 16, o.payload); err != nil {
				return err
			}
			i++
		case <-rep.C:
			report(time.Since(start))
		case <-end:
			report(time.Since(start))
			close(done)
			return nil
		}
	}
}

// cpuTicks is the process's user+system CPU time in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// peakRSS samples the RSS every 20 ms until stop is closed.
func peakRSS(pid int, stop <-chan struct{}) *atomic.Int64 {
	var peak atomic.Int64
	peak.Store(rssKB(pid))
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r := rssKB(pid); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	return &peak
}

// replayProbe: the stream holds 100 messages of -payload bytes; one
// anonymous POST names -ids distinct identifiers of it, each with
// "history":{"since":1}, from a client that never reads.
func replayProbe(o options, u *url.URL) error {
	if err := publish(o, u, o.stream, 100, o.payload); err != nil {
		return err
	}
	var lines []string
	for i := 0; i < o.ids; i++ {
		id := fmt.Sprintf(`{\"channel\":\"$pubsub\",\"stream_name\":\"%s\",\"n\":%d}`, o.stream, i)
		lines = append(lines, `{"identifier":"`+id+`","history":{"since":1}}`)
	}
	body := strings.Join(lines, "\n")
	time.Sleep(time.Second)
	base, cpu0 := rssKB(o.pid), cpuTicks(o.pid)
	stop := make(chan struct{})
	peak := peakRSS(o.pid, stop)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		_ = rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return serr
	}}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		return err
	}
	fmt.Fprintf(c, "POST /events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", u.Host, len(body), body)
	time.Sleep(5 * time.Second)
	c.Close()
	time.Sleep(10 * time.Second)
	close(stop)
	fmt.Printf("replay: %d identifiers x 100 messages of %d B, client never reads\n", o.ids, o.payload)
	fmt.Printf("peak RSS growth %.1f MB (base %.1f MB); 10 s after the client left %+.1f MB; server CPU %.2f s\n",
		float64(peak.Load()-base)/1024, float64(base)/1024, float64(rssKB(o.pid)-base)/1024, float64(cpuTicks(o.pid)-cpu0)/100)
	return nil
}

// namesProbe: -requests POSTs, each of 100 new 550-byte names, connecting
// and closing at once.
func namesProbe(o options, u *url.URL) error {
	time.Sleep(time.Second)
	base := rssKB(o.pid)
	stop := make(chan struct{})
	peak := peakRSS(o.pid, stop)
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for r := 0; r < o.requests; r++ {
		var lines []string
		for i := 0; i < 100; i++ {
			name := fmt.Sprintf("%s-%d-%d-", o.stream, r, i)
			name += strings.Repeat("n", 550-len(name))
			lines = append(lines, fmt.Sprintf(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"%s\"}"}`, name))
		}
		body := strings.Join(lines, "\n")
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				return
			}
			fmt.Fprintf(c, "POST /events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", u.Host, len(body), body)
			// Read the status line, so that the subscriptions exist, then leave.
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = bufio.NewReader(c).ReadString('\n')
			c.Close()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	time.Sleep(10 * time.Second)
	close(stop)
	fmt.Printf("names: %d POSTs of 100 new 550-byte names in %v\n", o.requests, took.Round(time.Millisecond))
	fmt.Printf("peak RSS growth %.1f MB (base %.1f MB); 10 s after %+.1f MB\n",
		float64(peak.Load()-base)/1024, float64(base)/1024, float64(rssKB(o.pid)-base)/1024)
	return nil
}
