package anycablesse

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/cableway/caddy-anycable-sse/internal/redistest"
)

func redisSite(url string) string {
	return `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		broker redis ` + url + `
		redis_url ` + url + `
		broadcast_adapter http redisx
		ping_interval 1s
	}`
}

// Two Caddy processes on one Redis behave as one server: a broadcast sent
// to either reaches the subscribers of both once, with the same id, and a
// client that moves to the other node resumes without loss.
func TestTwoNodesShareRedis(t *testing.T) {
	redistest.Quiet()
	srv := redistest.Start(t)
	a := startNode(t, redisSite(srv.URL()))
	b := startNode(t, redisSite(srv.URL()))

	ca := a.subscribe(t, "stream=fleet", "")
	cb := b.subscribe(t, "stream=fleet", "")
	for _, c := range []*sseClient{ca, cb} {
		c.mustNext()
		c.mustNext()
	}
	if s := a.broadcast(t, `{"stream":"fleet","data":"from-a"}`); s != 201 {
		t.Fatalf("broadcast to a: %d", s)
	}
	if s := b.broadcast(t, `{"stream":"fleet","data":"from-b"}`); s != 201 {
		t.Fatalf("broadcast to b: %d", s)
	}
	// Rails' redisx adapter: XADD to __anycable__; exactly one node takes it.
	srv.Do("XADD", "__anycable__", "*", "payload", `{"stream":"fleet","data":"from-rails"}`)

	var idsA, idsB []string
	for _, want := range []string{"from-a", "from-b", "from-rails"} {
		ea, eb := ca.mustNext(), cb.mustNext()
		if ea.Data != want || eb.Data != want {
			t.Fatalf("want %s on both nodes, got %q and %q", want, ea.Data, eb.Data)
		}
		if ea.ID != eb.ID {
			t.Fatalf("the same message has ids %q and %q", ea.ID, eb.ID)
		}
		idsA, idsB = append(idsA, ea.ID), append(idsB, eb.ID)
	}
	// Nothing twice: a duplicate would precede the marker, on both nodes.
	m := newMarker()
	if s := a.broadcast(t, `{"stream":"fleet","data":"`+m+`"}`); s != 201 {
		t.Fatalf("marker: %d", s)
	}
	lastA := ca.expectMarkers(m)[0].ID
	cb.expectMarkers(m)
	if !strings.HasPrefix(idsA[0], "1/") || !strings.HasPrefix(idsA[2], "3/") {
		t.Fatalf("offsets: %v", idsA)
	}

	// A remote disconnect sent to node a ends a session that lives on node
	// b: commands reach every node.
	victim := b.subscribe(t, "stream=fleet", "")
	victim.mustNext()
	victim.mustNext()
	if s := a.broadcast(t, `{"command":"disconnect","payload":{"identifier":"{\"sid\":\"`+sidOf(t, victim)+`\"}","reconnect":false}}`); s != 201 {
		t.Fatalf("remote disconnect: %d", s)
	}
	if ev := victim.mustNext(); ev.Event != "disconnect" || !strings.Contains(ev.Data, `"reason":"remote"`) {
		t.Fatalf("remote disconnect across nodes: %+v", ev)
	}

	// Node a dies; its client resumes on b with its last id.
	a.kill()
	ca.waitEnd(5 * time.Second)
	b.broadcast(t, `{"stream":"fleet","data":"while-moving"}`)
	moved := b.subscribe(t, "stream=fleet", lastA)
	moved.mustNext()
	moved.mustNext()
	if ev := moved.mustNext(); ev.Data != "while-moving" || !strings.HasPrefix(ev.ID, "5/") {
		t.Fatalf("resume on the other node: %+v", ev)
	}
	if ev := moved.mustNext(); ev.Event != "confirm_history" {
		t.Fatalf("after resume: %+v", ev)
	}
}

