package conn

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tlsPair is a handshaken TLS connection over loopback TCP: the server's
// side (its TCP socket passed through wrap when not nil) and the client's,
// whose receive buffer is capped at rcvbuf bytes when not 0.
func tlsPair(t *testing.T, rcvbuf int, wrap func(net.Conn) net.Conn) (*tls.Conn, *tls.Conn) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	raw, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sraw, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		sraw = wrap(sraw)
	}
	client := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	server := tls.Server(sraw, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	errc := make(chan error, 1)
	go func() { errc <- client.Handshake() }()
	if err := server.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// opaqueConn hides its socket from the writer (no syscall.Conn): the room
// in its send buffer is unknown, so every TLS write is started on the pool
// writer, under the watchdog.
type opaqueConn struct{ net.Conn }

func (o opaqueConn) SetWriteBuffer(n int) error { return o.Conn.(*net.TCPConn).SetWriteBuffer(n) }

func tlsLine(i int) string {
	return fmt.Sprintf("%05d %s\n", i, strings.Repeat(string(rune('a'+i%26)), 4000))
}

// readLines reads lines 0..n-1 of tlsLine from r, failing on anything else.
func readLines(t *testing.T, what string, r *bufio.Reader, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: line %d: %v", what, i, err)
		}
		if line != tlsLine(i) {
			t.Fatalf("%s: line %d is %d bytes starting %.12q", what, i, len(line), line)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// Past the bound of detached writers, a TLS flush that does not fit is
// written in the parts that fit, the rest retried: the client that reads
// again later gets every byte in order, and a graceful end says
// close_notify.
func TestTLSWritesPastDetachBoundArriveIntact(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	w.maxDetached = 0
	srv, cli := tlsPair(t, 4096, nil)
	c := newTestConn("a", 0)
	ended := make(chan string, 1)
	w.Adopt(c, srv, TakeOver{WriteTimeout: time.Minute, SendBuffer: 8 << 10, OnEnd: func(r string) { ended <- r }})
	const n = 400
	for i := 0; i < n; i++ {
		c.Enqueue([]byte(tlsLine(i)))
	}
	// The client reads nothing until the writer kept part of a flush.
	waitUntil(t, "a flush is stalled", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.queued == 0 && c.inflightBytes > 0
	})
	cli.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(cli)
	readLines(t, "client", r, n)
	c.Close([]byte("bye\n"), "done")
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "bye\nend\n" {
		t.Fatalf("end: %q, %v (want the final bytes, then close_notify)", rest, err)
	}
	if got := <-ended; got != "done" {
		t.Fatalf("ended as %q", got)
	}
	if d := w.DetachedWrites(); d != 0 {
		t.Fatalf("%d detached writes past a bound of 0", d)
	}
}

// A TLS write that blocks although it was expected to fit (here: the room
// is unknown) gives its writer's place in the pool to a new writer: other
// connections keep being written, and the blocked one, read again, gets
// everything in order.
func TestTLSBlockedWriteDoesNotHoldThePool(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	srvA, cliA := tlsPair(t, 4096, func(c net.Conn) net.Conn { return opaqueConn{c} })
	srvB, cliB := tlsPair(t, 0, nil)
	a, b := newTestConn("a", 0), newTestConn("b", 0)
	w.Adopt(a, srvA, TakeOver{WriteTimeout: time.Minute, SendBuffer: 8 << 10})
	w.Adopt(b, srvB, TakeOver{WriteTimeout: time.Minute})
	const n = 800
	for i := 0; i < n; i++ {
		a.Enqueue([]byte(tlsLine(i)))
	}
	waitUntil(t, "a's write blocks in a writer of its own", func() bool { return w.DetachedWriters() == 1 })

	b.Enqueue([]byte("hello\n"))
	cliB.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(cliB).ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("b while a is blocked: %q, %v", line, err)
	}

	cliA.SetReadDeadline(time.Now().Add(20 * time.Second))
	readLines(t, "a", bufio.NewReader(cliA), n)
	waitUntil(t, "the detached writer is done", func() bool { return w.DetachedWriters() == 0 })
	if w.DetachedWrites() < 1 {
		t.Fatal("no detached write counted")
	}
}

// A TLS write that runs past the write timeout ends the connection as
// too_slow, with the socket reset: the tls.Conn is never written again.
func TestTLSWriteTimeoutEndsTooSlow(t *testing.T) {
	w := NewPool(1)
	defer w.Close()
	srv, cli := tlsPair(t, 4096, nil)
	c := newTestConn("a", 0)
	ended := make(chan string, 1)
	w.Adopt(c, srv, TakeOver{WriteTimeout: 200 * time.Millisecond, SendBuffer: 8 << 10, OnEnd: func(r string) { ended <- r }})
	for i := 0; i < 400; i++ {
		c.Enqueue([]byte(tlsLine(i)))
	}
	select {
	case got := <-ended:
		if got != "too_slow" {
			t.Fatalf("ended as %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client that reads nothing was never cut")
	}
	cli.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, cli)
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("the cut client's stream ended cleanly (%v), not reset", err)
	}
	if w.TakenOver() != 0 {
		t.Fatalf("%d still taken over", w.TakenOver())
	}
}
