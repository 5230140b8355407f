package anycablesse

// WebSocket session recovery beyond one process: across two nodes sharing
// a Redis broker, and across a restart of a node with the file broker.

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cableway/caddy-anycable-sse/internal/redistest"
)

// wsRecoveryStart opens an ext session at base subscribed to stream, gets
// one broadcast (sent by publish), and leaves; it returns the sid and the
// epoch seen.
func wsRecoveryStart(t *testing.T, base, stream string, publish func(body string)) (sid, epoch string) {
	t.Helper()
	a, err := dialWSAt(t, base, "/cable", []string{extProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sid = field(t, a.mustNext(), "sid").(string)
	a.send(`{"command":"subscribe","identifier":"` + pubsubID(stream) + `"}`)
	a.mustNext() // confirm
	// Commands run in order: the pong says the subscribe is done, its
	// session saved included.
	a.send(`{"command":"ping"}`)
	if m := a.mustNext(); m != `{"type":"pong"}` {
		t.Fatalf("pong %s", m)
	}
	publish(`{"stream":"` + stream + `","data":"1"}`)
	m := a.mustNext()
	if !strings.Contains(m, `"message":1,`) {
		t.Fatalf("first message %s", m)
	}
	a.Close()
	return sid, field(t, m, "epoch").(string)
}

// wsRecoveryResume restores sid at base, asks for history after offset 1
// of epoch, and checks that exactly the missed messages come, once, in
// order, then the live ones.
func wsRecoveryResume(t *testing.T, base, sid, stream, epoch string, missed []string, publish func(body string)) *wsClient {
	t.Helper()
	b, err := dialWSAt(t, base, "/cable?sid="+sid, []string{extProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := b.mustNext()
	if field(t, w, "restored") != true || field(t, w, "sid") == sid {
		t.Fatalf("restored welcome %s", w)
	}
	if ids, _ := field(t, w, "restored_ids").([]any); len(ids) != 1 || ids[0] != strings.ReplaceAll(pubsubID(stream), `\"`, `"`) {
		t.Fatalf("restored_ids %v", field(t, w, "restored_ids"))
	}
	b.send(`{"command":"history","identifier":"` + pubsubID(stream) + `","history":{"streams":{"` + stream + `":{"epoch":"` + epoch + `","offset":1}}}}`)
	for _, want := range missed {
		if m := b.mustNext(); !strings.Contains(m, `"message":`+want+`,`) {
			t.Fatalf("history: %s, want %s", m, want)
		}
	}
	if m := b.mustNext(); m != `{"type":"confirm_history","identifier":"`+pubsubID(stream)+`"}` {
		t.Fatalf("confirm_history %s", m)
	}
	publish(`{"stream":"` + stream + `","data":"99"}`)
	if m := b.mustNext(); !strings.Contains(m, `"message":99,`) {
		t.Fatalf("live after restore (a missed message again?): %s", m)
	}
	return b
}

func wsSiteOn(site string) string {
	return strings.Replace(site, "ping_interval 1s", "ping_interval 1s\n\t\twebsocket_path /cable", 1)
}

// A session opened on node A, whose client is gone, is restored on node B
// (one Redis): its subscriptions come back, the history command returns
// the messages published meanwhile once, and the sid cannot be restored
// again on either node.
func TestWebSocketRecoveryAcrossRedisNodes(t *testing.T) {
	redistest.Quiet()
	srv := redistest.Start(t)
	site := wsSiteOn(redisSite(srv.URL()))
	a := startNode(t, site)
	b := startNode(t, site)
	st := freshStream("fleet")
	pubA := func(body string) {
		if s := a.broadcast(t, body); s != 201 {
			t.Fatalf("broadcast: %d", s)
		}
	}
	sid, epoch := wsRecoveryStart(t, a.url(""), st, pubA)
	pubA(`{"stream":"` + st + `","data":"2"}`)
	pubA(`{"stream":"` + st + `","data":"3"}`)
	wsRecoveryResume(t, b.url(""), sid, st, epoch, []string{"2", "3"}, pubA)
	for _, n := range []*node{a, b} {
		c, err := dialWSAt(t, n.url(""), "/cable?sid="+sid, []string{extProto}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := c.mustNext(); field(t, w, "restored") != nil {
			t.Fatalf("restored twice: %s", w)
		}
	}
}

// With the file broker, a session whose client is gone is restored after
// the process restarted, with the messages it missed before and after.
func TestWebSocketRecoveryAcrossFileRestart(t *testing.T) {
	dir := t.TempDir()
	site := wsSiteOn(fileSite(filepath.Join(dir, "store")))
	n := mustStartFileNode(t, dir, site)
	st := freshStream("file")
	publish := func(n *fileNode) func(string) {
		return func(body string) {
			if s := n.broadcast(t, body); s != 201 {
				t.Fatalf("broadcast: %d", s)
			}
		}
	}
	sid, epoch := wsRecoveryStart(t, n.url(""), st, publish(n))
	publish(n)(`{"stream":"` + st + `","data":"2"}`)
	// The session was saved when it subscribed: the stop keeps it.
	n.stop(t, "stop")
	n2, out := startFileNodeOn(t, dir, site, n.port)
	if n2 == nil {
		t.Fatalf("restart: %s", out)
	}
	publish(n2)(`{"stream":"` + st + `","data":"3"}`)
	wsRecoveryResume(t, n2.url(""), sid, st, epoch, []string{"2", "3"}, publish(n2))
}
