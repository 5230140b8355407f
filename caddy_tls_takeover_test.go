package anycablesse

// HTTP/1.1 over TLS is taken over like plaintext (package conn, tlswrite.go):
// no goroutine per idle stream, slow clients cut as too_slow without holding
// anyone else up, and a client that stalls and comes back gets every byte,
// in order, in records crypto/tls can decrypt.

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gatedReader stops reading its socket while paused, as a client that stops
// reading does: the server's writes then fill the socket buffers.
type gatedReader struct {
	r    io.Reader
	wait atomic.Pointer[chan struct{}]
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if ch := g.wait.Load(); ch != nil {
		<-*ch
	}
	return g.r.Read(p)
}

func (g *gatedReader) pause() {
	ch := make(chan struct{})
	g.wait.Store(&ch)
}

func (g *gatedReader) resume() {
	if ch := g.wait.Swap(nil); ch != nil {
		close(*ch)
	}
}

// dialTLSStream opens an event stream on a TLS connection of its own with
// ALPN http/1.1, its receive buffer capped at rcvbuf bytes when not 0. The
// response is read through the returned gate.
func dialTLSStream(t *testing.T, path string, rcvbuf int) (*tls.Conn, *http.Response, *gatedReader) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		// Before connect, so that the window the client offers is small.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	cfg := &tls.Config{RootCAs: tlsRoots(t, tlsStorage()), NextProtos: []string{"http/1.1"}, ServerName: "127.0.0.1"}
	tc, err := tls.DialWithDialer(&d, "tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	fmt.Fprintf(tc, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, tlsPort)
	g := &gatedReader{r: tc}
	resp, err := http.ReadResponse(bufio.NewReaderSize(g, 4096), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Fatalf("GET %s: %s %s", path, resp.Proto, resp.Status)
	}
	return tc, resp, g
}

// tlsEvents reads a raw TLS stream's events like EventSource, through g.
func tlsEvents(t *testing.T, tc *tls.Conn, resp *http.Response, g *gatedReader) *sseClient {
	stop := func() {
		tc.Close()
		g.resume() // a paused reader must see the close
	}
	c := &sseClient{t: t, resp: resp, cancel: stop, events: make(chan event, 10000), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.Close)
	return c
}

// bigMessage is the data of message seq: its number and a filler whose
// every byte depends on it, so a lost, repeated or garbled byte shows.
func bigMessage(seq, size int) string {
	return fmt.Sprintf("%d %s", seq, strings.Repeat(string(rune('a'+seq%26)), size))
}

// expectMessages reads data events 1..n, each exactly bigMessage.
func expectMessages(t *testing.T, what string, c *sseClient, n, size int) {
	t.Helper()
	for seq := 1; seq <= n; seq++ {
		ev, ok := c.next(20 * time.Second)
		if !ok {
			t.Fatalf("%s: stream ended or stalled before message %d of %d (%s)", what, seq, n, c.readErr())
		}
		if ev.Event != "" && ev.Event != "message" {
			t.Fatalf("%s: got %q event before message %d", what, ev.Event, seq)
		}
		if ev.Data != bigMessage(seq, size) {
			head := ev.Data
			if len(head) > 40 {
				head = head[:40]
			}
			t.Fatalf("%s: message %d is %d bytes starting %q, want %d bytes", what, seq, len(ev.Data), head, len(bigMessage(seq, size)))
		}
	}
}

func skipToConfirm(t *testing.T, what string, c *sseClient) {
	t.Helper()
	expectEvent(t, what, c, "welcome")
	expectEvent(t, what, c, "confirm_subscription")
}

// Idle HTTP/1.1 streams over TLS leave net/http: the pool's gauge counts
// them, they add no goroutine each, they still receive, and their end is
// noticed on the TCP socket under TLS, whether the client closes it or
// only says close_notify. HTTP/2 streams stay on the handler path.
func TestTLSHTTP1StreamsAreTakenOver(t *testing.T) {
	loadTLSCaddy(t, tlsSite)
	s := newTLSSession(t, tlsProtocols[0])
	s.waitMetric("caddy_anycable_sse_connections_open", 0)
	s.waitMetric("caddy_anycable_sse_taken_over_connections", 0)
	s.client.CloseIdleConnections()

	const n = 100
	before := goroutinesSettled()
	conns := make([]*tls.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		tc, resp, _ := dialTLSStream(t, "/events?stream=tls-idle", 0)
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			if strings.HasPrefix(line, "event: confirm_subscription") {
				break
			}
		}
		conns[i], readers[i] = tc, br
	}
	grew := goroutinesSettled() - before
	t.Logf("%d idle TLS streams added %d goroutines", n, grew)
	if grew > n/10 {
		t.Fatalf("%d goroutines for %d idle TLS streams: not taken over", grew, n)
	}
	s.waitMetric("caddy_anycable_sse_taken_over_connections", n)

	// An HTTP/2 stream is served, not taken over.
	h2 := newTLSSession(t, tlsProtocols[1]).open("/events?stream=tls-idle", nil)
	skipToConfirm(t, "h2", h2)
	s.waitMetric("caddy_anycable_sse_connections_open", n+1)
	if got := s.scrape("caddy_anycable_sse_taken_over_connections"); got != n {
		t.Fatalf("taken over: %v with an HTTP/2 stream beside %d HTTP/1.1 ones", got, n)
	}

	s.broadcast(`{"stream":"tls-idle","data":"{\"k\":1}"}`)
	for i, br := range readers {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			if strings.HasPrefix(line, `data: {"k":1}`) {
				break
			}
		}
	}
	want := func(what string, c *sseClient, data string) {
		t.Helper()
		if ev := nextData(t, what, c); ev.Data != data {
			t.Fatalf("%s: %+v", what, ev)
		}
	}
	want("h2", h2, `{"k":1}`)
	// The pool's pinger reaches them too (ping_interval 1s).
	for {
		line, err := readers[0].ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for a ping: %v", err)
		}
		if strings.HasPrefix(line, "event: ping") {
			break
		}
	}

	// Half leave by closing the socket, half by close_notify alone (the
	// TCP connection stays open): both end as gone.
	for i, tc := range conns {
		if i%2 == 0 {
			tc.Close()
		} else if err := tc.CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	s.waitMetric("caddy_anycable_sse_taken_over_connections", 0)
	s.waitMetric("caddy_anycable_sse_connections_open", 1)
	for i := 1; i < n; i += 2 {
		conns[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, readers[i]); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("stream %d is still open after close_notify", i)
		}
	}
	s.broadcast(`{"stream":"tls-idle","data":"{\"k\":2}"}`)
	want("h2 after", h2, `{"k":2}`)
}

