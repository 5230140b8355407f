package anycablesse

// A replay cut to fit max_pending (a partial replay) over every transport:
// what was replayed and the closing disconnect reach the client, and the
// response ends cleanly, every time.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
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

// A replay over several streams cut to fit max_pending: the streams it did
// not reach are recorded in the first id at the position they start from,
// not at their top, so resuming with the last id eventually delivers every
// message of every stream exactly once, in order. Before, a stream whose
// history was cut away entirely was recorded at its top, and its messages
// were lost on resume.
func TestMultiStreamPartialReplayResumesEveryStream(t *testing.T) {
	loadCaddy(t, partialSite)
	streams := []string{"multi-a", "multi-b"}
	for _, s := range streams {
		publishBig(t, s, 10, 1000)
	}
	ident := func(s string) string { return fmt.Sprintf(`{"channel":"$pubsub","stream_name":%q}`, s) }
	line := func(s, history string) string {
		b, _ := json.Marshal(map[string]any{"identifier": ident(s)})
		if history != "" {
			return strings.TrimSuffix(string(b), "}") + `,"history":` + history + `}`
		}
		return string(b)
	}
	first := line(streams[0], `{"since":1}`) + "\n" + line(streams[1], `{"since":1}`)
	// A POST client resumes through each line's history.streams (it
	// sends no Last-Event-ID): the positions of the last id it got.
	resume := func(last string) string {
		ps, err := protocol.ParseLastEventID(last, streams)
		if err != nil {
			t.Fatalf("last id %q: %v", last, err)
		}
		var lines []string
		for _, s := range streams {
			for _, p := range ps {
				if p.Stream == s {
					h, _ := json.Marshal(protocol.HistoryParams{Streams: map[string]protocol.HistoryPosition{s: {Epoch: p.Epoch, Offset: p.Offset}}})
					lines = append(lines, line(s, string(h)))
				}
			}
		}
		if len(lines) != len(streams) {
			t.Fatalf("last id %q names %v, want every stream", last, ps)
		}
		return strings.Join(lines, "\n")
	}

	next := map[string]int{ident(streams[0]): 1, ident(streams[1]): 1}
	done := func() bool { return next[ident(streams[0])] == 11 && next[ident(streams[1])] == 11 }
	c := openStream(t, http.MethodPost, "/events", first, nil)
	last, resumes := "", 0
	for !done() {
		if c.resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %s", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
		}
		ev, ok := c.next(5 * time.Second)
		if !ok {
			t.Fatalf("after %d resumes the stream stalled with %v; last id %q; received:\n%.2000s", resumes, next, last, c.Raw())
		}
		switch ev.Event {
		case "disconnect":
			if ev.Data != `{"type":"disconnect","reason":"too_slow","reconnect":true}` || last == "" {
				t.Fatalf("disconnect %+v, last id %q", ev, last)
			}
			c.Close()
			resumes++
			if resumes > 40 {
				t.Fatalf("no end after %d resumes: %v", resumes, next)
			}
			c = openStream(t, http.MethodPost, "/events", resume(last), nil)
			continue
		case "":
		default:
			continue // welcome, confirm_subscription, confirm_history
		}
		var m struct {
			Identifier string `json:"identifier"`
			Message    string `json:"message"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			t.Fatalf("event %.80q: %v", ev.Data, err)
		}
		want, known := next[m.Identifier]
		if !known || !strings.HasPrefix(m.Message, strconv.Itoa(want)+" ") {
			t.Fatalf("got %.40q of %s, want message %d", m.Message, m.Identifier, want)
		}
		next[m.Identifier]++
		if ev.ID == "" {
			t.Fatalf("event without id: %+v", ev)
		}
		last = ev.ID
	}
	if resumes == 0 {
		t.Fatal("the replay was never cut: the test does not exercise the cut")
	}
	c.Close()
}
