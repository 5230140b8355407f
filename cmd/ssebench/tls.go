//go:build linux

package main

// TLS modes: -tls (HTTP/1.1 over TLS, one TCP connection per stream), -h2
// (HTTP/2 over TLS, streams multiplexed over -h2conns connections) and -h3
// (HTTP/3 over QUIC with quic-go's client, -h2conns QUIC connections). The
// floor server serves all three on one port with a self-signed certificate
// made at start; the generator does not verify certificates (it only ever
// talks to loopback, and the module's is typically Caddy's `tls internal`).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// TLS modes of Config.TLS.
const (
	tlsNone = ""
	tlsH1   = "tls"
	tlsH2   = "h2"
	tlsH3   = "h3"
)

// multiplexed: the SSE streams share a few connections (h2c, h2, h3).
func (c *Config) multiplexed() bool { return c.H2C || c.TLS == tlsH2 || c.TLS == tlsH3 }

// protoMajor is the HTTP version a multiplexed stream must be answered in.
func (c *Config) protoMajor() int {
	if c.TLS == tlsH3 {
		return 3
	}
	return 2
}

// modeName is how the report and logs name the transport.
func (c *Config) modeName() string {
	switch {
	case c.WS:
		return "WebSocket " + c.wsProtocol()
	case c.H2C:
		return "h2c"
	case c.TLS == tlsH1:
		return "HTTP/1.1 over TLS"
	case c.TLS == tlsH2:
		return "HTTP/2 over TLS"
	case c.TLS == tlsH3:
		return "HTTP/3"
	}
	return "HTTP/1.1"
}

// clientTLSConfig is the generator's TLS configuration: no verification
// (loopback only, certificates made at run time), ALPN as given.
func clientTLSConfig(alpn ...string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: alpn, ClientSessionCache: nil}
}

// streamTransport is one shared connection of a multiplexed run.
type streamTransport interface {
	http.RoundTripper
	CloseIdleConnections()
}

// newStreamTransport makes the transport of one shared connection: h2c,
// HTTP/2 over TLS, or HTTP/3 (one QUIC connection per transport).
func newStreamTransport(c *Config) streamTransport {
	switch c.TLS {
	case tlsH2:
		var protos http.Protocols
		protos.SetHTTP2(true)
		d := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: -1}
		return &http.Transport{
			Proxy:              nil,
			DialContext:        d.DialContext,
			TLSClientConfig:    clientTLSConfig(),
			Protocols:          &protos,
			MaxConnsPerHost:    1,
			DisableCompression: true,
			HTTP2:              &http.HTTP2Config{StrictMaxConcurrentRequests: true},
		}
	case tlsH3:
		return &http3.Transport{TLSClientConfig: clientTLSConfig(), DisableCompression: true}
	}
	return newH2CTransport(c.ConnectTimeout)
}

// tlsClient wraps a dialled TCP connection in TLS (HTTP/1.1 by ALPN) and
// completes the handshake before ctx ends.
func tlsClient(ctx context.Context, conn net.Conn, serverName string) (net.Conn, error) {
	cfg := clientTLSConfig("http/1.1")
	cfg.ServerName = serverName
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// selfSignedTLS is a certificate for 127.0.0.1, ::1 and localhost, made now,
// valid for a day, kept in memory only.
func selfSignedTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "ssebench floor"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, nil
}

// serveFloorTLS serves h on ln over TLS (HTTP/1.1 and HTTP/2 by ALPN) and
// on the UDP port of the same number over HTTP/3. It returns a function
// that closes both.
func serveFloorTLS(srv *http.Server, ln net.Listener, errc chan<- error) (func(), error) {
	cfg, err := selfSignedTLS()
	if err != nil {
		return nil, err
	}
	srv.TLSConfig = cfg.Clone()
	srv.Protocols.SetHTTP2(true)
	udp, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		return nil, fmt.Errorf("HTTP/3 on %s: %w", ln.Addr(), err)
	}
	h3 := &http3.Server{Handler: srv.Handler, TLSConfig: http3.ConfigureTLSConfig(cfg.Clone())}
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	go func() { errc <- h3.Serve(udp) }()
	return func() {
		h3.Close()
		udp.Close()
	}, nil
}

// tlsMode is the Config.TLS the flags ask for.
func (o *options) tlsMode() string {
	switch {
	case o.tlsH1:
		return tlsH1
	case o.h2:
		return tlsH2
	case o.h3:
		return tlsH3
	}
	return tlsNone
}

// scheme is the -url scheme the mode needs.
func (o *options) scheme() string {
	if o.tlsMode() != tlsNone {
		return "https"
	}
	return "http"
}

func (o *options) modeFlags() string {
	if m := o.tlsMode(); m != tlsNone {
		return "-" + m
	}
	return "plaintext modes (HTTP/1.1, -h2c)"
}

// validateTLS: one transport mode at a time.
func (o *options) validateTLS() error {
	n := 0
	for _, on := range []bool{o.tlsH1, o.h2, o.h3, o.h2c} {
		if on {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("-tls, -h2, -h3 and -h2c exclude each other")
	}
	return nil
}

// freeTCPUDPPort is a loopback port free for TCP and UDP alike: the floor's
// HTTP/3 listens on the UDP port of its TCP port's number, as Caddy does.
func freeTCPUDPPort() int {
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		p := ln.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		ln.Close()
		if err == nil {
			u.Close()
			return p
		}
		if i > 100 {
			return 0
		}
	}
}

// h3StreamsPerConn is quic-go's default limit of concurrent streams a peer
// may open on one QUIC connection, which Caddy and the floor keep.
const h3StreamsPerConn = 100

// warnH3StreamLimit warns when -h3 puts more streams on one QUIC connection
// than the server accepts at once.
func warnH3StreamLimit(o *options) {
	if !o.h3 {
		return
	}
	c := o.config("", &url.URL{}, 0)
	if per := (o.conns + c.h2ConnCount() - 1) / c.h2ConnCount(); per > h3StreamsPerConn {
		fmt.Fprintf(os.Stderr, "ssebench: %d streams per QUIC connection: above the %d concurrent streams quic-go (Caddy, the floor) allows, the rest wait for a slot until -connect-timeout; raise -h2conns\n", per, h3StreamsPerConn)
	}
}
