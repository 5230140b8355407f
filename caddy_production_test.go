package anycablesse

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// scrape reads one sample of the module's metrics from the site's metrics
// handler.
func scrape(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	v, ok := metricSample(body, name)
	if !ok {
		t.Fatalf("metric %s not found in:\n%s", name, body)
	}
	return v
}

// metricSample is the value of name in a Prometheus text exposition: name
// may carry its labels (name{transport="ws"}); a name without labels sums
// every series of the metric (connections_open of both transports).
func metricSample(body []byte, name string) (float64, bool) {
	pattern := `(?m)^` + regexp.QuoteMeta(name) + `(?:\{[^}]*\})? ([0-9.e+-]+)$`
	if strings.Contains(name, "{") {
		pattern = `(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+-]+)$`
	}
	ms := regexp.MustCompile(pattern).FindAllSubmatch(body, -1)
	sum := 0.0
	for _, m := range ms {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		sum += v
	}
	return sum, len(ms) > 0
}

const metricsSite = `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
	}
	metrics /metrics
`

func TestMetricsSurviveReload(t *testing.T) {
	loadCaddy(t, metricsSite)
	// Connections of earlier tests end asynchronously: start from zero.
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	base := 0.0
	var cs []*sseClient
	for i := 0; i < 3; i++ {
		c := subscribe(t, "stream=m")
		c.mustNext()
		cs = append(cs, c)
	}
	waitMetric(t, "caddy_anycable_sse_connections_open", base+3)
	delivered := scrape(t, "caddy_anycable_sse_messages_delivered_total")

	loadCaddy(t, strings.Replace(metricsSite, "public_streams", "public_streams\n\t\tping_interval 5s", 1))
	if got := scrape(t, "caddy_anycable_sse_connections_open"); got != base+3 {
		t.Fatalf("connections_open after reload = %v, want %v", got, base+3)
	}
	mustBroadcast(t, testKey, `{"stream":"m","data":"1"}`)
	for _, c := range cs {
		c.mustNext()
	}
	if got := scrape(t, "caddy_anycable_sse_messages_delivered_total"); got != delivered+3 {
		t.Fatalf("messages_delivered_total = %v, want %v", got, delivered+3)
	}
	for _, c := range cs {
		c.Close()
	}
	waitMetric(t, "caddy_anycable_sse_connections_open", base)
}

