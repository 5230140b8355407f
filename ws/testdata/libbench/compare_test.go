// Package libbench compares the three WebSocket libraries considered for
// ws/ on what the module's design needs. It is its own module under
// testdata, so the main module does not depend on the two not chosen. Run:
//
//	cd ws/testdata/libbench && go test -run TestIdleCost -v . && \
//	  go test -run '^$' -bench . -benchtime 5000x .
//
// TestIdleCost: heap and goroutines per upgraded, idle connection (500
// connections; client side included, "hijack" is a bare hijacked conn).
// BenchmarkRead: the server reads one 125-byte masked client message over
// loopback TCP. BenchmarkBroadcast100: one broadcast written to 100 sockets.
package libbench

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"
)

// A server holding every upgraded connection; kind picks the library.
type holder struct {
	mu    sync.Mutex
	conns []any
	ready chan struct{}
}

func serve(kind string, h *holder) http.Handler {
	up := gorilla.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c any
		switch kind {
		case "hijack":
			nc, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"))
			c = nc
		case "gobwas":
			nc, _, _, err := ws.UpgradeHTTP(r, w)
			if err != nil {
				panic(err)
			}
			c = nc
		case "gorilla":
			gc, err := up.Upgrade(w, r, nil)
			if err != nil {
				panic(err)
			}
			c = gc
		case "coder":
			cc, err := coder.Accept(w, r, &coder.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				panic(err)
			}
			c = cc
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			h.ready <- struct{}{}
			// coder ties the connection to the handler: returning
			// closes it, so a handler goroutine stays per connection.
			select {}
		}
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		h.ready <- struct{}{}
	})
}

func dial(t testing.TB, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
	}
	return c
}

func heap() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, runtime.NumGoroutine()
}

func TestIdleCost(t *testing.T) {
	const n = 500
	for _, kind := range []string{"hijack", "gobwas", "gorilla", "coder"} {
		h := &holder{ready: make(chan struct{}, n)}
		srv := httptest.NewServer(serve(kind, h))
		var clients []net.Conn
		time.Sleep(50 * time.Millisecond)
		m0, g0 := heap()
		for i := 0; i < n; i++ {
			clients = append(clients, dial(t, srv.Listener.Addr().String()))
			<-h.ready
		}
		time.Sleep(100 * time.Millisecond)
		m1, g1 := heap()
		t.Logf("%-8s heap/conn (server+client side) %6d B, goroutines/conn %.2f", kind, (m1-m0)/n, float64(g1-g0)/n)
		for _, c := range clients {
			c.Close()
		}
		srv.CloseClientConnections()
		srv.Close()
		runtime.KeepAlive(h)
	}
}

// maskedFrame is a client text frame carrying payload.
func maskedFrame(payload []byte) []byte {
	var key [4]byte
	rand.Read(key[:])
	f := []byte{0x81}
	switch {
	case len(payload) < 126:
		f = append(f, 0x80|byte(len(payload)))
	default:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(len(payload)))
	}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

var payload = []byte(`{"command":"message","identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","data":"{\"action\":\"speak\",\"text\":\"hello there\"}"}`)

// Read one masked client message on the server side over loopback TCP.
func BenchmarkRead(b *testing.B) {
	frame := maskedFrame(payload)
	for _, kind := range []string{"gobwas", "gobwas+bufio", "gorilla", "coder"} {
		b.Run(kind, func(b *testing.B) {
			h := &holder{ready: make(chan struct{}, 1)}
			srv := httptest.NewServer(serve(strings.TrimSuffix(kind, "+bufio"), h))
			defer srv.Close()
			c := dial(b, srv.Listener.Addr().String())
			defer c.Close()
			<-h.ready
			sc := h.conns[0]
			var br *bufio.Reader
			if kind == "gobwas+bufio" {
				br = bufio.NewReaderSize(sc.(net.Conn), 4096)
			}
			go func() {
				// Batches of frames, so the writer is not the bottleneck.
				batch := make([]byte, 0, len(frame)*64)
				for i := 0; i < 64; i++ {
					batch = append(batch, frame...)
				}
				for i := 0; i < b.N; i += 64 {
					if _, err := c.Write(batch); err != nil {
						return
					}
				}
			}()
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var msg []byte
				var err error
				switch s := sc.(type) {
				case net.Conn:
					if br != nil {
						msg, err = readGobwas(br)
					} else {
						msg, err = readGobwas(s)
					}
				case *gorilla.Conn:
					_, msg, err = s.ReadMessage()
				case *coder.Conn:
					_, msg, err = s.Read(b.Context())
				}
				if err != nil || len(msg) != len(payload) {
					b.Fatal(err, len(msg))
				}
			}
		})
	}
}

func readGobwas(c io.Reader) ([]byte, error) {
	hd, err := ws.ReadHeader(c)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, hd.Length)
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	ws.Cipher(buf, hd.Mask, 0)
	return buf, nil
}

// Write one broadcast to 100 connections: what a broadcast costs per socket.
func BenchmarkBroadcast100(b *testing.B) {
	const n = 100
	msg := []byte(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}","message":{"n":4,"text":"hello there, everyone"},"stream_id":"r1","epoch":"udIE","offset":4}`)
	for _, kind := range []string{"gobwas", "gorilla", "coder"} {
		b.Run(kind, func(b *testing.B) {
			h := &holder{ready: make(chan struct{}, n)}
			srv := httptest.NewServer(serve(kind, h))
			defer srv.Close()
			for i := 0; i < n; i++ {
				c := dial(b, srv.Listener.Addr().String())
				defer c.Close()
				go io.Copy(io.Discard, c)
				<-h.ready
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				switch kind {
				case "gobwas":
					frame := ws.MustCompileFrame(ws.NewTextFrame(msg)) // once per broadcast
					for _, c := range h.conns {
						if _, err := c.(net.Conn).Write(frame); err != nil {
							b.Fatal(err)
						}
					}
				case "gorilla":
					pm, _ := gorilla.NewPreparedMessage(gorilla.TextMessage, msg)
					for _, c := range h.conns {
						if err := c.(*gorilla.Conn).WritePreparedMessage(pm); err != nil {
							b.Fatal(err)
						}
					}
				case "coder":
					for _, c := range h.conns {
						if err := c.(*coder.Conn).Write(b.Context(), coder.MessageText, msg); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/socket")
		})
	}
}
