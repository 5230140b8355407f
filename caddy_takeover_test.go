package anycablesse

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// openRawStreams opens n HTTP/1.1 SSE requests over plain sockets and reads
// each response up to its confirm_subscription, with no goroutine per
// connection on the client side, so goroutine counts measure the server.
func openRawStreams(t *testing.T, n int, query string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", testPort))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /events?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", query, testPort)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			if strings.HasPrefix(line, "event: confirm_subscription") {
				break
			}
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

func goroutinesSettled() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// An idle taken-over HTTP/1.1 connection has no goroutine of its own; on the
// handler path each costs at least one.
func TestTakenOverConnectionsHaveNoGoroutine(t *testing.T) {
	const n = 200
	for _, c := range []struct {
		name, opt string
		max       int
	}{
		{"takeover", "", n / 10},
		{"handler path", "http1_takeover off", -1},
	} {
		loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		`+c.opt+`
	}
	metrics /metrics`)
		waitMetric(t, "caddy_anycable_sse_connections_open", 0)
		before := goroutinesSettled()
		conns := openRawStreams(t, n, "stream=idle")
		grew := goroutinesSettled() - before
		t.Logf("%s: %d idle streams added %d goroutines", c.name, n, grew)
		if c.max >= 0 && grew > c.max {
			t.Fatalf("%s: %d goroutines for %d idle streams", c.name, grew, n)
		}
		if c.max < 0 && grew < n {
			t.Fatalf("%s: expected a goroutine per stream, got %d for %d", c.name, grew, n)
		}
		// They still receive, in the AnyCable framing inside HTTP chunks.
		mustBroadcast(t, testKey, `{"stream":"idle","data":"{\"k\":1}"}`)
		for i, conn := range conns {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			got := ""
			for !strings.Contains(got, "data: {\"k\":1}\nid: ") {
				k, err := conn.Read(buf)
				if err != nil {
					t.Fatalf("%s stream %d: %v after %q", c.name, i, err, got)
				}
				got += string(buf[:k])
			}
		}
		for _, conn := range conns {
			conn.Close()
		}
		// The server notices clients that left without a reader per
		// connection (epoll on Linux, a peek at ping time elsewhere).
		waitMetric(t, "caddy_anycable_sse_connections_open", 0)
	}
}

func TestTakenOverStreamEndsCleanly(t *testing.T) {
	loadCaddy(t, publicSite)
	c := subscribe(t, "stream=end")
	c.mustNext()
	c.mustNext()
	mustBroadcast(t, testKey, `{"stream":"end","data":"1"}`)
	c.mustNext()
	// A remote disconnect ends the chunked response properly: Go's client
	// sees a clean EOF, not an unexpected one.
	mustBroadcast(t, testKey, `{"command":"disconnect","payload":{"identifier":"{\"sid\":\"`+sidOf(t, c)+`\"}","reconnect":false}}`)
	ev := c.mustNext()
	if ev.Event != "disconnect" {
		t.Fatalf("%+v", ev)
	}
	if !c.waitEnd(3 * time.Second) {
		t.Fatal("did not end")
	}
	if strings.Contains(c.readErr(), "unexpected EOF") {
		t.Fatalf("chunked response not terminated: %s", c.readErr())
	}
}

func sidOf(t *testing.T, c *sseClient) string {
	raw := c.Raw()
	i := strings.Index(raw, `"sid":"`)
	if i < 0 {
		t.Fatalf("no sid in %q", raw)
	}
	rest := raw[i+7:]
	return rest[:strings.IndexByte(rest, '"')]
}

// HTTP/2 streams cannot be taken over; they are served on the handler path
// and behave the same.
func TestHTTP2Streams(t *testing.T) {
	loadCaddyWithGlobal(t, `servers {
		protocols h1 h2c
	}`, publicSite)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protos}}
	resp, err := client.Get(baseURL() + "/events?stream=h2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto %s", resp.Proto)
	}
	if resp.Header.Get("Connection") != "" {
		t.Fatalf("Connection header on HTTP/2: %q", resp.Header.Get("Connection"))
	}
	c := &sseClient{t: t, resp: resp, cancel: func() {}, events: make(chan event, 100), done: make(chan struct{})}
	go c.read()
	c.mustNext()
	c.mustNext()
	mustBroadcast(t, testKey, `{"stream":"h2","data":"over h2"}`)
	if ev := c.mustNext(); ev.Data != "over h2" {
		t.Fatalf("%+v", ev)
	}
}

// HTTP/1.0 has no chunked encoding: its streams stay on the handler path
// and the body carries nothing but SSE.
func TestHTTP10StreamIsNotChunked(t *testing.T) {
	loadCaddy(t, publicSite)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", testPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /events?stream=h10 HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", testPort)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := ""
	buf := make([]byte, 4096)
	readUntil := func(want string) {
		for !strings.Contains(got, want) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("%v after %q", err, got)
			}
			got += string(buf[:n])
		}
	}
	// Broadcast once subscribed (a fixed pause could be too short on a
	// busy machine, and the message would go to nobody).
	readUntil("event: confirm_subscription\n")
	mustBroadcast(t, testKey, `{"stream":"h10","data":"hello"}`)
	readUntil("data: hello\n")
	body := got[strings.Index(got, "\r\n\r\n")+4:]
	if !strings.HasPrefix(body, "event: welcome\n") {
		t.Fatalf("HTTP/1.0 body is not plain SSE: %q", body)
	}
}

// A raw stream that ends (here: remote disconnect) still ends its chunked
// response properly.
func TestRawTakenOverStreamEndsWithTerminator(t *testing.T) {
	// A raw stream shows no sid: the connection is named by JWT identifiers.
	loadCaddy(t, strings.Replace(publicSite, "ping_interval 1s", "ping_interval 1s\n\t\tjwt_secret jw", 1))
	tok := railsJWT("jw", `{"user":"raw-ender"}`, time.Now().Add(time.Hour))
	c := openStream(t, http.MethodGet, "/events?stream=rawend&raw=1&jid="+tok, "", nil)
	mustBroadcast(t, testKey, `{"stream":"rawend","data":"x"}`)
	if ev := c.mustNext(); ev.Data != "x" {
		t.Fatalf("%+v", ev)
	}
	mustBroadcast(t, testKey, `{"command":"disconnect","payload":{"identifier":"{\"user\":\"raw-ender\"}","reconnect":true}}`)
	if !c.waitEnd(3 * time.Second) {
		t.Fatal("did not end")
	}
	if e := c.readErr(); e != "EOF" {
		t.Fatalf("raw stream ended with %q, want a clean EOF", e)
	}
}
