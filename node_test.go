package anycablesse

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The real binary, built once per test run, for tests that need several
// Caddy processes or a process exit.
var (
	caddyBinOnce sync.Once
	caddyBin     string
	caddyBinErr  error
)

func buildCaddy(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the caddy binary")
	}
	caddyBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "anycable-sse-caddy")
		if err != nil {
			caddyBinErr = err
			return
		}
		caddyBin = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-o", caddyBin, "./cmd/caddy")
		out, err := cmd.CombinedOutput()
		if err != nil {
			caddyBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if caddyBinErr != nil {
		t.Fatal(caddyBinErr)
	}
	return caddyBin
}

// node is a Caddy process running one site with the module.
type node struct {
	t      testing.TB
	port   int
	admin  string // the admin endpoint's address (nodeOptions.admin), for caddy stop
	cmd    *exec.Cmd
	exited chan error
	logs   *strings.Builder
	mu     sync.Mutex
}

// startNode runs the binary with the site block on a fresh port and waits
// until it answers.
func startNode(t testing.TB, site string) *node {
	t.Helper()
	return startNodeLogging(t, "WARN", site)
}

var nodeSeq atomic.Int64

// nodePort picks a node's port; a test replaces it to hand out a taken one.
var nodePort = freePort

// startNodeLogging is startNode with Caddy's log level.
func startNodeLogging(t testing.TB, level, site string) *node {
	t.Helper()
	n, _ := startNodeWith(t, site, nodeOptions{level: level})
	return n
}

// nodeOptions change how startNodeWith runs a node.
type nodeOptions struct {
	// level is Caddy's log level; "" keeps Caddy's default (INFO).
	level string
	// dataDir is the process's HOME and XDG directories (Caddy's data dir
	// is under it): a restart given the same one finds its data. "" is a
	// new temporary directory.
	dataDir string
	// port, when set, is the node's port (a restart that clients find at
	// the same address); 0 picks a free one.
	port int
	// admin gives the node an admin endpoint on a free port (node.admin).
	admin bool
	// mayExit: a process that exits at start (for a reason other than a
	// taken port) is returned as nil with its logs instead of failing.
	mayExit bool
}

// startNodeWith starts a node. Ports are free when picked but released
// until Caddy binds them: if another process took one meanwhile, the node
// is started again on fresh ports (a fixed port is kept; the admin port
// changes).
func startNodeWith(t testing.TB, site string, o nodeOptions) (*node, string) {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	for attempt := 0; ; attempt++ {
		n, out, taken := tryStartNode(t, site, o)
		if !taken {
			return n, out
		}
		if attempt == 4 {
			t.Fatalf("caddy could not bind a free port:\n%s", out)
		}
	}
}

// tryStartNode starts the node; taken reports that a port was bound by
// another process before Caddy could bind it.
func tryStartNode(t testing.TB, site string, o nodeOptions) (n *node, out string, taken bool) {
	t.Helper()
	bin := buildCaddy(t)
	dir := o.dataDir
	n = &node{t: t, port: o.port, exited: make(chan error, 1), logs: &strings.Builder{}}
	if n.port == 0 {
		n.port = nodePort()
	}
	admin := "off"
	if o.admin {
		n.admin = fmt.Sprintf("127.0.0.1:%d", freePort())
		admin = n.admin
	}
	logBlock := ""
	if o.level != "" {
		logBlock = fmt.Sprintf("\tlog {\n\t\tlevel %s\n\t}\n", o.level)
	}
	cf := filepath.Join(dir, fmt.Sprintf("Caddyfile-%d", n.port))
	token := fmt.Sprintf("node-%d-%d", os.Getpid(), nodeSeq.Add(1))
	os.WriteFile(cf, []byte(fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
%s}
http://127.0.0.1:%d {
	header /__probe X-Test-Node %s
%s
}
`, admin, logBlock, n.port, token, site)), 0o644)
	n.cmd = exec.Command(bin, "run", "--config", cf)
	n.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	stderr, _ := n.cmd.StderrPipe()
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.mu.Lock()
			n.logs.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
		}
	}()
	// Wait closes the pipe: only once every line was read, so that the
	// reason of an exit is in the logs.
	go func() { <-logged; n.exited <- n.cmd.Wait() }()
	t.Cleanup(n.kill)
	// The probe must be answered by this node, not by whatever else
	// listens on the port (the token says so), and must not wait forever
	// on a listener that never answers.
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := probe.Get(n.url("/__probe"))
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("X-Test-Node") == token {
				return n, "", false
			}
		}
		select {
		case err := <-n.exited:
			logs := n.Logs()
			if strings.Contains(logs, "address already in use") {
				return nil, logs, true
			}
			if o.mayExit {
				return nil, logs, false
			}
			t.Fatalf("caddy exited: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not start\n%s", n.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *node) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", n.port, path) }

func (n *node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

func (n *node) kill() {
	if n.cmd.Process != nil {
		n.cmd.Process.Kill()
	}
}

// subscribe opens a stream on this node (with an optional Last-Event-ID).
func (n *node) subscribe(t *testing.T, query, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url("/events?"+query), nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("subscribe on :%d: %v", n.port, err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("subscribe on :%d: %d %s", n.port, resp.StatusCode, resp.Header.Get("X-AnyCable-Error"))
	}
	c := &sseClient{t: t, resp: resp, cancel: cancel, events: make(chan event, 10000), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.Close)
	return c
}

func (n *node) broadcast(t *testing.T, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.url("/_broadcast"), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("broadcast on :%d: %v", n.port, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