// Redis down: open streams stay open and keep pinging, broadcasts are
// refused with 503 (no offset invented), and delivery resumes afterwards.
// Redis restarted without its data: clients get reject_history, then
// continuous delivery in the new epoch.
func TestRedisFaultsThroughCaddy(t *testing.T) {
	redistest.Quiet()
	srv := redistest.Start(t)
	n := startNode(t, redisSite(srv.URL())+"\n\tmetrics /metrics")
	c := n.subscribe(t, "stream=f", "")
	c.mustNext()
	c.mustNext()
	if s := n.broadcast(t, `{"stream":"f","data":"1"}`); s != 201 {
		t.Fatalf("broadcast: %d", s)
	}
	first := c.mustNext()

	srv.Stop()
	if s := n.broadcast(t, `{"stream":"f","data":"lost?"}`); s != 503 {
		t.Fatalf("broadcast with Redis down: %d, want 503", s)
	}
	// A new client is not refused (EventSource would give up for good): it
	// is told to come back shortly.
	t0 := time.Now()
	late := n.subscribe(t, "stream=f", "")
	t.Logf("late subscribe answered in %v", time.Since(t0))
	ev := late.mustNext()
	if retry, err := strconv.Atoi(ev.Retry); ev.Event != "disconnect" || err != nil || retry < 1000 || retry > 3000 ||
		ev.Data != `{"type":"disconnect","reason":"server_restart","reconnect":true}` {
		t.Fatalf("subscribing while Redis is down: %+v (want a retry of 1-3 s)", ev)
	}
	// The log says why, and go-redis's own lines are JSON log lines too.
	deadline0 := time.Now().Add(3 * time.Second)
	for !strings.Contains(n.Logs(), "the redis broker is unavailable") && time.Now().Before(deadline0) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(n.Logs(), "the redis broker is unavailable, client told to reconnect") {
		t.Errorf("no log line names Redis as the cause:\n%s", n.Logs())
	}
	defer func() {
		for _, line := range strings.Split(n.Logs(), "\n") {
			if line != "" && !strings.HasPrefix(line, "{") {
				t.Errorf("a plain-text line in Caddy's JSON log: %q", line)
			}
		}
	}()
	pings := 0
	deadline := time.After(3 * time.Second)
	for pings < 2 {
		select {
		case ev := <-c.events:
			if ev.Event == "ping" {
				pings++
			} else if !ev.Comment {
				t.Fatalf("unexpected event while Redis is down: %+v", ev)
			}
		case <-deadline:
			t.Fatalf("no pings while Redis is down (%d)", pings)
		}
	}

	// The node reports that it cannot read Redis.
	failing := func() string {
		resp, err := http.Get(n.url("/metrics"))
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "caddy_anycable_sse_redis_failing_readers ") {
				return strings.TrimPrefix(line, "caddy_anycable_sse_redis_failing_readers ")
			}
		}
		return "missing"
	}
	deadlineF := time.Now().Add(8 * time.Second)
	for failing() == "0" || failing() == "missing" {
		if time.Now().After(deadlineF) {
			t.Fatalf("redis_failing_readers = %s while Redis is down", failing())
		}
		time.Sleep(100 * time.Millisecond)
	}

	srv.Start() // no persistence: the data is gone, epochs change
	deadline2 := time.Now().Add(10 * time.Second)
	for n.broadcast(t, `{"stream":"f","data":"2"}`) != 201 {
		if time.Now().After(deadline2) {
			t.Fatal("broadcasts still refused after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ev = c.mustNext()
	if ev.Event != "reject_history" {
		t.Fatalf("after Redis lost its data: %+v (first id %s)", ev, first.ID)
	}
	ev = c.mustNext()
	if ev.Data != "2" || !strings.HasPrefix(ev.ID, "1/") || ev.ID == first.ID {
		t.Fatalf("delivery in the new epoch: %+v", ev)
	}
	// A reconnect with the old id is told its history is gone.
	r := n.subscribe(t, "stream=f", first.ID)
	r.mustNext()
	r.mustNext()
	if ev := r.mustNext(); ev.Event != "reject_history" {
		t.Fatalf("old id after data loss: %+v", ev)
	}
}

// The redisx adapter starts only when a config really runs: `caddy
// validate` creates no consumer group (it must never consume broadcasts),
// and a reload keeps the one consumer, which goes on reading.
func TestRedisxLifecycle(t *testing.T) {
	redistest.Quiet()
	srv := redistest.Start(t)
	site := func(stream, extra string) string {
		return `
	anycable_sse {
		public_streams
		broker redis ` + srv.URL() + `
		redis_url ` + srv.URL() + `
		broadcast_adapter redisx
		redisx_stream ` + stream + `
		` + extra + `
	}`
	}

	// Validate only.
	cf := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n}\nhttp://127.0.0.1:%d {\n%s\n}\n", freePort(), site("validated_only", ""))
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(adapted, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatalf("validate: %v", err)
	}
	// No sleep before looking: validate leaves no goroutine behind that
	// could create it later (TestValidateStartsNothing).
	if n := srv.Do("EXISTS", "validated_only"); n != int64(0) {
		t.Fatalf("caddy validate created the redisx stream/group (EXISTS=%v)", n)
	}

	// Run, reload, and check one consumer keeps reading.
	loadCaddy(t, site("rx_life", "ping_interval 3s"))
	c := subscribe(t, "stream=life")
	c.mustNext()
	c.mustNext()
	srv.Do("XADD", "rx_life", "*", "payload", `{"stream":"life","data":"before"}`)
	if ev := c.mustNext(); ev.Data != "before" {
		t.Fatalf("%+v", ev)
	}
	loadCaddy(t, site("rx_life", "ping_interval 4s"))
	srv.Do("XADD", "rx_life", "*", "payload", `{"stream":"life","data":"after"}`)
	if ev := c.mustNext(); ev.Data != "after" {
		t.Fatalf("after reload: %+v", ev)
	}
	// Nothing twice (both configs' consumers reading the entry would
	// deliver it twice): a duplicate would precede the marker.
	m := newMarker()
	srv.Do("XADD", "rx_life", "*", "payload", `{"stream":"life","data":"`+m+`"}`)
	c.expectMarkers(m)
	consumers, _ := srv.Do("XINFO", "CONSUMERS", "rx_life", "bx").([]any)
	if len(consumers) != 1 {
		t.Fatalf("%d consumers after a reload, want the one kept", len(consumers))
	}
}

// The startup log says what a configuration cannot do (a keyless broadcast
// endpoint is loopback-only; the legacy pub/sub adapter cannot give history
// guarantees) and never shows a secret or a Redis password.
func TestStartupLogWarnsAndHidesSecrets(t *testing.T) {
	redistest.Quiet()
	srv := redistest.Start(t)
	withPassword := strings.Replace(srv.URL(), "redis://", "redis://:hunter2secret@", 1)
	n := startNodeLogging(t, "DEBUG", `
	anycable_sse {
		public_streams
		streams_secret streams-s3cr3t-value
		jwt_secret jwt-s3cr3t-value
		broker memory
		redis_url `+withPassword+`
		broadcast_adapter http redis
	}`)
	c := n.subscribe(t, "stream=logs", "")
	c.mustNext()
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(n.Logs(), "sse connection closed") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	logs := n.Logs()
	for _, want := range []string{
		"the broadcast endpoint accepts loopback clients only",
		"broadcast_adapters redis is Redis pub/sub",
		`"sid":`, // connection logs carry the connection id
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("startup log lacks %q:\n%s", want, logs)
		}
	}
	// The broker's URL is logged at startup, without its password.
	n2 := startNodeLogging(t, "DEBUG", `
	anycable_sse {
		broker redis `+withPassword+`
	}`)
	deadline = time.Now().Add(3 * time.Second)
	for !strings.Contains(n2.Logs(), "anycable_sse ready") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(n2.Logs(), "xxxxx@") {
		t.Errorf("the broker's URL is not logged redacted:\n%s", n2.Logs())
	}
	logs += n2.Logs()
	for _, secret := range []string{"streams-s3cr3t-value", "jwt-s3cr3t-value", "hunter2secret"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows a secret (%s)", secret)
		}
	}
}
