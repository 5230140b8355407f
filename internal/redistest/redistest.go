// Package redistest starts private redis-server processes for tests: each
// on its own loopback port, without persistence, and controllable (stop,
// kill, restart on the same port, SIGSTOP/SIGCONT, FLUSHALL), because fault
// tests need a real server they own.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// quietRedisLogger silences go-redis's own log lines (dial failures are
// expected in the fault tests).
type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

// Quiet silences go-redis's own log lines (dial failures are expected in
// the fault tests).
func Quiet() { redis.SetLogger(quietRedisLogger{}) }

// Server is a private redis-server on a loopback port, without
// persistence, that a test can stop, kill, restart (same port), freeze
// (SIGSTOP) and thaw (SIGCONT).
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	// extra are more redis-server arguments (cluster mode).
	extra []string
	// conf, when set, is a Sentinel configuration file: the process runs
	// as "redis-server <conf> --sentinel" instead.
	conf string

	mu     sync.Mutex
	cmd    *exec.Cmd
	waited chan struct{}
	frozen bool
	// started is set once the server ran: from then on its port is fixed
	// (clients reconnect to it after a restart).
	started bool

	// Admin is a client for the test's own commands.
	Admin *redis.Client
}

// Require returns the redis-server binary, or skips the test
// (fails it when ANYCABLE_SSE_REQUIRE_REDIS=1, as CI sets).
func Require(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("ANYCABLE_SSE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not found and ANYCABLE_SSE_REQUIRE_REDIS=1: install redis-server to run the Redis tests")
		}
		t.Skip("redis-server not found: install redis-server to run the Redis tests")
	}
	return bin
}

// Start starts a private redis-server; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Require(t), dir: t.TempDir(), port: freePorts(t, 1)[0]}
	s.startAdmin()
	s.Start()
	return s
}

// freePorts returns n distinct loopback ports that were free a moment ago
// (every listener is held until all are taken, so they differ).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startAdmin creates the admin client (it connects lazily) and registers
// the cleanup that closes it and kills the server; it runs before the
// first Start, so that a test failing halfway leaves no process behind.
func (s *Server) startAdmin() {
	s.Admin = newAdmin(s.Addr())
	s.t.Cleanup(func() {
		s.Admin.Close()
		s.Kill()
	})
}

func newAdmin(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true, ContextTimeoutEnabled: true,
		ReadTimeout: 2 * time.Second, DialTimeout: time.Second})
}

func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }
func (s *Server) URL() string  { return "redis://" + s.Addr() }

// Start starts the server (again) on its port and waits for PING.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("redis-server already running")
	}
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if attempt > 0 && !s.started && s.conf == "" && len(s.extra) == 0 {
			// The port was free when picked, but another process may have
			// bound it since: a plain server that never ran takes another.
			s.port = freePorts(s.t, 1)[0]
			s.Admin.Close()
			s.Admin = newAdmin(s.Addr())
		}
		cmd := exec.Command(s.bin, s.args()...)
		if err = cmd.Start(); err != nil {
			s.t.Fatalf("starting redis-server: %v", err)
		}
		waited := make(chan struct{})
		go func() { cmd.Wait(); close(waited) }()
		if err = waitPing(s.Addr(), cmd.Process.Pid, waited, 5*time.Second); err == nil {
			s.cmd, s.waited, s.started = cmd, waited, true
			return
		}
		cmd.Process.Kill()
		<-waited
		time.Sleep(100 * time.Millisecond) // the port may still be held
	}
	s.t.Fatalf("redis-server on %s did not answer PING: %v\n%s", s.Addr(), err, s.logTail())
}

// args are the process's arguments.
func (s *Server) args() []string {
	if s.conf != "" {
		return []string{s.conf, "--sentinel"}
	}
	return append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--protected-mode", "no",
		"--logfile", filepath.Join(s.dir, "redis.log")}, s.extra...)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// waitPing polls the server with a raw PING until it answers PONG, and
// then checks that the process answering is pid: another process (another
// test binary's redis-server) may have taken the port, and a test must
// never run against a server it does not own.
func waitPing(addr string, pid int, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited")
		default:
		}
		var c net.Conn
		c, err = net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.SetDeadline(time.Now().Add(500 * time.Millisecond))
			_, err = c.Write([]byte("PING\r\n"))
			var line string
			br := bufio.NewReader(c)
			if err == nil {
				line, err = br.ReadString('\n')
			}
			if err == nil && strings.HasPrefix(line, "+PONG") {
				err = checkPid(c, br, pid)
				c.Close()
				return err
			}
			c.Close()
			if err == nil {
				err = fmt.Errorf("PING answered %q", line)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// checkPid asks the server on c for its process id (INFO server, which
// Sentinel answers too) and fails unless it is pid.
func checkPid(c net.Conn, br *bufio.Reader, pid int) error {
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return err
	}
	head, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if !strings.HasPrefix(head, "$") || err != nil {
		return fmt.Errorf("INFO server answered %q", head)
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(br, body); err != nil {
		return err
	}
	if !strings.Contains(string(body), "process_id:"+strconv.Itoa(pid)+"\r\n") {
		return fmt.Errorf("the port is served by another process, not redis-server %d", pid)
	}
	return nil
}

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatal("redis-server not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
	switch sig {
	case sigStop:
		s.frozen = true
	case sigCont:
		s.frozen = false
	}
}

// Stop ends the server with SIGTERM (no persistence: the data is lost).
func (s *Server) Stop() { s.end(syscall.SIGTERM) }

// Kill ends the server with SIGKILL. It is a no-op when not running.
func (s *Server) Kill() { s.end(syscall.SIGKILL) }

func (s *Server) end(sig syscall.Signal) {
	s.mu.Lock()
	cmd, waited, frozen := s.cmd, s.waited, s.frozen
	s.cmd, s.frozen = nil, false
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	if frozen {
		cmd.Process.Signal(sigCont)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-waited
	}
}

// Restart stops the server (SIGTERM) and starts it again on the same port,
// empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Freeze stops the process (SIGSTOP): connections stay open, nothing is
// answered.
func (s *Server) Freeze() { s.signal(sigStop) }

// Thaw resumes a frozen process (SIGCONT).
func (s *Server) Thaw() { s.signal(sigCont) }

// FlushAll empties the server.
func (s *Server) FlushAll() {
	s.t.Helper()
	if err := s.Admin.FlushAll(context.Background()).Err(); err != nil {
		s.t.Fatalf("FLUSHALL: %v", err)
	}
}

// Do runs a command on the admin client and fails the test on error.
func (s *Server) Do(args ...any) any {
	s.t.Helper()
	v, err := s.Admin.Do(context.Background(), args...).Result()
	if err != nil && err != redis.Nil {
		s.t.Fatalf("%v: %v", args, err)
	}
	return v
}
