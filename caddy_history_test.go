package anycablesse

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

const historySite = `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		history_limit 5
		history_ttl 60s
	}`

// publishN publishes {"n":from}..{"n":to} to stream and returns nothing; ids
// are read back by subscribers.
func publishN(t *testing.T, stream string, from, to int) {
	t.Helper()
	var parts []string
	for n := from; n <= to; n++ {
		parts = append(parts, fmt.Sprintf(`{"stream":%q,"data":"{\"n\":%d}"}`, stream, n))
	}
	mustBroadcast(t, testKey, "["+strings.Join(parts, ",")+"]")
}

// epochOf learns a stream's current epoch by subscribing and publishing.
func lastID(t *testing.T, stream string) string {
	t.Helper()
	c := subscribe(t, "stream="+stream)
	c.mustNext()
	c.mustNext()
	mustBroadcast(t, testKey, fmt.Sprintf(`{"stream":%q,"data":"\"probe\""}`, stream))
	ev := c.mustNext()
	c.Close()
	return ev.ID
}

func resumeWith(t *testing.T, stream, lei string) *sseClient {
	t.Helper()
	c := openStream(t, http.MethodGet, "/events?stream="+stream, "", http.Header{"Last-Event-Id": {lei}})
	if c.resp.StatusCode != 200 {
		t.Fatalf("resume %q: %d %s", lei, c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	c.mustNext() // welcome
	c.mustNext() // confirm
	return c
}

func TestLastEventIDRecoveryTable(t *testing.T) {
	loadCaddy(t, historySite)
	id := lastID(t, "room/1") // offset 1 ("probe")
	parts := strings.SplitN(id, "/", 3)
	epoch := parts[1]
	publishN(t, "room/1", 2, 10) // offsets 2..10; history keeps 6..10

	pos := func(o int) string { return fmt.Sprintf("%d/%s/room/1", o, epoch) }
	cases := []struct {
		name, lei string
		want      []int // recovered n values; nil = reject_history
	}{
		{"inside the window", pos(7), []int{8, 9, 10}},
		{"exactly at the lower edge (AnyCable rejects this)", pos(5), []int{6, 7, 8, 9, 10}},
		{"beyond the window", pos(4), nil},
		{"at the top", pos(10), []int{}},
		{"ahead of the top", pos(11), nil},
		{"epoch mismatch", "7/XXXXXXXX/room/1", nil},
		{"AnyCable docs order offset/stream/epoch", "7/room/1/" + epoch, []int{8, 9, 10}},
		{"stream not in the subscription", fmt.Sprintf("3/%s/other", epoch), []int{}},
	}
	for _, c := range cases {
		cl := resumeWith(t, "room/1", c.lei)
		var got []int
		for {
			ev := cl.mustNext()
			if ev.Event == "reject_history" {
				if c.want != nil {
					t.Errorf("%s: reject_history, want %v", c.name, c.want)
				}
				break
			}
			if ev.Event == "confirm_history" {
				if c.want == nil {
					t.Errorf("%s: confirm_history after %v, want reject", c.name, got)
				} else if fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("%s: recovered %v, want %v", c.name, got, c.want)
				}
				break
			}
			var n int
			fmt.Sscanf(ev.Data, `{"n":%d}`, &n)
			got = append(got, n)
			if ev.ID != pos(n) {
				t.Errorf("%s: id %q for n=%d", c.name, ev.ID, n)
			}
		}
		cl.Close()
	}
	// Fewer than three parts: ignored, no history events.
	cl := resumeWith(t, "room/1", "12/ep")
	mustBroadcast(t, testKey, `{"stream":"room/1","data":"{\"n\":11}"}`)
	if ev := cl.mustNext(); ev.Data != `{"n":11}` {
		t.Fatalf("two-part id: %+v", ev)
	}
}

func TestHistorySinceAndQueryResume(t *testing.T) {
	loadCaddy(t, historySite)
	id := lastID(t, "since")
	epoch := strings.SplitN(id, "/", 3)[1]
	publishN(t, "since", 2, 3)

	c := subscribe(t, fmt.Sprintf("stream=since&history_since=%d", time.Now().Unix()-100))
	c.mustNext()
	c.mustNext()
	for _, want := range []string{`"probe"`, `{"n":2}`, `{"n":3}`} {
		if ev := c.mustNext(); ev.Data != strings.Trim(want, `"`) && ev.Data != want {
			t.Fatalf("history_since: %+v, want %s", ev, want)
		}
	}
	if ev := c.mustNext(); ev.Event != "confirm_history" {
		t.Fatalf("after history: %+v", ev)
	}
	// A future timestamp (or milliseconds) yields only confirm_history.
	c2 := subscribe(t, fmt.Sprintf("stream=since&history_since=%d", time.Now().UnixMilli()))
	c2.mustNext()
	c2.mustNext()
	if ev := c2.mustNext(); ev.Event != "confirm_history" {
		t.Fatalf("future history_since: %+v", ev)
	}
	// last_event_id works like the header for a first connect.
	c3 := subscribe(t, "stream=since&last_event_id="+urlEncode("2/"+epoch+"/since"))
	c3.mustNext()
	c3.mustNext()
	if ev := c3.mustNext(); ev.Data != `{"n":3}` || ev.ID != "3/"+epoch+"/since" {
		t.Fatalf("last_event_id query: %+v", ev)
	}
	if ev := c3.mustNext(); ev.Event != "confirm_history" {
		t.Fatalf("after last_event_id: %+v", ev)
	}
	// Raw mode gets the history data but no typed events.
	c4 := openStream(t, http.MethodGet, "/events?stream=since&raw=1", "", http.Header{"Last-Event-Id": {"2/" + epoch + "/since"}})
	if ev := c4.mustNext(); ev.Data != `{"n":3}` {
		t.Fatalf("raw resume: %+v", ev)
	}
	m := newMarker()
	mustBroadcast(t, testKey, `{"stream":"since","data":"`+m+`"}`)
	c4.expectMarkers(m) // no typed event (confirm_history) in raw mode
}

func TestHistoryExpiresByTTL(t *testing.T) {
	// The memory broker runs on a fake clock that the test moves past the
	// TTL instead of sleeping. A new engine is needed to take the clock:
	// stop whatever config runs (its engine goes), and stop this one at the
	// end, so that no later test gets an engine with a stopped clock.
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	caddy.Stop()
	memoryNow = func() time.Time { return time.Unix(0, clock.Load()) }
	t.Cleanup(func() {
		caddy.Stop()
		memoryNow = nil
	})
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		history_ttl 1s
	}`)
	id := lastID(t, "ttl")
	publishN(t, "ttl", 2, 2)
	clock.Add(int64(2200 * time.Millisecond))
	c := resumeWith(t, "ttl", id)
	if ev := c.mustNext(); ev.Event != "reject_history" {
		t.Fatalf("expired history: %+v", ev)
	}
	// Live delivery goes on after the rejection.
	mustBroadcast(t, testKey, `{"stream":"ttl","data":"{\"n\":3}"}`)
	if ev := c.mustNext(); ev.Data != `{"n":3}` || !strings.HasPrefix(ev.ID, "3/") {
		t.Fatalf("live after reject: %+v", ev)
	}
}

func TestHistorySurvivesReload(t *testing.T) {
	loadCaddy(t, historySite)
	open := subscribe(t, "stream=reload")
	open.mustNext()
	open.mustNext()
	id := lastID(t, "reload")
	if ev := open.mustNext(); ev.ID != id {
		t.Fatalf("open stream: %+v", ev)
	}

	// Reload with a changed setting: the hub, its epochs and history stay.
	loadCaddy(t, strings.Replace(historySite, "history_limit 5", "history_limit 50", 1))
	publishN(t, "reload", 2, 3)
	// The stream opened before the reload keeps receiving.
	for _, n := range []int{2, 3} {
		if ev := open.mustNext(); ev.Data != fmt.Sprintf(`{"n":%d}`, n) {
			t.Fatalf("stream across reload: %+v", ev)
		}
	}
	c := resumeWith(t, "reload", id)
	for _, n := range []int{2, 3} {
		if ev := c.mustNext(); ev.Data != fmt.Sprintf(`{"n":%d}`, n) {
			t.Fatalf("resume after reload: %+v", ev)
		}
	}
	if ev := c.mustNext(); ev.Event != "confirm_history" {
		t.Fatalf("after reload: %+v", ev)
	}
}

// TestRandomReconnectsLoseNothing: clients drop and reconnect with the last
// id they saw at random moments while broadcasts flow on several streams.
// Every client must see every message of its streams exactly once, in order.
func TestRandomReconnectsLoseNothing(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"u"}`
		case "command":
			return 200, `{"status":1,"streams":["r0","r1"]}`
		}
		return 200, `{"status":1}`
	})
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		rpc_url `+app.URL+`
		history_limit 100000
	}`)
	const (
		streams   = 3
		perStream = 150
		clients   = 12
	)
	var wg sync.WaitGroup
	var reconnects, delivered atomic.Int64
	giveUp := make(chan struct{})
	// Publishing starts once every client is subscribed: a first connect
	// starts live, and one landing after the last broadcast would see
	// nothing.
	var ready sync.WaitGroup
	ready.Add(clients)
	type result struct {
		seen map[string][]int
	}
	results := make([]result, clients)
	for i := 0; i < clients; i++ {
		results[i].seen = map[string][]int{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			query := "stream=r" + strconv.Itoa(i%streams)
			if i%4 == 3 {
				query = "channel=Two" // a channel streaming from r0 and r1: multi-stream ids
			}
			lastID := ""
			// A client is done once it has the last message of each of its
			// streams (order and gaps are checked afterwards). It keeps
			// dropping and resuming until then, however long a resume takes
			// on a busy machine: a client still reconnecting when the
			// publishers finish is late, not lost. giveUp only bounds a
			// client that never completes, which the checks then report.
			want := []string{"r" + strconv.Itoa(i%streams)}
			if i%4 == 3 {
				want = []string{"r0", "r1"}
			}
			complete := func() bool {
				for _, key := range want {
					got := results[i].seen[key]
					if len(got) == 0 || got[len(got)-1] != perStream {
						return false
					}
				}
				return true
			}
			subscribed := false
			markReady := func() {
				if !subscribed {
					subscribed = true
					ready.Done()
				}
			}
			defer markReady()
			for {
				h := http.Header{}
				if lastID != "" {
					h.Set("Last-Event-Id", lastID)
				}
				c := openStream(t, http.MethodGet, "/events?"+query, "", h)
				if c.resp.StatusCode != 200 {
					t.Errorf("client %d: status %d", i, c.resp.StatusCode)
					return
				}
				deadline := time.After(time.Duration(20+rand.IntN(150)) * time.Millisecond)
			read:
				for {
					select {
					case ev, ok := <-c.events:
						if !ok {
							break read
						}
						if ev.Event == "reject_history" {
							t.Errorf("client %d: history rejected", i)
						}
						// The stream answered (a confirmation, or a
						// ping where a channel sends none): subscribed.
						markReady()
						if ev.Event != "" || ev.Comment {
							continue
						}
						var s, n int
						if _, err := fmt.Sscanf(ev.Data, `{"n":%d,"s":%d}`, &n, &s); err != nil {
							t.Errorf("client %d: data %q", i, ev.Data)
							continue
						}
						key := "r" + strconv.Itoa(s)
						results[i].seen[key] = append(results[i].seen[key], n)
						delivered.Add(1)
						lastID = ev.ID
						if complete() {
							c.Close()
							return
						}
					case <-deadline:
						break read
					case <-giveUp:
						c.Close()
						return
					}
				}
				c.Close()
				reconnects.Add(1)
			}
		}(i)
	}
	allReady := make(chan struct{})
	go func() { ready.Wait(); close(allReady) }()
	select {
	case <-allReady:
	case <-time.After(30 * time.Second):
		t.Fatal("the clients did not subscribe within 30 s")
	}
	// Publish from several goroutines, one per stream, in order per stream.
	var pwg sync.WaitGroup
	for s := 0; s < streams; s++ {
		pwg.Add(1)
		go func(s int) {
			defer pwg.Done()
			for n := 1; n <= perStream; n++ {
				mustBroadcast(t, testKey, fmt.Sprintf(`{"stream":"r%d","data":"{\"n\":%d,\"s\":%d}"}`, s, n, s))
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			}
		}(s)
	}
	pwg.Wait()
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	select {
	case <-clientsDone:
	case <-time.After(30 * time.Second):
		close(giveUp)
		<-clientsDone
	}

	lost, dups, disorder := 0, 0, 0
	for i, r := range results {
		want := []string{"r" + strconv.Itoa(i%streams)}
		if i%4 == 3 {
			want = []string{"r0", "r1"}
		}
		for _, key := range want {
			got := r.seen[key]
			// The first connection starts live, so a client's sequence starts
			// wherever its first connect landed; from there it must be
			// complete.
			if len(got) == 0 {
				t.Errorf("client %d saw nothing on %s", i, key)
				continue
			}
			l, d, o := sequenceFaults(got, perStream)
			lost, dups, disorder = lost+l, dups+d, disorder+o
		}
	}
	t.Logf("clients=%d streams=%d published=%d delivered=%d reconnects=%d lost=%d duplicates=%d out-of-order=%d",
		clients, streams, streams*perStream, delivered.Load(), reconnects.Load(), lost, dups, disorder)
	if lost+dups+disorder > 0 {
		t.Fatalf("lost=%d duplicates=%d out-of-order=%d", lost, dups, disorder)
	}
	if reconnects.Load() < clients {
		t.Fatalf("too few reconnects to mean anything: %d", reconnects.Load())
	}
}

// POST clients resume through the history field of each command (they
// cannot send Last-Event-ID): every stream from its own position.
func TestPostHistoryResume(t *testing.T) {
	loadCaddy(t, historySite)
	ida := lastID(t, "pa") // offset 1
	idb := lastID(t, "pb")
	ea, eb := strings.SplitN(ida, "/", 3)[1], strings.SplitN(idb, "/", 3)[1]
	publishN(t, "pa", 2, 3)
	publishN(t, "pb", 2, 2)
	body := fmt.Sprintf(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"pa\"}","history":{"streams":{"pa":{"offset":1,"epoch":%q}}}}`, ea) + "\n" +
		fmt.Sprintf(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"pb\"}","history":{"streams":{"pb":{"epoch":%q,"offset":1}}}}`, eb)
	c := openStream(t, http.MethodPost, "/events", body, nil)
	if c.resp.StatusCode != 200 {
		t.Fatalf("status %d %s", c.resp.StatusCode, c.resp.Header.Get("X-AnyCable-Error"))
	}
	var got []string
	confirms := 0
	for confirms < 2 {
		ev := c.mustNext()
		switch {
		case ev.Event == "confirm_history":
			confirms++
		case ev.Event == "reject_history":
			t.Fatalf("history rejected: %+v", ev)
		case ev.Event == "":
			var m struct {
				Stream  string          `json:"stream_id"`
				Offset  int             `json:"offset"`
				Message json.RawMessage `json:"message"`
			}
			if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
				t.Fatalf("%q: %v", ev.Data, err)
			}
			got = append(got, fmt.Sprintf("%s/%d", m.Stream, m.Offset))
		}
	}
	if strings.Join(got, " ") != "pa/2 pa/3 pb/2" {
		t.Fatalf("recovered %v", got)
	}
}

// sequenceFaults counts what a client's received sequence of a stream's
// numbered messages (1..last, starting wherever its first connection
// landed) lacks, repeats and has out of order.
func sequenceFaults(got []int, last int) (lost, dups, disorder int) {
	if len(got) == 0 {
		return 0, 0, 0
	}
	expect := got[0]
	seen := map[int]bool{}
	for _, n := range got {
		if seen[n] {
			dups++
		}
		seen[n] = true
		if n != expect {
			disorder++
		}
		expect = n + 1
	}
	for n := got[0]; n <= last; n++ {
		if !seen[n] {
			lost++
		}
	}
	return lost, dups, disorder
}
