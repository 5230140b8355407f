package anycablesse

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of what a hostile or slow client can make the server hold: every
// figure is bounded by configuration, never by what the client asks.

// publishBig publishes n messages of size bytes each to stream, in batches.
func publishBig(t *testing.T, stream string, n, size int) {
	t.Helper()
	payload := strings.Repeat("x", size)
	for i := 0; i < n; i += 10 {
		var parts []string
		for k := i; k < n && k < i+10; k++ {
			parts = append(parts, fmt.Sprintf(`{"stream":%q,"data":"%d %s"}`, stream, k+1, payload))
		}
		mustBroadcast(t, testKey, "["+strings.Join(parts, ",")+"]")
	}
}

// dialSlow connects with a 4 KiB receive buffer set before the handshake,
// so that the kernel cannot autotune the window: a client that stops
// reading fills the server's socket at once.
func dialSlow(t *testing.T) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return serr
	}}
	conn, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", testPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// One POST naming many identifiers of one stream, each asking for the
// whole history, is answered with at most max_pending of history; the
// connection then ends with disconnect reconnect:true (the client resumes
// from its last event). Before, every identifier's replay was built and
// queued in full: history x identifiers.
func TestReplayIsBoundedByMaxPending(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		max_pending 64KiB
		history_limit 100
	}`)
	publishBig(t, "replay", 30, 10<<10)
	var lines []string
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf(`{\"channel\":\"$pubsub\",\"stream_name\":\"replay\",\"n\":%d}`, i)
		lines = append(lines, `{"identifier":"`+id+`","history":{"since":1}}`)
	}
	c := openStream(t, http.MethodPost, "/events", strings.Join(lines, "\n"), nil)
	if c.resp.StatusCode != 200 {
		t.Fatalf("status %d %s", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	var last event
	for {
		ev, ok := c.next(10 * time.Second)
		if !ok {
			break
		}
		last = ev
	}
	if n := len(c.Raw()); n > 80<<10 {
		t.Fatalf("one request got %d bytes of replay; max_pending is 64 KiB", n)
	}
	if last.Event != "disconnect" || last.Data != `{"type":"disconnect","reason":"too_slow","reconnect":true}` {
		t.Fatalf("last event %+v", last)
	}
}

// The backlog of a taken-over connection is written under write_timeout:
// a client that reads nothing cannot hold the handler (or the memory of its
// backlog) beyond it. Before, that write had no deadline at all.
func TestBacklogWriteHasDeadline(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		max_pending 32MiB
		write_timeout 500ms
		history_limit 100
	}
	metrics /metrics`)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	publishBig(t, "backlog", 100, 80<<10) // 8 MB: more than any socket buffer
	conn := dialSlow(t)
	fmt.Fprintf(conn, "GET /events?stream=backlog&history_since=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", testPort)
	waitMetric(t, "caddy_anycable_sse_connections_open", 1)
	// The client never reads; the server gives up on it by itself.
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the stream did not end: %v", err)
	}
}

// max_live_streams refuses a connection that would open one stream too
// many with 429 and a reason; a stream nobody published to is gone once
// its last subscriber leaves, so the room comes back.
func TestLiveStreamCap(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		max_live_streams 2
	}
	metrics /metrics`)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	a := subscribe(t, "stream=cap-a")
	b := subscribe(t, "stream=cap-b")
	c := openStream(t, http.MethodGet, "/events?stream=cap-c", "", nil)
	if c.resp.StatusCode != 429 || !strings.Contains(c.resp.Header.Get("X-AnyCable-Error"), "limit") {
		t.Fatalf("third stream: %d %q", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	c.Close()
	if n := scrape(t, "caddy_anycable_sse_hub_limit_refusals_total"); n < 1 {
		t.Fatalf("hub_limit_refusals_total = %v", n)
	}
	a.Close()
	b.Close()
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	for _, s := range []string{"cap-c", "cap-d"} {
		d := subscribe(t, "stream="+s)
		d.Close()
	}
}

// kernelQueued is what the kernel still holds unsent on the server's side
// of conn (the client's end), from /proc/net/tcp.
func kernelQueued(t *testing.T, conn net.Conn) int64 {
	t.Helper()
	// The server listens on a dual-stack socket: its side may be in tcp6.
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	raw6, _ := os.ReadFile("/proc/net/tcp6")
	raw = append(raw, raw6...)
	local := fmt.Sprintf(":%04X", testPort)
	remote := fmt.Sprintf(":%04X", conn.LocalAddr().(*net.TCPAddr).Port)
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "sl" || !strings.HasSuffix(f[1], local) || !strings.HasSuffix(f[2], remote) {
			continue
		}
		tx, _, _ := strings.Cut(f[4], ":")
		n, err := strconv.ParseInt(tx, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 0
}

// A client that stops reading pins at most send_buffer of kernel memory
// (Linux doubles what is set), whatever is published; when it is cut as
// too_slow, the connection is reset, so the kernel drops the stale backlog
// at once and the client sees the end now instead of after draining it.
func TestSlowClientKernelShareAndReset(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		max_pending 2MiB
		write_timeout 60s
		send_buffer 64KiB
		history_limit 10
	}
	metrics /metrics`)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	drops := scrape(t, "caddy_anycable_sse_slow_client_drops_total")
	conn := dialSlow(t)
	fmt.Fprintf(conn, "GET /events?stream=kernel HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", testPort)
	waitMetric(t, "caddy_anycable_sse_connections_open", 1)
	publishBig(t, "kernel", 20, 64<<10) // 1.3 MB: within max_pending
	peak := int64(0)
	for i := 0; i < 50; i++ {
		peak = max(peak, kernelQueued(t, conn))
		time.Sleep(20 * time.Millisecond)
	}
	if peak == 0 || peak > 4*64<<10 {
		t.Fatalf("the kernel holds %d unsent bytes for one slow client; send_buffer is 64 KiB", peak)
	}
	publishBig(t, "kernel", 20, 64<<10) // past max_pending: cut
	waitMetric(t, "caddy_anycable_sse_slow_client_drops_total", drops+1)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the cut connection ended with %v, not a reset", err)
	}
}

// A POST whose body trickles in holds a connection: it counts against
// max_connections_per_ip while it is read, and the read has a deadline
// (the write timeout), after which it is refused with 400.
func TestSlowPostBodyIsCountedAndBounded(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		max_connections_per_ip 2
		write_timeout 3s
	}
	metrics /metrics`)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	var slow []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", testPort))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"identifier\":", testPort)
		slow = append(slow, c)
	}
	// Both bodies are being read: a third connection from the address is
	// one too many. (Retried: the two requests may not be read yet; a
	// stream that got in is let go before the next try.)
	time.Sleep(300 * time.Millisecond) // let both requests reach the handler
	refused := false
	for i := 0; i < 50 && !refused; i++ {
		resp, err := http.Get(baseURL() + "/events?stream=post-slow")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		refused = resp.StatusCode == http.StatusTooManyRequests
		if !refused {
			waitMetric(t, "caddy_anycable_sse_connections_open", 0)
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !refused {
		t.Fatal("two slow POST bodies did not count against max_connections_per_ip 2")
	}
	for _, c := range slow {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.Contains(line, " 400 ") {
			t.Fatalf("slow body: %q %v", line, err)
		}
	}
	a := subscribe(t, "stream=post-slow")
	a.Close()
}

// Over HTTP/2 a stream cut for slowness is reset (RST_STREAM), not ended
// after its stale backlog, and the other streams of the connection go on.
func TestHTTP2SlowStreamIsReset(t *testing.T) {
	loadCaddyWithGlobal(t, `servers {
		protocols h1 h2c
	}`, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		max_pending 256KiB
		write_timeout 2s
		history_limit 10
	}
	metrics /metrics`)
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protos}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	slow, err := client.Get(baseURL() + "/events?stream=h2slow")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Body.Close()
	fastResp, err := client.Get(baseURL() + "/events?stream=h2fast")
	if err != nil {
		t.Fatal(err)
	}
	if slow.ProtoMajor != 2 || fastResp.ProtoMajor != 2 {
		t.Fatalf("protos %s %s", slow.Proto, fastResp.Proto)
	}
	fast := &sseClient{t: t, resp: fastResp, cancel: func() {}, events: make(chan event, 100), done: make(chan struct{})}
	go fast.read()
	defer fastResp.Body.Close()
	fast.mustNext()
	fast.mustNext()
	// More than the client's stream window (4 MiB in Go's transport) and
	// max_pending: the unread stream is cut.
	publishBig(t, "h2slow", 100, 64<<10)
	waitMetric(t, "caddy_anycable_sse_connections_open", 1)
	_, err = io.Copy(io.Discard, slow.Body)
	if err == nil || !strings.Contains(err.Error(), "stream error") {
		t.Fatalf("the cut stream ended with %v, not a stream reset", err)
	}
	mustBroadcast(t, testKey, `{"stream":"h2fast","data":"still here"}`)
	if ev := fast.mustNext(); ev.Data != "still here" {
		t.Fatalf("the other stream of the connection: %+v", ev)
	}
}
