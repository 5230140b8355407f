package anycablesse

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSharedListenersFromProcTables(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0
   3: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 100 0 0 10 0
`
	got := sharedListeners(map[string]bool{"111": true, "333": true}, strings.NewReader(tcp))
	if want := []string{"127.0.0.1:8080"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("shared: %v, want %v", got, want)
	}
	if got := sharedListeners(map[string]bool{"111": true, "222": true}, strings.NewReader(tcp)); len(got) != 0 {
		t.Fatalf("two sockets of ours are not another process: %v", got)
	}
}

// A real second process on the same port with SO_REUSEPORT is noticed.
func TestSharedListenersSeesAnotherProcess(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		_ = c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1) })
		return serr
	}}
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	// The other process is this test binary, in helper mode.
	child := exec.Command(os.Args[0], "-test.run=TestReuseportChildListens")
	child.Env = append(os.Environ(), "ANYCABLE_SSE_REUSEPORT_CHILD="+fmt.Sprint(port))
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	buf := make([]byte, 64)
	if n, _ := stdout.Read(buf); !strings.Contains(string(buf[:n]), "listening") {
		t.Fatalf("child: %q", buf[:n])
	}
	own, err := ownSocketInodes()
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	defer tcp.Close()
	want := fmt.Sprintf("127.0.0.1:%d", port)
	got := sharedListeners(own, tcp)
	if !reflect.DeepEqual(got, []string{want}) {
		t.Fatalf("shared listeners %v, want [%s]", got, want)
	}
}

// TestReuseportChildListens is the child of the test above (it does
// nothing in a normal run).
func TestReuseportChildListens(t *testing.T) {
	port := os.Getenv("ANYCABLE_SSE_REUSEPORT_CHILD")
	if port == "" {
		t.Skip("helper process only")
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		_ = c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1) })
		return serr
	}}
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fmt.Println("listening")
	time.Sleep(30 * time.Second) // killed by the parent
}

// soReusePort is SO_REUSEPORT on Linux (the syscall package lacks it).
const soReusePort = 0xf
