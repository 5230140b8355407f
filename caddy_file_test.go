package anycablesse

// Restart tests of `broker file` through the real binary: the store must
// keep every acknowledged broadcast and every epoch across a clean stop, a
// SIGTERM and a kill -9, so that a client resuming with its Last-Event-ID
// gets exactly what it missed, once, in order.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func fileSite(store string) string {
	return `
	anycable_sse {
		public_streams
		broadcast_key ` + testKey + `
		broker file ` + store + `
		history_limit 100000
		ping_interval 1s
	}`
}

// fileNode is a Caddy process with an admin endpoint (for caddy stop).
type fileNode struct {
	*node
}

// startFileNode runs the binary with site, its data under dir (kept
// across restarts); it returns the process's error output instead of
// failing when the process exits at start.
func startFileNode(t *testing.T, dir, site string) (*fileNode, string) {
	t.Helper()
	return startFileNodeOn(t, dir, site, 0)
}

// startFileNodeOn is startFileNode on a given port (a restart that clients
// find at the same address); 0 picks one.
func startFileNodeOn(t *testing.T, dir, site string, port int) (*fileNode, string) {
	t.Helper()
	n, out := startNodeWith(t, site, nodeOptions{dataDir: dir, port: port, admin: true, mayExit: true})
	if n == nil {
		return nil, out
	}
	return &fileNode{node: n}, ""
}

func mustStartFileNode(t *testing.T, dir, site string) *fileNode {
	t.Helper()
	n, out := startFileNode(t, dir, site)
	if n == nil {
		t.Fatalf("caddy exited at start:\n%s", out)
	}
	return n
}

// stop ends the process: "stop" (caddy stop through the admin API),
// "sigterm" or "kill" (-9).
func (n *fileNode) stop(t *testing.T, how string) {
	t.Helper()
	switch how {
	case "stop":
		out, err := exec.Command(buildCaddy(t), "stop", "--address", n.admin).CombinedOutput()
		if err != nil {
			t.Fatalf("caddy stop: %v\n%s", err, out)
		}
	case "sigterm":
		n.cmd.Process.Signal(syscall.SIGTERM)
	case "kill":
		n.cmd.Process.Kill()
	}
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("caddy did not exit after %s\n%s", how, n.Logs())
	}
}

// postStreams opens a POST connection subscribed to several streams,
// each resuming from its position in from (stream -> [epoch, offset]).
func (n *fileNode) postStreams(t *testing.T, from map[string][2]string, streams ...string) *sseClient {
	t.Helper()
	var body []string
	for _, s := range streams {
		line := fmt.Sprintf(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"%s\"}"`, s)
		if p, ok := from[s]; ok {
			line += fmt.Sprintf(`,"history":{"streams":{%q:{"epoch":%q,"offset":%s}}}`, s, p[0], p[1])
		}
		body = append(body, line+"}")
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.url("/events"), strings.NewReader(strings.Join(body, "\n")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("POST /events: %v %v", err, resp)
	}
	c := &sseClient{t: t, resp: resp, cancel: cancel, events: make(chan event, 10000), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.Close)
	return c
}

// positions are the last [epoch, offset] per stream of POST events.
func positions(t *testing.T, evs []event) map[string][2]string {
	out := map[string][2]string{}
	for _, ev := range evs {
		var m struct {
			Stream string `json:"stream_id"`
			Epoch  string `json:"epoch"`
			Offset int    `json:"offset"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			t.Fatalf("%q: %v", ev.Data, err)
		}
		out[m.Stream] = [2]string{m.Epoch, fmt.Sprint(m.Offset)}
	}
	return out
}

// messages reads events until n messages (events with an id) arrived; it
// fails on a reject_history or when they do not come.
func messages(t *testing.T, c *sseClient, n int) []event {
	t.Helper()
	var out []event
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		ev, ok := c.next(time.Until(deadline))
		if !ok {
			t.Fatalf("got %d of %d messages: %+v\n%s", len(out), n, out, c.Raw())
		}
		if strings.Contains(ev.Data, "reject_history") || strings.Contains(ev.Event, "reject") {
			t.Fatalf("history rejected: %+v", ev)
		}
		if ev.ID != "" || (ev.Event == "" && !ev.Comment) {
			out = append(out, ev)
		}
	}
	return out
}

