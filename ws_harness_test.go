package anycablesse

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// wsClient is a test WebSocket client: every text message the server sends
// lands in msgs, and the close frame's code and reason are kept.
type wsClient struct {
	t           testing.TB
	conn        net.Conn
	subprotocol string
	msgs        chan string
	mu          sync.Mutex
	closeCode   int // -1 until a close frame came; 0 for an empty one
	closeReason string
	done        chan struct{}
}

// dialWS connects to the in-process Caddy's path with the subprotocols
// offered and the extra headers.
func dialWS(t testing.TB, path string, protocols []string, header http.Header) (*wsClient, error) {
	t.Helper()
	return dialWSAt(t, baseURL(), path, protocols, header)
}

// dialWSAt is dialWS to the server at base (http://host:port), e.g. a node.
func dialWSAt(t testing.TB, base, path string, protocols []string, header http.Header) (*wsClient, error) {
	t.Helper()
	return dialWSURL(t, strings.Replace(base, "http://", "ws://", 1)+path, protocols, header, nil)
}

// dialWSURL connects to a ws:// or wss:// URL.
func dialWSURL(t testing.TB, url string, protocols []string, header http.Header, tc *tls.Config) (*wsClient, error) {
	t.Helper()
	d := ws.Dialer{Protocols: protocols, Timeout: 5 * time.Second, TLSConfig: tc}
	if header != nil {
		d.Header = ws.HandshakeHeaderHTTP(header)
	}
	conn, br, hs, err := d.Dial(context.Background(), url)
	// Right after a reload a connection may reach the old server as it
	// shuts down and be closed before its upgrade was read: nothing ran
	// (no connect, no restore: those come after the 101), so dial again.
	for attempt := 0; attempt < 5 && err != nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)); attempt++ {
		time.Sleep(50 * time.Millisecond)
		conn, br, hs, err = d.Dial(context.Background(), url)
	}
	if err != nil {
		return nil, err
	}
	c := &wsClient{t: t, conn: conn, subprotocol: hs.Protocol, msgs: make(chan string, 1024), closeCode: -1, done: make(chan struct{})}
	var r *bufio.Reader
	if br != nil {
		r = br
	} else {
		r = bufio.NewReader(conn)
	}
	go c.read(r)
	t.Cleanup(c.Close)
	return c, nil
}

func mustDialWS(t testing.TB, path string, protocols ...string) *wsClient {
	t.Helper()
	c, err := dialWS(t, path, protocols, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return c
}

func (c *wsClient) read(r *bufio.Reader) {
	defer close(c.done)
	defer close(c.msgs)
	var msg []byte
	for {
		f, err := ws.ReadFrame(r)
		if err != nil {
			return
		}
		switch f.Header.OpCode {
		case ws.OpClose:
			c.mu.Lock()
			c.closeCode = 0
			if len(f.Payload) >= 2 {
				c.closeCode = int(binary.BigEndian.Uint16(f.Payload))
				c.closeReason = string(f.Payload[2:])
			}
			c.mu.Unlock()
			return
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(c.conn, ws.OpPong, f.Payload)
		case ws.OpText, ws.OpBinary, ws.OpContinuation:
			msg = append(msg, f.Payload...)
			if f.Header.Fin {
				c.msgs <- string(msg)
				msg = nil
			}
		}
	}
}

// send writes one text message.
func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next returns the next message that is not a ping.
func (c *wsClient) next(timeout time.Duration) (string, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				return "", false
			}
			if strings.HasPrefix(m, `{"type":"ping"`) {
				continue
			}
			return m, true
		case <-deadline:
			return "", false
		}
	}
}

func (c *wsClient) mustNext() string {
	c.t.Helper()
	m, ok := c.next(5 * time.Second)
	if !ok {
		code, reason := c.closed()
		c.t.Fatalf("no message (close %d %q)", code, reason)
	}
	return m
}

// expectNone checks that no message but pings comes within d.
func (c *wsClient) expectNone(d time.Duration) {
	c.t.Helper()
	if m, ok := c.next(d); ok {
		c.t.Fatalf("unexpected message %s", m)
	}
}

// waitClose waits for the server's close frame (or the end of the
// connection) and returns the close code and reason.
func (c *wsClient) waitClose(timeout time.Duration) (int, string) {
	c.t.Helper()
	go func() {
		for range c.msgs {
		}
	}()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatal("the connection did not end")
	}
	return c.closed()
}

func (c *wsClient) closed() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeReason
}

func (c *wsClient) Close() { _ = c.conn.Close() }

// field decodes one field of a JSON message.
func field(t testing.TB, msg, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(msg), &m); err != nil {
		t.Fatalf("not JSON: %s", msg)
	}
	return m[name]
}
