package anycablesse

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestDoRetryDoesNotResendAServedPost: a server that reads a broadcast and
// then drops the connection without answering has served it; the harness
// must not post it again (the second copy would be a duplicate delivery
// that a test would blame on the module). A GET is retried.
func TestDoRetryDoesNotResendAServedPost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var served atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				served.Add(1) // read in full, then the connection is lost
			}()
		}
	}()
	url := "http://" + l.Addr().String() + "/_broadcast"
	body := `{"stream":"s","data":"x"}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if _, err := doRetry(req, body); err == nil {
		t.Fatal("a POST without a response succeeded")
	}
	if n := served.Load(); n != 1 {
		t.Fatalf("the broadcast reached the server %d times, want 1", n)
	}
	served.Store(0)
	get, _ := http.NewRequest(http.MethodGet, url, nil)
	doRetry(get, "")
	if n := served.Load(); n < 2 {
		t.Fatalf("a GET without a response was sent %d times: not retried", n)
	}
}

// TestLoadCaddyMovesOffATakenPort: the harness's port was free when picked
// but another process bound it before Caddy did. Loading must move Caddy
// to a fresh port instead of failing the test.
func TestLoadCaddyMovesOffATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	testPort = taken
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
	}`)
	if testPort == taken {
		t.Fatalf("Caddy was loaded on port %d, which another listener holds", taken)
	}
	c := subscribe(t, "stream=moved")
	c.mustNext()
	mustBroadcast(t, testKey, `{"stream":"moved","data":"x"}`)
	for {
		if ev := c.mustNext(); ev.Data == "x" {
			break
		}
	}
}

// TestStartNodeMovesOffATakenPort: a node's port was free when picked but
// another process bound it before the node's Caddy did. The node must be
// started again on a fresh port instead of failing the test (or worse,
// probing the other process).
func TestStartNodeMovesOffATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	var picks atomic.Int32
	nodePort = func() int {
		if picks.Add(1) == 1 {
			return taken
		}
		return freePort()
	}
	defer func() { nodePort = freePort }()
	n := startNode(t, "anycable_sse {\n\tpublic_streams\n}")
	if n.port == taken || picks.Load() < 2 {
		t.Fatalf("node on port %d after %d picks; %d was taken", n.port, picks.Load(), taken)
	}
	t.Logf("node on port %d after %d picks (%d taken)", n.port, picks.Load(), taken)
	resp, err := http.Get(n.url("/events?stream=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the moved node answered %d", resp.StatusCode)
	}
}