const tlsSlowSite = `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		ping_interval 1s
		max_pending 64MiB
		send_buffer 16KiB
		write_timeout %s
	}
	metrics /metrics
`

// A TLS client that stops reading is cut as too_slow once its write passes
// write_timeout (max_pending is out of reach here), while the other streams
// of its stream keep getting every message intact.
func TestTLSSlowClientCutOthersFlow(t *testing.T) {
	loadTLSCaddy(t, fmt.Sprintf(tlsSlowSite, "1s"))
	s := newTLSSession(t, tlsProtocols[0])
	s.waitMetric("caddy_anycable_sse_connections_open", 0)
	drops := s.scrape("caddy_anycable_sse_slow_client_drops_total")
	detachedBefore := s.scrape("caddy_anycable_sse_detached_tls_writes_total")

	slowConn, slowResp, gate := dialTLSStream(t, "/events?stream=tls-slow", 4096)
	slow := tlsEvents(t, slowConn, slowResp, gate)
	skipToConfirm(t, "slow", slow)
	gate.pause()
	var good []*sseClient
	for i := 0; i < 3; i++ {
		tc, resp, g := dialTLSStream(t, "/events?stream=tls-slow", 0)
		c := tlsEvents(t, tc, resp, g)
		skipToConfirm(t, "good", c)
		good = append(good, c)
	}
	s.waitMetric("caddy_anycable_sse_taken_over_connections", 4)

	const size = 32 << 10
	published := 0
	for published < 400 {
		published++
		s.broadcast(fmt.Sprintf(`{"stream":"tls-slow","data":%q}`, bigMessage(published, size)))
		if published%10 == 0 && s.scrape("caddy_anycable_sse_slow_client_drops_total") > drops {
			break
		}
	}
	s.waitMetric("caddy_anycable_sse_slow_client_drops_total", drops+1)
	s.waitMetric("caddy_anycable_sse_taken_over_connections", 3)
	if got := s.scrape("caddy_anycable_sse_detached_tls_writes_total"); got <= detachedBefore {
		t.Fatalf("the stalled TLS write never went to a writer of its own (%v)", got)
	}
	for i, c := range good {
		expectMessages(t, fmt.Sprintf("good client %d", i), c, published, size)
	}
	gate.resume()
	if !slow.waitEnd(10 * time.Second) {
		t.Fatal("the cut TLS stream never ended")
	}
	t.Logf("cut after %d messages of %d KiB; the slow stream ended with %q", published, size>>10, slow.readErr())
	s.waitMetric("caddy_anycable_sse_detached_tls_writers", 0)
}

// A TLS client that stops reading long enough for the server's write to
// block, then reads again within write_timeout, gets every message complete
// and in order: no TLS write was cut half-way, none was written twice.
func TestTLSStalledClientResumesIntact(t *testing.T) {
	loadTLSCaddy(t, fmt.Sprintf(tlsSlowSite, "60s"))
	s := newTLSSession(t, tlsProtocols[0])
	s.waitMetric("caddy_anycable_sse_connections_open", 0)
	drops := s.scrape("caddy_anycable_sse_slow_client_drops_total")

	tc, resp, gate := dialTLSStream(t, "/events?stream=tls-stall", 4096)
	c := tlsEvents(t, tc, resp, gate)
	skipToConfirm(t, "stalled", c)
	gate.pause()

	// Publish until a write to it blocks in a writer of its own (1.6 MiB
	// at most, far more than the socket buffers hold), then some more,
	// which queue behind that write.
	const size = 16 << 10
	published, blocked := 0, false
	for !blocked && published < 100 {
		published++
		s.broadcast(fmt.Sprintf(`{"stream":"tls-stall","data":%q}`, bigMessage(published, size)))
		blocked = s.scrape("caddy_anycable_sse_detached_tls_writers") >= 1
	}
	for i := 0; i < 20; i++ {
		published++
		s.broadcast(fmt.Sprintf(`{"stream":"tls-stall","data":%q}`, bigMessage(published, size)))
	}
	gate.resume()
	expectMessages(t, "resumed client", c, published, size)
	if !blocked {
		t.Fatalf("no TLS write blocked in %d messages to a client that read nothing", published)
	}
	s.waitMetric("caddy_anycable_sse_detached_tls_writers", 0)
	if got := s.scrape("caddy_anycable_sse_slow_client_drops_total"); got != drops {
		t.Fatalf("the resumed client was cut (%v drops)", got-drops)
	}
	t.Logf("%d messages of %d KiB through a stalled TLS write", published, size>>10)
}
