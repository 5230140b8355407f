//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestRunTLSModesAgainstFloor runs -tls, -h2 and -h3 against the floor
// server serving TLS and HTTP/3 as -floor-tls does: every SSE request must
// arrive over TLS in the mode's protocol, multiplexed modes on exactly
// H2Conns connections, and the accounting must be clean.
func TestRunTLSModesAgainstFloor(t *testing.T) {
	for _, c := range []struct {
		mode    string
		major   int
		h2conns int // 0: one TCP connection per stream
	}{
		{tlsH1, 1, 0},
		{tlsH2, 2, 5},
		{tlsH3, 3, 5},
	} {
		t.Run(c.mode, func(t *testing.T) {
			f := newFloorServer("k", 0)
			f.writeTimeout = 100 * time.Millisecond
			var mu sync.Mutex
			remotes := map[string]int{}
			wrong := 0
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/events" {
					mu.Lock()
					remotes[r.RemoteAddr]++
					if r.ProtoMajor != c.major || r.TLS == nil {
						wrong++
					}
					mu.Unlock()
				}
				f.ServeHTTP(w, r)
			})
			port := freeTCPUDPPort()
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: h, Protocols: floorProtocols()}
			errc := make(chan error, 2)
			closeH3, err := serveFloorTLS(srv, ln, errc)
			if err != nil {
				t.Fatal(err)
			}
			defer closeH3()
			defer srv.Close()

			cfg := benchConfig(t, fmt.Sprintf("https://127.0.0.1:%d", port))
			cfg.TLS, cfg.H2Conns = c.mode, c.h2conns
			cfg.Hold = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Connected != 12 || res.Published != 30 || res.Expected != 120 || res.Delivered != 120 {
				t.Fatalf("connected %d published %d expected %d delivered %d; errors %v notes %v",
					res.Connected, res.Published, res.Expected, res.Delivered, res.ConnectErrors, res.Notes)
			}
			if res.Lost+res.Duplicated+res.OutOfOrder+res.Misrouted+res.BadPayload != 0 || len(res.EndedEarly) != 0 {
				t.Fatalf("clean server flagged: %+v", res)
			}
			mu.Lock()
			defer mu.Unlock()
			want := 12
			if c.h2conns > 0 {
				want = c.h2conns
			}
			if wrong != 0 || len(remotes) != want || res.TLS != c.mode {
				t.Fatalf("%d requests not over TLS in HTTP/%d; %d connections %v, want %d; result TLS %q", wrong, c.major, len(remotes), remotes, want, res.TLS)
			}
		})
	}
}