func payloads(evs []event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Data
		if j := strings.Index(ev.Data, `"message":"`); j >= 0 {
			rest := ev.Data[j+len(`"message":"`):]
			out[i] = rest[:strings.Index(rest, `"`)]
		}
	}
	return out
}

// TestFileBrokerRestart: whatever the way the process ends, clients that
// come back with their positions (EventSource's Last-Event-ID on GET, the
// history field on POST, one position per stream) get exactly the
// broadcasts they missed, once, in order, and then live ones.
// With sync_interval, a clean stop (caddy stop, SIGTERM) loses nothing and
// keeps the epochs too.
func TestFileBrokerRestart(t *testing.T) {
	for _, how := range []string{"stop", "sigterm", "kill", "stop+sync_interval", "sigterm+sync_interval"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			site := fileSite(filepath.Join(dir, "store"))
			how, interval, _ := strings.Cut(how, "+")
			if interval != "" {
				site = strings.Replace(site, "broker file "+filepath.Join(dir, "store"), "broker file "+filepath.Join(dir, "store")+" {\n\t\t\tsync_interval 1h\n\t\t}", 1)
			}
			n := mustStartFileNode(t, dir, site)
			post := n.postStreams(t, nil, "a", "b")
			get := n.subscribe(t, "stream=b", "")
			for i, s := range []string{"a", "b", "a"} {
				if st := n.broadcast(t, fmt.Sprintf(`{"stream":%q,"data":"seen-%d"}`, s, i)); st != 201 {
					t.Fatalf("broadcast: %d", st)
				}
			}
			from := positions(t, messages(t, post, 3))
			lastB := messages(t, get, 1)[0].ID
			post.Close()
			get.Close()
			var missed, missedB []string
			for i, s := range []string{"b", "a", "b", "b"} {
				data := fmt.Sprintf("missed-%d", i)
				if st := n.broadcast(t, fmt.Sprintf(`{"stream":%q,"data":%q}`, s, data)); st != 201 {
					t.Fatalf("broadcast: %d", st)
				}
				missed = append(missed, data)
				if s == "b" {
					missedB = append(missedB, data)
				}
			}
			n.stop(t, how)

			n2 := mustStartFileNode(t, dir, site)
			get2 := n2.subscribe(t, "stream=b", lastB)
			if got := payloads(messages(t, get2, 3)); strings.Join(got, ",") != strings.Join(missedB, ",") {
				t.Fatalf("GET after %s: got %v, want %v", how, got, missedB)
			}
			post2 := n2.postStreams(t, from, "a", "b")
			got := payloads(messages(t, post2, 4))
			// Each stream's history comes in order; the streams one after
			// the other.
			var gotA, gotB []string
			for _, d := range got {
				if d == "missed-1" {
					gotA = append(gotA, d)
				} else {
					gotB = append(gotB, d)
				}
			}
			if len(gotA) != 1 || strings.Join(gotB, ",") != strings.Join(missedB, ",") {
				t.Fatalf("POST after %s: got %v, want %v", how, got, missed)
			}
			n2.broadcast(t, `{"stream":"b","data":"live"}`)
			if ev := messages(t, post2, 1); payloads(ev)[0] != "live" {
				t.Fatalf("live after resume: %+v", ev)
			}
			if ev := messages(t, get2, 1); payloads(ev)[0] != "live" {
				t.Fatalf("live after resume: %+v", ev)
			}
			// Nothing twice: a duplicate would precede its stream's marker.
			ma, mb := newMarker(), newMarker()
			n2.broadcast(t, `{"stream":"a","data":"`+ma+`"}`)
			n2.broadcast(t, `{"stream":"b","data":"`+mb+`"}`)
			post2.expectMarkers(ma, mb)
		})
	}
}

