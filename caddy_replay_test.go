package anycablesse

// A replay cut to fit max_pending (a partial replay) over every transport:
// what was replayed and the closing disconnect reach the client, and the
// response ends cleanly, every time.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const partialSite = `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		history_limit 100
		history_ttl 60s
		max_pending 4KiB
	}
`

// readPartialReplay reads one resume cut short: at least one replayed event
// of stream, then the too_slow disconnect (reconnect:true), then a clean end
// of the response (not a reset, which drops what was queued).
func readPartialReplay(t *testing.T, what string, c *sseClient, stream string) {
	t.Helper()
	data := 0
	for {
		ev, ok := c.next(5 * time.Second)
		if !ok {
			t.Fatalf("%s: stream ended (%q) after %d events without the disconnect; received:\n%.600s", what, c.readErr(), data, c.Raw())
		}
		switch ev.Event {
		case "welcome", "confirm_subscription":
			continue
		case "":
			if !strings.HasSuffix(ev.ID, "/"+stream) {
				t.Fatalf("%s: event %+v", what, ev)
			}
			data++
			continue
		case "disconnect":
		default:
			t.Fatalf("%s: unexpected %+v", what, ev)
		}
		if ev.Data != `{"type":"disconnect","reason":"too_slow","reconnect":true}` {
			t.Fatalf("%s: %+v", what, ev)
		}
		break
	}
	if data == 0 {
		t.Fatalf("%s: no replayed event before the disconnect", what)
	}
	if !c.waitEnd(5 * time.Second) {
		t.Fatalf("%s: the response did not end after the disconnect", what)
	}
	if e := c.readErr(); e != "EOF" {
		t.Fatalf("%s: the response ended with %q, want a clean end", what, e)
	}
}

func TestPartialReplayIsWrittenAndEndsCleanly(t *testing.T) {
	const runs = 8
	t.Run("plain HTTP/1.1", func(t *testing.T) {
		loadCaddy(t, partialSite)
		publishBig(t, "partial-h1", 10, 1000)
		for i := 0; i < runs; i++ {
			c := subscribe(t, "stream=partial-h1&history_since=1")
			readPartialReplay(t, fmt.Sprintf("run %d", i), c, "partial-h1")
			c.Close()
		}
	})
	for _, p := range tlsProtocols {
		t.Run(p.name, func(t *testing.T) {
			loadTLSCaddy(t, partialSite)
			s := newTLSSession(t, p)
			stream := fmt.Sprintf("partial-tls-h%d", p.major)
			payload := strings.Repeat("x", 1000)
			var parts []string
			for k := 1; k <= 10; k++ {
				parts = append(parts, fmt.Sprintf(`{"stream":%q,"data":"%d %s"}`, stream, k, payload))
			}
			s.broadcast("[" + strings.Join(parts, ",") + "]")
			for i := 0; i < runs; i++ {
				c := s.open("/events?stream="+stream+"&history_since=1", http.Header{})
				readPartialReplay(t, fmt.Sprintf("%s run %d", p.name, i), c, stream)
				c.Close()
			}
		})
	}
}
