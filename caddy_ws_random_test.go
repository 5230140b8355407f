package anycablesse

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wsMsg is a server message as the random test reads it.
type wsMsg struct {
	Type        string          `json:"type"`
	Identifier  string          `json:"identifier"`
	Message     json.RawMessage `json:"message"`
	StreamID    string          `json:"stream_id"`
	Epoch       string          `json:"epoch"`
	Offset      uint64          `json:"offset"`
	Sid         string          `json:"sid"`
	Restored    bool            `json:"restored"`
	RestoredIDs []string        `json:"restored_ids"`
}

// wsResumer is one client of the random test: it follows its streams,
// drops its connection at random moments and comes back either by session
// recovery plus history commands (restore) or by subscribing with the
// positions it has (subscribe).
type wsResumer struct {
	t       *testing.T
	restore bool
	streams []string
	last    int // the last message number of each stream
	sid     string
	pos     map[string]protocolPos
	seen    map[string][]int
	ready   func()
	// since is when the test started (Unix seconds): history for a
	// restored stream the client has no position of yet.
	since int64
	// restored counts restored welcomes.
	restored int
}

type protocolPos struct {
	epoch  string
	offset uint64
}

func (r *wsResumer) complete() bool {
	for _, st := range r.streams {
		got := r.seen[st]
		if len(got) == 0 || got[len(got)-1] != r.last {
			return false
		}
	}
	return true
}

// take records a data message.
func (r *wsResumer) take(m wsMsg) {
	var body struct{ N int }
	if err := json.Unmarshal(m.Message, &body); err != nil || m.StreamID == "" {
		r.t.Errorf("data message %+v", m)
		return
	}
	r.seen[m.StreamID] = append(r.seen[m.StreamID], body.N)
	r.pos[m.StreamID] = protocolPos{m.Epoch, m.Offset}
}

func (r *wsResumer) subscribeCmd(stream string) string {
	cmd := `{"command":"subscribe","identifier":"` + pubsubID(stream) + `"`
	if p, ok := r.pos[stream]; ok {
		cmd += fmt.Sprintf(`,"history":{"streams":{%q:{"epoch":%q,"offset":%d}}}`, stream, p.epoch, p.offset)
	}
	return cmd + "}"
}

// session runs one connection until it ends or the drop time; it reports
// whether the client is done.
func (r *wsResumer) session(drop time.Duration, giveUp <-chan struct{}) bool {
	path := "/cable"
	if r.restore && r.sid != "" {
		path += "?sid=" + r.sid
	}
	c, err := dialWS(r.t, path, []string{extProto}, nil)
	if err != nil {
		r.t.Errorf("dial: %v", err)
		return true
	}
	defer c.Close()
	deadline := time.After(drop)
	waiting := 0 // history commands and subscriptions not answered yet
	for {
		var raw string
		var ok bool
		select {
		case raw, ok = <-c.msgs:
		case <-deadline:
		case <-giveUp:
			return true
		}
		if !ok {
			return false
		}
		var m wsMsg
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			r.t.Errorf("not JSON: %s", raw)
			continue
		}
		switch m.Type {
		case "ping":
		case "welcome":
			r.sid = m.Sid
			if m.Restored {
				r.restored++
			}
			restored := map[string]bool{}
			for _, id := range m.RestoredIDs {
				restored[id] = true
			}
			for _, st := range r.streams {
				id := strings.ReplaceAll(pubsubID(st), `\"`, `"`)
				if !restored[id] {
					c.send(r.subscribeCmd(st))
					waiting++
					continue
				}
				// What @anycable/core sends: the position, or a time
				// when it has none.
				if p, ok := r.pos[st]; ok {
					c.send(fmt.Sprintf(`{"command":"history","identifier":"%s","history":{"streams":{%q:{"epoch":%q,"offset":%d}}}}`, pubsubID(st), st, p.epoch, p.offset))
				} else {
					c.send(fmt.Sprintf(`{"command":"history","identifier":"%s","history":{"since":%d}}`, pubsubID(st), r.since))
				}
				waiting++
			}
		case "confirm_subscription", "confirm_history":
			waiting--
		case "reject_subscription", "reject_history":
			r.t.Errorf("%s", raw)
			waiting--
		case "disconnect":
		case "":
			// Taken as they come, restored or not: a restored
			// subscription's history comes before its live messages.
			r.take(m)
		}
		if waiting == 0 {
			r.ready()
			if r.complete() {
				return true
			}
		}
	}
}