// TestFileBrokerKillDuringBurst: kill -9 while publishers are sending:
// every acknowledged broadcast is in the history after the restart, once,
// at dense offsets of the same epoch, and a subscriber that was live
// resumes without a reset.
func TestFileBrokerKillDuringBurst(t *testing.T) {
	dir := t.TempDir()
	site := fileSite(filepath.Join(dir, "store"))
	n := mustStartFileNode(t, dir, site)
	const nStreams = 4
	live := n.subscribe(t, "stream=burst0", "")
	live.mustNext()
	live.mustNext()

	var acked sync.Map // data -> stream
	var nAcked atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				stream := fmt.Sprintf("burst%d", (g+i)%nStreams)
				data := fmt.Sprintf("g%d-%d", g, i)
				req, _ := http.NewRequest(http.MethodPost, n.url("/_broadcast"), strings.NewReader(fmt.Sprintf(`{"stream":%q,"data":%q}`, stream, data)))
				req.Header.Set("Authorization", "Bearer "+testKey)
				resp, err := client.Do(req)
				if err != nil {
					return // the process is gone: this one is not acknowledged
				}
				resp.Body.Close()
				if resp.StatusCode == 201 {
					acked.Store(data, stream)
					nAcked.Add(1)
				}
			}
		}()
	}
	for nAcked.Load() < 300 {
		time.Sleep(10 * time.Millisecond)
	}
	n.cmd.Process.Kill()
	close(stop)
	wg.Wait()
	<-n.exited
	var lastLive string
	for {
		ev, ok := live.next(200 * time.Millisecond)
		if !ok {
			break
		}
		if ev.ID != "" {
			lastLive = ev.ID
		}
	}

	n2 := mustStartFileNode(t, dir, site)
	since := time.Now().Add(-time.Hour).Unix()
	count := map[string]int{}
	for s := 0; s < nStreams; s++ {
		stream := fmt.Sprintf("burst%d", s)
		c := n2.subscribe(t, fmt.Sprintf("stream=%s&history_since=%d", stream, since), "")
		var epoch string
		for off := 1; ; off++ {
			ev, ok := c.next(time.Second)
			for ok && ev.ID == "" {
				ev, ok = c.next(time.Second)
			}
			if !ok {
				break
			}
			parts := strings.SplitN(ev.ID, "/", 3)
			if parts[0] != fmt.Sprint(off) || (epoch != "" && parts[1] != epoch) || parts[2] != stream {
				t.Fatalf("%s: id %q at position %d (epoch %q)", stream, ev.ID, off, epoch)
			}
			epoch = parts[1]
			count[ev.Data]++
		}
		c.Close()
	}
	stored := 0
	acked.Range(func(k, _ any) bool {
		stored++
		if count[k.(string)] != 1 {
			t.Errorf("acknowledged %s stored %d times", k, count[k.(string)])
		}
		return true
	})
	for d, c := range count {
		if c != 1 {
			t.Errorf("%s stored %d times", d, c)
		}
	}
	t.Logf("%d acknowledged before kill -9, %d stored (the rest were in flight)", stored, len(count))

	// The live subscriber resumes from its last id in the same epoch.
	if lastLive != "" {
		c := n2.subscribe(t, "stream=burst0", lastLive)
		c.mustNext()
		c.mustNext()
		ev, _ := c.next(time.Second)
		if strings.Contains(ev.Event+ev.Data, "reject") {
			t.Fatalf("resume from %s after kill -9: %+v", lastLive, ev)
		}
	}
}

// TestFileBrokerSecondProcessRefused: a second Caddy on the same store
// does not start, and says which store is locked.
func TestFileBrokerSecondProcessRefused(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	n := mustStartFileNode(t, dir, fileSite(store))
	if st := n.broadcast(t, `{"stream":"x","data":"1"}`); st != 201 {
		t.Fatalf("broadcast: %d", st)
	}
	second, out := startFileNode(t, dir, fileSite(store))
	if second != nil {
		// The store opens when the config starts, and Caddy starts its
		// apps in map order: the HTTP app may answer the start probe
		// before the anycable_sse app fails. The process must still end.
		select {
		case <-second.exited:
			out = second.Logs()
		case <-time.After(15 * time.Second):
			t.Fatal("a second process runs on the same store")
		}
	}
	if !strings.Contains(out, store) || !strings.Contains(out, "locked by another process") {
		t.Fatalf("second process output:\n%s", out)
	}
}

