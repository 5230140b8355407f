package redistest

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// fakeRedis answers PING with PONG and INFO with another process id, like
// a redis-server of another test binary that took the port in between.
func fakeRedis(t *testing.T) (port int, served func() int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns := make(chan int, 1000)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- 1
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					switch {
					case strings.HasPrefix(line, "PING"):
						c.Write([]byte("+PONG\r\n"))
					case strings.HasPrefix(line, "INFO"):
						body := "# Server\r\nprocess_id:1\r\n"
						c.Write([]byte("$" + strconv.Itoa(len(body)) + "\r\n" + body + "\r\n"))
					}
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, func() int { return len(conns) }
}

// TestStartSkipsATakenPort: the port picked for a server is taken by
// another process before the server binds it. Start must notice that what
// answers is not its process and move to another port, never hand the test
// a foreign server.
func TestStartSkipsATakenPort(t *testing.T) {
	Quiet()
	port, served := fakeRedis(t)
	s := &Server{t: t, bin: Require(t), dir: t.TempDir(), port: port}
	s.startAdmin()
	s.Start()
	if served() == 0 {
		t.Fatal("the fake server was never asked: the test proves nothing")
	}
	if s.port == port {
		t.Fatalf("Start kept port %d, served by another process", port)
	}
	if err := s.Admin.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the server on the new port: %v", err)
	}
	// The port is fixed once the server ran: a restart keeps it.
	before := s.port
	s.Restart()
	if s.port != before {
		t.Fatalf("restart moved the server from %d to %d", before, s.port)
	}
}
