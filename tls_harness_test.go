package anycablesse

// The TLS harness: an in-process Caddy serving the module on
// https://127.0.0.1:<tlsPort> with `tls internal` (a certificate from
// Caddy's own local CA, made at run time in a private storage directory,
// never committed), over HTTP/1.1, HTTP/2 and HTTP/3 on the same port, and
// clients that trust exactly that CA.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/quic-go/quic-go/http3"
)

// tlsPort serves TCP (h1, h2) and UDP (h3); tlsHTTPPort is only there so
// Caddy never binds :80.
var tlsPort, tlsHTTPPort = freeTCPUDPPort(), freePort()

// tlsStorage is where Caddy keeps its local CA and the site certificate for
// this test binary.
var tlsStorage = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "anycable-sse-tls")
	if err != nil {
		panic(err)
	}
	return dir
})

// freeTCPUDPPort is a loopback port free for both TCP and UDP, as HTTP/3
// listens on the UDP port of the same number.
func freeTCPUDPPort() int {
	for {
		p := freePort()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			u.Close()
			return p
		}
	}
}

func tlsURL(path string) string { return fmt.Sprintf("https://127.0.0.1:%d%s", tlsPort, path) }

// tlsCaddyfile is a whole Caddyfile: the site on https with tls internal,
// all three protocols, storage in dir (empty: Caddy's default).
func tlsCaddyfile(storage string, httpsPort, httpPort int, site string) string {
	st := ""
	if storage != "" {
		st = "storage file_system " + storage
	}
	return fmt.Sprintf(`{
	admin off
	persist_config off
	grace_period 1s
	auto_https disable_redirects
	skip_install_trust
	http_port %d
	https_port %d
	%s
	servers {
		protocols h1 h2 h3
	}
}
https://127.0.0.1:%d {
	tls internal
%s
}
`, httpPort, httpsPort, st, httpsPort, site)
}

// loadTLSCaddy loads (or reloads) the in-process Caddy with the site over
// TLS and waits until it answers over every protocol.
func loadTLSCaddy(t testing.TB, site string) {
	t.Helper()
	cf := tlsCaddyfile(tlsStorage(), tlsPort, tlsHTTPPort, site)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, cf)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading config: %v", err)
	}
	// The certificate is issued right after the load; until then the
	// handshake fails. Wait for fresh connections of every protocol.
	for _, p := range tlsProtocols {
		c := p.client(t, tlsRoots(t, tlsStorage()))
		ok := 0
		deadline := time.Now().Add(10 * time.Second)
		var last error
		for time.Now().Before(deadline) && ok < 2 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tlsURL("/__harness_probe"), nil)
			resp, err := c.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok++
			} else {
				ok, last = 0, err
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
		}
		c.CloseIdleConnections()
		if ok < 2 {
			t.Fatalf("caddy does not answer over %s: %v", p.name, last)
		}
	}
}

// tlsRoots trusts Caddy's local CA root as written to its storage.
func tlsRoots(t testing.TB, storage string) *x509.CertPool {
	t.Helper()
	var pem []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if pem, err = os.ReadFile(filepath.Join(storage, "pki", "authorities", "local", "root.crt")); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("Caddy's local CA root: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("Caddy's local CA root is not PEM")
	}
	return pool
}

// tlsProtocol is one way a client reaches the module over TLS.
type tlsProtocol struct {
	name  string
	major int // resp.ProtoMajor the server must answer with
	// client makes a client that speaks only this protocol.
	client func(t testing.TB, roots *x509.CertPool) *http.Client
}

var tlsProtocols = []tlsProtocol{
	{"HTTP/1.1", 1, func(t testing.TB, roots *x509.CertPool) *http.Client {
		var p http.Protocols
		p.SetHTTP1(true)
		return &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}},
	{"HTTP/2", 2, func(t testing.TB, roots *x509.CertPool) *http.Client {
		var p http.Protocols
		p.SetHTTP2(true)
		return &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}},
	{"HTTP/3", 3, func(t testing.TB, roots *x509.CertPool) *http.Client {
		tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
		if t != nil {
			t.Cleanup(func() { tr.Close() })
		}
		return &http.Client{Transport: tr}
	}},
}

// tlsSession is one protocol's client against the in-process TLS Caddy.
type tlsSession struct {
	t      *testing.T
	proto  tlsProtocol
	client *http.Client
	key    string // the broadcast key sent as a bearer token, if any
}

func newTLSSession(t *testing.T, p tlsProtocol) *tlsSession {
	return &tlsSession{t: t, proto: p, client: p.client(t, tlsRoots(t, tlsStorage())), key: testKey}
}

// open starts a request whose response is read as an event stream.
func (s *tlsSession) open(path string, header http.Header) *sseClient {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tlsURL(path), nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		cancel()
		s.t.Fatalf("%s GET %s: %v", s.proto.name, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		s.t.Fatalf("%s GET %s: %d %s", s.proto.name, path, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
	if resp.ProtoMajor != s.proto.major {
		resp.Body.Close()
		cancel()
		s.t.Fatalf("%s GET %s answered over %s", s.proto.name, path, resp.Proto)
	}
	c := &sseClient{t: s.t, resp: resp, cancel: cancel, events: make(chan event, 10000), done: make(chan struct{})}
	go c.read()
	s.t.Cleanup(c.Close)
	return c
}

// broadcast publishes through the site's /_broadcast over this protocol.
func (s *tlsSession) broadcast(body string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, tlsURL("/_broadcast"), strings.NewReader(body))
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s broadcast: %v", s.proto.name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		s.t.Fatalf("%s broadcast %.80s: status %d (%s)", s.proto.name, body, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
}

// scrape reads one of the module's metrics from the site's /metrics.
func (s *tlsSession) scrape(name string) float64 {
	s.t.Helper()
	resp, err := s.client.Get(tlsURL("/metrics"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	v, ok := metricSample(body, name)
	if !ok {
		s.t.Fatalf("metric %s not found in:\n%s", name, body)
	}
	return v
}

func (s *tlsSession) waitMetric(name string, want float64) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.scrape(name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