// TestFileBrokerValidateWritesNothing: caddy validate neither creates the
// store nor changes an existing one.
func TestFileBrokerValidateWritesNothing(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "data", "store")
	cf := filepath.Join(dir, "Caddyfile")
	os.WriteFile(cf, []byte("{\n\tadmin off\n}\nhttp://127.0.0.1:1 {"+fileSite(store)+"\n}\n"), 0o644)
	validate := func() {
		t.Helper()
		out, err := exec.Command(buildCaddy(t), "validate", "--config", cf).CombinedOutput()
		if err != nil {
			t.Fatalf("caddy validate: %v\n%s", err, out)
		}
	}
	validate()
	if _, err := os.Stat(filepath.Dir(store)); !os.IsNotExist(err) {
		t.Fatalf("validate created the store's directory: %v", err)
	}
	n := mustStartFileNode(t, dir, fileSite(store))
	n.broadcast(t, `{"stream":"x","data":"1"}`)
	n.stop(t, "sigterm")
	before := snapshotDir(t, store)
	validate()
	if after := snapshotDir(t, store); after != before {
		t.Fatalf("validate changed the store:\nbefore %s\nafter  %s", before, after)
	}
}

func snapshotDir(t *testing.T, dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fi, _ := e.Info()
		mtime := fi.ModTime().UnixNano()
		if e.Name() == "LOCK" {
			mtime = 0
		}
		fmt.Fprintf(&b, "%s:%d:%x:%d ", e.Name(), len(data), data, mtime)
	}
	return b.String()
}