// Clients drop and reconnect over WebSocket (ext) at random moments while
// numbered messages are published: half come back by session recovery and
// history commands, half by subscribing with their positions. Every
// client must get every message of its streams once, in order.
func TestWebSocketRandomReconnectsLoseNothing(t *testing.T) {
	loadCaddy(t, `
	anycable_sse {
		public_streams
		broadcast_key `+testKey+`
		websocket_path /cable
		history_limit 100000
	}`)
	const (
		nStreams  = 3
		perStream = 150
		clients   = 12
	)
	start := time.Now().Unix() - 1
	names := make([]string, nStreams)
	for s := range names {
		names[s] = freshStream(fmt.Sprintf("rnd%d", s))
	}
	var wg, ready sync.WaitGroup
	var reconnects, restores atomic.Int64
	giveUp := make(chan struct{})
	ready.Add(clients)
	rs := make([]*wsResumer, clients)
	for i := range rs {
		streams := []string{names[i%nStreams]}
		if i%4 == 3 {
			streams = []string{names[0], names[1]}
		}
		var once sync.Once
		rs[i] = &wsResumer{t: t, restore: i%2 == 0, streams: streams, last: perStream, since: start,
			pos: map[string]protocolPos{}, seen: map[string][]int{}, ready: func() { once.Do(ready.Done) }}
		wg.Add(1)
		go func(r *wsResumer) {
			defer wg.Done()
			defer r.ready()
			for !r.session(time.Duration(20+rand.IntN(150))*time.Millisecond, giveUp) {
				reconnects.Add(1)
				if r.restore {
					restores.Add(1)
				}
			}
		}(rs[i])
	}
	allReady := make(chan struct{})
	go func() { ready.Wait(); close(allReady) }()
	select {
	case <-allReady:
	case <-time.After(30 * time.Second):
		t.Fatal("the clients did not subscribe within 30 s")
	}
	var pwg sync.WaitGroup
	for s, name := range names {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for n := 1; n <= perStream; n++ {
				mustBroadcast(t, testKey, fmt.Sprintf(`{"stream":%q,"data":"{\"n\":%d,\"s\":%d}"}`, name, n, s))
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			}
		}()
	}
	pwg.Wait()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		close(giveUp)
		<-done
	}

	lost, dups, disorder, restored := 0, 0, 0, 0
	for i, r := range rs {
		restored += r.restored
		for _, st := range r.streams {
			got := r.seen[st]
			// The first connection starts live: a client's sequence starts
			// wherever it landed, and from there it must be complete.
			if len(got) == 0 {
				t.Errorf("client %d saw nothing on %s", i, st)
				continue
			}
			if !slices.Equal(got, seq(got[0], perStream)) {
				t.Errorf("client %d (restore %v) on %s: %v", i, r.restore, st, got)
			}
			l, d, o := sequenceFaults(got, perStream)
			lost, dups, disorder = lost+l, dups+d, disorder+o
		}
	}
	t.Logf("clients=%d reconnects=%d (by recovery %d, restored %d) lost=%d duplicates=%d out-of-order=%d",
		clients, reconnects.Load(), restores.Load(), restored, lost, dups, disorder)
	if lost+dups+disorder > 0 {
		t.Fatalf("lost=%d duplicates=%d out-of-order=%d", lost, dups, disorder)
	}
	if restored == 0 {
		t.Fatal("no session was restored")
	}
	if reconnects.Load() < clients {
		t.Fatalf("too few reconnects to mean anything: %d", reconnects.Load())
	}
}

// seq is from, from+1, ..., to.
func seq(from, to int) []int {
	var out []int
	for n := from; n <= to; n++ {
		out = append(out, n)
	}
	return out
}
