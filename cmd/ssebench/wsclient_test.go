//go:build linux

package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunWSAgainstFloor runs the -ws path against the floor's WebSocket
// side, once per subprotocol: every connection must be a WebSocket upgrade
// on the path, and the accounting as clean as over SSE.
func TestRunWSAgainstFloor(t *testing.T) {
	for _, proto := range []string{wsProtoV1, wsProtoExt} {
		t.Run(proto, func(t *testing.T) {
			f := newFloorServer("k", 0)
			var mu sync.Mutex
			var upgrades, sse int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				switch r.URL.Path {
				case floorWSPath:
					if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
						r.Header.Get("Sec-WebSocket-Protocol") == proto {
						upgrades++
					}
				case "/events":
					sse++
				}
				mu.Unlock()
				f.ServeHTTP(w, r)
			}))
			defer srv.Close()

			cfg := benchConfig(t, srv.URL)
			cfg.WS, cfg.WSPath, cfg.WSProtocol = true, floorWSPath, proto
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
			if res.Lost+res.Duplicated+res.OutOfOrder+res.Misrouted+res.BadPayload+res.OtherEvents != 0 || len(res.EndedEarly) != 0 {
				t.Fatalf("clean server flagged: %+v", res)
			}
			if res.LatencyN != 120 || res.LatP50 > res.LatP99 {
				t.Fatalf("latency: n %d p50 %v p99 %v", res.LatencyN, res.LatP50, res.LatP99)
			}
			mu.Lock()
			defer mu.Unlock()
			if upgrades != 12 || sse != 0 {
				t.Fatalf("%d WebSocket upgrades offering %s, %d SSE requests", upgrades, proto, sse)
			}
			var md bytes.Buffer
			WriteMarkdown(&md, []*Result{res})
			if !strings.Contains(md.String(), "Action Cable WebSocket connections ("+proto+")") || res.WebSocket != proto {
				t.Fatalf("report does not say WebSocket %s:\n%s", proto, md.String())
			}
		})
	}
}

// TestRunWSDetectsFaults: over WebSocket too, a dropped, a doubled and a
// late message are counted as lost, duplicated and out of order.
func TestRunWSDetectsFaults(t *testing.T) {
	f := newFloorServer("k", 0)
	var held [][]byte
	f.mangle = func(stream string, off uint64, frame []byte) [][]byte {
		switch off {
		case 3:
			return nil
		case 5:
			return [][]byte{frame, frame}
		case 7:
			held = [][]byte{frame}
			return nil
		case 8:
			return append([][]byte{frame}, held...)
		}
		return [][]byte{frame}
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := benchConfig(t, srv.URL)
	cfg.WS, cfg.WSPath = true, floorWSPath
	cfg.Streams, cfg.Publishers, cfg.Batch = 1, 1, 1
	cfg.Conns, cfg.Messages = 5, 10
	cfg.Drain = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Expected != 50 || res.Delivered != 45 || res.Lost != 5 || res.ConnsWithLoss != 5 ||
		res.Duplicated != 5 || res.OutOfOrder != 5 {
		t.Fatalf("expected %d delivered %d lost %d (conns %d) dup %d ooo %d; notes %v",
			res.Expected, res.Delivered, res.Lost, res.ConnsWithLoss, res.Duplicated, res.OutOfOrder, res.Notes)
	}
}

// TestRunWSRefused: a server that refuses the upgrade is a connect error
// per connection, not a hang.
func TestRunWSRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	cfg := benchConfig(t, srv.URL)
	cfg.WS, cfg.WSPath = true, floorWSPath
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 0 || res.ConnectFailed != 12 {
		t.Fatalf("connected %d failed %d errors %v", res.Connected, res.ConnectFailed, res.ConnectErrors)
	}
}

// TestWSMessageParsing: the client tells data from control messages, and
// takes data sent as an object or as a JSON string.
func TestWSMessageParsing(t *testing.T) {
	r := &runner{}
	c := &client{stream: 2}
	id := `"{\"channel\":\"$pubsub\",\"stream_name\":\"x\"}"`
	msgs := []string{
		`{"type":"welcome","sid":"abc"}`,
		`{"identifier":` + id + `,"message":{"p":"xx","q":1,"s":2,"t":1},"stream_id":"x","epoch":"e","offset":1}`,
		`{"identifier":` + id + `,"message":"{\"s\":2,\"q\":2,\"t\":1,\"p\":\"x\"}"}`,
		`{"type":"ping","message":1700000000}`,
		`{"type":"disconnect","reason":"server_restart","reconnect":true}`,
		`{"type":"confirm_history","identifier":` + id + `}`,
	}
	for _, m := range msgs {
		if c.onWSMessage(r, nil, []byte(m), time.Now(), nil) {
			t.Fatalf("%s ended the connection", m)
		}
	}
	if c.tr.Distinct() != 2 || c.badPayload != 0 || c.pings != 1 || c.disconnects != 1 ||
		c.discReason != "server_restart" || c.otherEvents != 1 {
		t.Fatalf("distinct %d bad %d pings %d disconnects %d (%q) other %d",
			c.tr.Distinct(), c.badPayload, c.pings, c.disconnects, c.discReason, c.otherEvents)
	}
}