func waitMetric(t *testing.T, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrape(t, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSlowClientIsDropped: a client that stops reading is disconnected once
// its queue passes max_pending, its memory is freed, and it resumes from its
// last id without loss.
func TestSlowClientIsDropped(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		max_pending 256KiB
		write_timeout 2s
		history_limit 2000
	}
	metrics /metrics`)
	drops := scrape(t, "caddy_anycable_sse_slow_client_drops_total")
	// Connections of earlier tests end asynchronously: start from zero.
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	open := 0.0

	// A tiny receive buffer, set before connecting so the kernel cannot
	// autotune the window: the server's writes block quickly.
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
	defer conn.Close()
	fmt.Fprintf(conn, "GET /events?stream=slow HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", testPort)
	waitMetric(t, "caddy_anycable_sse_connections_open", open+1)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// ~2 MB toward one client that does not read, in events small enough
	// that some complete ones reach it before the cut (the reset drops
	// what the server's kernel still held).
	payload := strings.Repeat("x", 1<<10)
	publishBig(t, "slow", 2000, len(payload))
	waitMetric(t, "caddy_anycable_sse_slow_client_drops_total", drops+1)
	waitMetric(t, "caddy_anycable_sse_connections_open", open)
	runtime.GC()
	runtime.ReadMemStats(&after)
	// The broker keeps the 2000 messages as history (~2 MB, needed for the
	// resume below); beyond that the dropped client must hold nothing.
	history := int64(2000 * len(payload))
	// Unbounded, the queue would add the ~2 MB that the client never read.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > history+8<<20 {
		t.Fatalf("heap grew by %d bytes (history %d) for one slow client", grew, history)
	}

	// The client reads again: the server ended the response. Its writer was
	// blocked on the full socket, so the connection was reset (the kernel
	// dropped the stale backlog) and the response may stop mid-event,
	// without the too_slow disconnect; an EventSource drops the partial
	// event and resumes from the last id.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the dropped stream did not end: %v", err)
	}
	text := string(all)
	ids := regexp.MustCompile(`id: (\d+/[A-Za-z0-9]+/slow)\n`).FindAllStringSubmatch(text, -1)
	if len(ids) == 0 {
		t.Fatalf("the slow client received no complete event before the drop: %d bytes, %v: %.300q", len(all), err, text)
	}
	last := ids[len(ids)-1][1]
	n, _ := strconv.Atoi(strings.SplitN(last, "/", 2)[0])
	// The missing history (most of 2000 messages of 1 KiB) is larger than
	// max_pending: each resume replays what fits, then sends the client
	// back to resume from its last event, until it has caught up.
	want, resumes := n+1, 0
	c := resumeWith(t, "slow", last)
	for {
		ev := c.mustNext()
		if ev.Event == "disconnect" {
			if ev.Data != `{"type":"disconnect","reason":"too_slow","reconnect":true}` || want <= n {
				t.Fatalf("resume %d: %+v", resumes, ev)
			}
			c.Close()
			resumes++
			c = resumeWith(t, "slow", last)
			continue
		}
		if ev.Event == "confirm_history" {
			break
		}
		if !strings.HasPrefix(ev.Data, strconv.Itoa(want)+" ") {
			t.Fatalf("resume after the drop: got %.20q, want message %d", ev.Data, want)
		}
		last = ev.ID
		want++
	}
	if want != 2001 || resumes == 0 {
		t.Fatalf("caught up to %d after %d resumes", want-1, resumes)
	}
}

func TestStreamCloseDelayOnReload(t *testing.T) {
	site := `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		stream_close_delay 200ms
	}`
	loadCaddy(t, site)
	c := subscribe(t, "stream=scd")
	c.mustNext()
	c.mustNext()
	mustBroadcast(t, testKey, `{"stream":"scd","data":"1"}`)
	id := c.mustNext().ID
	loadCaddy(t, strings.Replace(site, "200ms", "300ms", 1))
	mustBroadcast(t, testKey, `{"stream":"scd","data":"2"}`)
	if ev := c.mustNext(); ev.Data != "2" {
		t.Fatalf("before the delay the stream goes on: %+v", ev)
	}
	ev := c.mustNext()
	if ev.Event != "disconnect" || ev.Data != `{"type":"disconnect","reason":"server_restart","reconnect":true}` || ev.Retry != "" {
		t.Fatalf("after stream_close_delay: %+v", ev)
	}
	if !c.waitEnd(3 * time.Second) {
		t.Fatal("stream did not end")
	}
	mustBroadcast(t, testKey, `{"stream":"scd","data":"3"}`)
	r := resumeWith(t, "scd", id)
	for _, want := range []string{"2", "3"} {
		if ev := r.mustNext(); ev.Data != want {
			t.Fatalf("resume: %+v, want %s", ev, want)
		}
	}
}

func TestLimits(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		max_url_length 300
		max_streams_per_connection 2
		max_connections_per_ip 2
		max_post_body 1KiB
		max_identifier_length 100
	}
	metrics /metrics`)
	// Connections of earlier tests end asynchronously; the per-address
	// count must start from zero.
	waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	get := func(q string) *http.Response {
		resp, err := http.Get(baseURL() + "/events?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("stream=" + strings.Repeat("a", 400)); r.StatusCode != 414 {
		t.Errorf("long URL: %d", r.StatusCode)
	}
	if r := get("identifier=" + urlEncode(`{"channel":"$pubsub","stream_name":"`+strings.Repeat("b", 120)+`"}`)); r.StatusCode != 400 || !strings.Contains(r.Header.Get("X-AnyCable-Error"), "identifier too long") {
		t.Errorf("long identifier: %d %s", r.StatusCode, r.Header.Get("X-AnyCable-Error"))
	}
	var lines []string
	for i := 0; i < 3; i++ {
		lines = append(lines, fmt.Sprintf(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"s%d\"}"}`, i))
	}
	p := openStream(t, http.MethodPost, "/events", strings.Join(lines, "\n"), nil)
	if p.resp.StatusCode != 400 || !strings.Contains(p.resp.Header.Get("X-AnyCable-Error"), "too many streams") {
		t.Errorf("streams per connection: %d %s", p.resp.StatusCode, p.resp.Header.Get("X-AnyCable-Error"))
	}
	p2 := openStream(t, http.MethodPost, "/events", strings.Repeat(" ", 1500), nil)
	if p2.resp.StatusCode != 400 {
		t.Errorf("POST body limit: %d", p2.resp.StatusCode)
	}
	a := subscribe(t, "stream=ip")
	b := subscribe(t, "stream=ip")
	if r := get("stream=ip"); r.StatusCode != 429 {
		t.Errorf("third connection from one address: %d", r.StatusCode)
	}
	a.Close()
	b.Close()
}

func TestAllowedOrigins(t *testing.T) {
	site := `
	anycable_sse {
		public_streams
		allowed_origins www.example.com *.example.io https://app.example.org http://localhost:3000
	}`
	loadCaddy(t, site)
	check := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, baseURL()+"/events?stream=o", nil)
		req.Header.Set("Origin", origin)
		ctx, cancel := contextWithTimeout(time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for origin, want := range map[string]string{
		"https://WWW.Example.com":     "https://www.example.com",
		"http://app.example.io":       "http://app.example.io",
		"http://example.io":           "",
		"http://evil.com":             "",
		"http://www.example.com:3000": "",
		// A path or query never poses as a host suffix, nor is echoed.
		"https://evil.com/.example.io":  "",
		"https://evil.com?.example.io":  "",
		"https://a.example.io@evil.com": "",
		// Full origins, as the README writes them, match as browsers send them.
		"https://app.example.org": "https://app.example.org",
		"http://app.example.org":  "",
		"http://localhost:3000":   "http://localhost:3000",
		"http://localhost:3001":   "",
	} {
		r := check(origin)
		if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != want {
			t.Errorf("%s: %d ACAO %q, want 200 %q", origin, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"), want)
		}
	}
	loadCaddy(t, strings.Replace(site, "localhost:3000", "localhost:3000\n\t\tenforce_origins", 1))
	if r := check("http://evil.com"); r.StatusCode != 403 {
		t.Errorf("enforced: %d", r.StatusCode)
	}
	if r := check("http://app.example.io"); r.StatusCode != 200 {
		t.Errorf("enforced, allowed origin: %d", r.StatusCode)
	}
	for _, origin := range []string{"https://evil.com/.example.io", "https://evil.com?.example.io"} {
		if r := check(origin); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("enforced, %s: %d ACAO %q", origin, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	if r := check("https://app.example.org"); r.StatusCode != 200 {
		t.Errorf("enforced, full origin: %d", r.StatusCode)
	}
}

// TestShutdownWithThousandsOfStreams runs the real binary: `caddy stop`
// must end every stream with disconnect server_restart and return quickly,
// even though Caddy's grace period is eternal by default.
func TestShutdownWithThousandsOfStreams(t *testing.T) {
	node := startNode(t, `
	anycable_sse {
		public_streams
	}`)
	url := node.url("/events?stream=bye")

	const n = 2000
	tr := &http.Transport{MaxIdleConnsPerHost: -1}
	client := &http.Client{Transport: tr}
	var opened, restarted atomic.Int64
	var wg sync.WaitGroup
	ready := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			if err != nil {
				t.Errorf("open: %v", err)
				ready <- struct{}{}
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			signalled := false
			for {
				line, err := br.ReadString('\n')
				if strings.HasPrefix(line, "event: confirm_subscription") && !signalled {
					opened.Add(1)
					signalled = true
					ready <- struct{}{}
				}
				if strings.HasPrefix(line, `data: {"type":"disconnect","reason":"server_restart","reconnect":true}`) {
					restarted.Add(1)
				}
				if err != nil {
					if !signalled {
						ready <- struct{}{}
					}
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		<-ready
	}
	if opened.Load() != n {
		t.Fatalf("opened %d of %d streams", opened.Load(), n)
	}
	start := time.Now()
	node.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-node.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("caddy did not exit within 20s of SIGTERM with streams open")
	}
	took := time.Since(start)
	wg.Wait()
	t.Logf("SIGTERM with %d open streams: exited in %v; %d got server_restart", n, took, restarted.Load())
	if restarted.Load() != n {
		t.Fatalf("%d of %d streams got disconnect server_restart", restarted.Load(), n)
	}
}

// The helper subcommands print what the Rails side would produce.
func TestSubcommands(t *testing.T) {
	bin := buildCaddy(t)
	out, err := exec.Command(bin, "anycable-sign-stream", "--secret", "s3cr3t", "chat/42").Output()
	if err != nil || strings.TrimSpace(string(out)) != signedChat42 {
		t.Fatalf("anycable-sign-stream: %q %v", out, err)
	}
	out, err = exec.Command(bin, "anycable-sign-stream", "--secret-key-base", "testsecret123", "board:1").Output()
	if err != nil || strings.TrimSpace(string(out)) != "ImJvYXJkOjEi--7eadb36517dd962e290a5c55daad0a9a3ae0aa9a26ae0e72b7f78ae7eb0d5a3d" {
		t.Fatalf("anycable-sign-stream --secret-key-base: %q %v", out, err)
	}
	out, err = exec.Command(bin, "anycable-jwt", "--secret", "k", "--identifiers", `{"user_id":1}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := protocol.NewJWTVerifier([][]byte{[]byte("k")}, 0).Verify(strings.TrimSpace(string(out)), time.Now())
	if err != nil || ids != `{"user_id":1}` {
		t.Fatalf("anycable-jwt token: %q %v", ids, err)
	}
	if err := exec.Command(bin, "anycable-sign-stream", "x").Run(); err == nil {
		t.Fatal("signing without a secret succeeded")
	}
	// anycable-keys prints the keys derived from secret, as the module
	// derives them (TestSecretDerivationAndPlaceholders uses the same key).
	out, err = exec.Command(bin, "anycable-keys", "--secret", "s3cr3t").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ANYCABLE_BROADCAST_KEY=83149057b2f956b5f862c0ef5ad6a24d3677dc076d77e8999c24f77ca17d7a20\n",
		"ANYCABLE_HTTP_RPC_SECRET=" + protocol.DeriveKey("s3cr3t", protocol.PurposeRPC) + "\n",
		"ANYCABLE_STREAMS_SECRET=s3cr3t\n",
		"ANYCABLE_JWT_SECRET=s3cr3t\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("anycable-keys lacks %q:\n%s", want, out)
		}
	}
	cmd := exec.Command(bin, "anycable-keys")
	cmd.Env = append(os.Environ(), "ANYCABLE_SECRET=")
	if err := cmd.Run(); err == nil {
		t.Fatal("anycable-keys without a secret succeeded")
	}
}