// TestFileBrokerDiskFull: on a filesystem with less free space than the
// store's reserve, broadcasts are answered 503 with the reason, logged and
// counted, nothing is stored or delivered; once space is back they are
// stored again without a hole. It mounts a small tmpfs, so it runs as root
// only (and skips elsewhere).
func TestFileBrokerDiskFull(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "disk")
	os.Mkdir(mnt, 0o700)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=160m"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): run as root to test a full disk", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	n := mustStartFileNode(t, dir, fileSite(filepath.Join(mnt, "store"))+"\n\tmetrics /metrics")
	c := n.subscribe(t, "stream=d", "")
	c.mustNext()
	c.mustNext()
	if st := n.broadcast(t, `{"stream":"d","data":"1"}`); st != 201 {
		t.Fatalf("broadcast: %d", st)
	}
	if ev := messages(t, c, 1)[0]; !strings.HasPrefix(ev.ID, "1/") {
		t.Fatalf("first message %+v", ev)
	}

	// Fill the disk to 60 MB free, under the 128 MiB reserve.
	var fs syscall.Statfs_t
	syscall.Statfs(mnt, &fs)
	filler, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fallocate(int(filler.Fd()), 0, 0, int64(fs.Bavail*uint64(fs.Bsize))-60<<20); err != nil {
		t.Fatal(err)
	}
	filler.Close()
	req, _ := http.NewRequest(http.MethodPost, n.url("/_broadcast"), strings.NewReader(`{"stream":"d","data":"refused"}`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if reason := resp.Header.Get("X-AnyCable-Error"); resp.StatusCode != 503 || !strings.Contains(reason, "disk almost full") {
		t.Fatalf("broadcast on a full disk: %d %q", resp.StatusCode, reason)
	}
	metrics, _ := http.Get(n.url("/metrics"))
	body := new(strings.Builder)
	bufio.NewReader(metrics.Body).WriteTo(body)
	metrics.Body.Close()
	if !strings.Contains(body.String(), `caddy_anycable_sse_broker_errors_total{op="publish"} 1`) {
		t.Errorf("broker_errors_total not counted:\n%s", grepLines(body.String(), "broker_errors"))
	}
	// Nothing delivered: the next message must be the one published once
	// the space is back, at offset 2 (checked below: it is the barrier).

	os.Remove(filepath.Join(mnt, "filler"))
	if st := n.broadcast(t, `{"stream":"d","data":"2"}`); st != 201 {
		t.Fatalf("broadcast after space came back: %d", st)
	}
	if ev := messages(t, c, 1)[0]; !strings.HasPrefix(ev.ID, "2/") || ev.Data != "2" {
		t.Fatalf("after the full disk: %+v (want offset 2, no hole)", ev)
	}
	if !strings.Contains(n.Logs(), "disk almost full") {
		t.Errorf("the refusal was not logged:\n%s", n.Logs())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFileBrokerRestartMultiStreamID: a channel that streams from two
// streams (the app's subscribe answer) gets multi-stream m1: ids; after a
// restart, EventSource's Last-Event-ID with such an id brings back what
// was missed on both streams, once, and nothing else.
func TestFileBrokerRestartMultiStreamID(t *testing.T) {
	app := newFakeApp(t, func(method string, body map[string]any, r *http.Request) (int, string) {
		switch method {
		case "connect":
			return 200, `{"status":1,"identifiers":"{\"user_id\":42}","transmissions":["{\"type\":\"welcome\"}"]}`
		case "command":
			return 200, `{"status":1,"streams":["chat_a","chat_b"],"transmissions":["{\"type\":\"confirm_subscription\",\"identifier\":\"{\\\"channel\\\":\\\"ChatChannel\\\",\\\"room\\\":1}\"}"]}`
		}
		return 200, `{"status":1}`
	})
	dir := t.TempDir()
	site := `
	anycable_sse {
		rpc_url ` + app.URL + `/_anycable
		secret s3cr3t
		broadcast_key ` + testKey + `
		broker file ` + filepath.Join(dir, "store") + `
	}`
	n := mustStartFileNode(t, dir, site)
	query := "identifier=" + urlEncode(chatChannel)
	c := n.subscribe(t, query, "")
	c.mustNext()
	c.mustNext()
	n.broadcast(t, `{"stream":"chat_a","data":"\"seen-a\""}`)
	n.broadcast(t, `{"stream":"chat_b","data":"\"seen-b\""}`)
	seen := messages(t, c, 2)
	last := seen[1].ID
	if !strings.HasPrefix(last, "m1:") {
		t.Fatalf("id %q is not a multi-stream id", last)
	}
	c.Close()
	missed := map[string]bool{}
	for i, s := range []string{"chat_a", "chat_b", "chat_a"} {
		data := fmt.Sprintf("missed-%d", i)
		if st := n.broadcast(t, fmt.Sprintf(`{"stream":%q,"data":"\"%s\""}`, s, data)); st != 201 {
			t.Fatalf("broadcast: %d", st)
		}
		missed[data] = true
	}
	n.stop(t, "sigterm")

	n2 := mustStartFileNode(t, dir, site)
	c2 := n2.subscribe(t, query, last)
	got := payloads(messages(t, c2, 3))
	for _, d := range got {
		if !missed[d] {
			t.Fatalf("after the restart: got %v, want each of %v once", got, missed)
		}
		delete(missed, d)
	}
	if len(missed) != 0 {
		t.Fatalf("after the restart: got %v, missing %v", got, missed)
	}
	if a, b := strings.Index(strings.Join(got, ","), "missed-0"), strings.Index(strings.Join(got, ","), "missed-2"); a > b {
		t.Fatalf("chat_a out of order: %v", got)
	}
	// Then confirm_history, and nothing twice.
	confirmed := false
	for {
		ev, ok := c2.next(300 * time.Millisecond)
		if !ok {
			break
		}
		switch {
		case ev.Event == "confirm_history":
			confirmed = true
		case ev.ID != "" || strings.Contains(ev.Event, "reject"):
			t.Fatalf("after the history: %+v", ev)
		}
	}
	if !confirmed {
		t.Fatal("no confirm_history")
	}
}
