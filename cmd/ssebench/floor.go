//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/sse"
)

// The floor is the least a Go SSE server can do for the same wire format:
// net/http, one goroutine per connection, one Write and one Flush per event,
// the welcome and confirm_subscription events, data events with
// "id: <offset>/<epoch>/<stream>", pings. A broadcast is framed once and the
// same bytes are handed to every subscriber's channel. Nothing else: no
// history, no JSON normalisation of data, no origin checks, no buffering
// beyond a channel of frames. Measuring it beside the module in one run
// shows what the module costs above the floor.
//
// It runs in a child process (this binary with -mode floor-server), so that
// its RSS and CPU are read from /proc exactly as the module's are, and so
// that the generator's own file descriptors and CPU are not counted.

// floorMaxPending is the bytes a floor connection may have queued; a client
// further behind is dropped, as the module drops a client over its
// max_pending (default 1 MiB).
const floorMaxPending = 1 << 20

type floorServer struct {
	key          string
	pingInterval time.Duration
	writeTimeout time.Duration
	epoch        string

	mu      sync.RWMutex
	streams map[string]*floorStream

	dropped atomic.Uint64

	// mangle, when set (tests only), replaces the frames sent for the
	// offset-th message of a stream: to drop, duplicate or reorder them.
	// It is called under the stream's lock.
	mangle func(stream string, offset uint64, frame []byte) [][]byte
}

type floorStream struct {
	mu     sync.Mutex
	offset uint64
	subs   map[*floorSub]struct{}
}

// floorSub is one connection's queue: the frames (shared with every other
// subscriber) waiting to be written, each with its own Write and Flush.
type floorSub struct {
	kind    floorKind // which frame of a broadcast it is sent
	mu      sync.Mutex
	queue   [][]byte
	pending int
	signal  chan struct{} // capacity 1
	kill    chan struct{}
	once    sync.Once
}

// offer queues a frame; false when the client is too far behind.
func (s *floorSub) offer(frame []byte) bool {
	s.mu.Lock()
	if s.pending+len(frame) > floorMaxPending {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, frame)
	s.pending += len(frame)
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued frames, leaving spare (emptied) in their place.
func (s *floorSub) take(spare [][]byte) [][]byte {
	s.mu.Lock()
	out := s.queue
	s.queue = spare[:0]
	s.pending = 0
	s.mu.Unlock()
	return out
}

// drop ends the connection; it reports whether this call did.
func (s *floorSub) drop() (first bool) {
	s.once.Do(func() { close(s.kill); first = true })
	return first
}

func newFloorServer(key string, ping time.Duration) *floorServer {
	return &floorServer{
		key:          key,
		pingInterval: ping,
		writeTimeout: 10 * time.Second,
		epoch:        randomToken(8),
		streams:      make(map[string]*floorStream),
	}
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomToken(n int) string {
	b := make([]byte, n)
	for i := range b {
		x, _ := rand.Int(rand.Reader, big.NewInt(int64(len(tokenAlphabet))))
		b[i] = tokenAlphabet[x.Int64()]
	}
	return string(b)
}

func (f *floorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/events":
		f.serveEvents(w, r)
	case "/_broadcast":
		f.serveBroadcast(w, r)
	case floorWSPath:
		f.serveWS(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *floorServer) stream(name string, create bool) *floorStream {
	f.mu.RLock()
	st := f.streams[name]
	f.mu.RUnlock()
	if st != nil || !create {
		return st
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st = f.streams[name]; st == nil {
		st = &floorStream{subs: make(map[*floorSub]struct{})}
		f.streams[name] = st
	}
	return st
}

func (f *floorServer) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	name := r.URL.Query().Get("stream")
	if name == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0, no-transform")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)

	sid := randomToken(21)
	var hello []byte
	welcome, _ := json.Marshal(map[string]string{"type": "welcome", "sid": sid})
	hello = sse.AppendEvent(hello, "welcome", welcome, "", 0)
	confirm, _ := json.Marshal(map[string]string{"type": "confirm_subscription", "identifier": protocol.PubSubStreamIdentifier(name)})
	hello = sse.AppendEvent(hello, "confirm_subscription", confirm, "", 0)

	sub := &floorSub{signal: make(chan struct{}, 1), kill: make(chan struct{})}
	st := f.stream(name, true)
	st.mu.Lock()
	st.subs[sub] = struct{}{}
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.subs, sub)
		st.mu.Unlock()
	}()

	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(f.writeTimeout))
		_, err := w.Write(b)
		if err == nil {
			err = rc.Flush()
		}
		// Clear the deadline: over HTTP/2 it is a timer on the stream
		// that resets it (INTERNAL_ERROR) when it fires, even with no
		// write in progress, so an idle stream would die after
		// writeTimeout; over HTTP/1.1 the next write would fail.
		_ = rc.SetWriteDeadline(time.Time{})
		return err == nil
	}
	if !write(hello) {
		return
	}

	f.writeLoop(sub, write, func(now time.Time) []byte {
		msg := `{"type":"ping","message":` + strconv.FormatInt(now.Unix(), 10) + `}`
		return sse.AppendEvent(nil, "ping", []byte(msg), "", 0)
	}, r.Context().Done())
}

// writeLoop writes sub's queued frames, one write each, and a ping frame
// every ping interval, until a write fails, sub is dropped or done closes
// (nil: never).
func (f *floorServer) writeLoop(sub *floorSub, write func([]byte) bool, pingFrame func(time.Time) []byte, done <-chan struct{}) {
	var ping <-chan time.Time
	var pingTimer *time.Timer
	if f.pingInterval > 0 {
		// First ping at a random point in [0.5, 1.5) intervals, as the
		// module does, so that connections opened together do not ping
		// together.
		pingTimer = time.NewTimer(f.pingInterval/2 + mrand.N(f.pingInterval))
		defer pingTimer.Stop()
		ping = pingTimer.C
	}
	var spare [][]byte
	for {
		select {
		case <-sub.signal:
			frames := sub.take(spare)
			for i, b := range frames {
				if !write(b) {
					return
				}
				frames[i] = nil
			}
			spare = frames
			if cap(spare) > 1024 {
				spare = nil // do not pin a burst's backlog array
			}
		case now := <-ping:
			if !write(pingFrame(now)) {
				return
			}
			pingTimer.Reset(f.pingInterval)
		case <-sub.kill:
			return
		case <-done:
			return
		}
	}
}

type floorPub struct {
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

func (f *floorServer) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	auth := r.Header.Get("Authorization")
	if f.key != "" && subtle.ConstantTimeCompare([]byte(auth), []byte("Bearer "+f.key)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	var pubs []floorPub
	trimmed := strings.TrimLeft(string(body[:min(len(body), 64)]), " \t\r\n")
	if strings.HasPrefix(trimmed, "[") {
		err = json.Unmarshal(body, &pubs)
	} else {
		pubs = make([]floorPub, 1)
		err = json.Unmarshal(body, &pubs[0])
	}
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	for _, p := range pubs {
		if p.Stream == "" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
	}
	for _, p := range pubs {
		st := f.stream(p.Stream, true)
		st.mu.Lock()
		st.offset++
		// Each form (SSE, WebSocket v1, WebSocket ext) is framed once,
		// when its first subscriber needs it, and shared.
		var byKind [floorKinds][][]byte
		var built [floorKinds]bool
		for sub := range st.subs {
			if !built[sub.kind] {
				built[sub.kind] = true
				frame := f.frame(sub.kind, p, st.offset)
				byKind[sub.kind] = [][]byte{frame}
				if f.mangle != nil {
					byKind[sub.kind] = f.mangle(p.Stream, st.offset, frame)
				}
			}
			for _, fr := range byKind[sub.kind] {
				if !sub.offer(fr) {
					if sub.drop() {
						f.dropped.Add(1)
					}
					break
				}
			}
		}
		st.mu.Unlock()
	}
	w.WriteHeader(http.StatusCreated)
}

// runFloorServer is -mode floor-server: serve on listen, print
// "LISTEN <addr>" on stdout, and stop when stdin closes (the parent is
// gone), on SIGINT/SIGTERM, or after d.
// With tlsOn it serves HTTP/1.1 and HTTP/2 over TLS, and HTTP/3 on the
// same port number (serveFloorTLS).
func runFloorServer(listen, key string, ping, d time.Duration, tlsOn bool) error {
	if _, err := raiseNoFile(1 << 20); err != nil {
		fmt.Fprintln(os.Stderr, "floor: raising RLIMIT_NOFILE:", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if !isLoopbackAddr(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("floor: refusing to listen on non-loopback %s", ln.Addr())
	}
	f := newFloorServer(key, ping)
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, Protocols: floorProtocols()}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	os.Stdout.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the parent closes it or dies
		cancel()
	}()
	errc := make(chan error, 2)
	if tlsOn {
		closeH3, err := serveFloorTLS(srv, ln, errc)
		if err != nil {
			return err
		}
		defer closeH3()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	srv.Close() // closes every connection, streams included
	if n := f.dropped.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "floor: dropped %d slow subscribers\n", n)
	}
	return nil
}

// floorProtocols are the floor's protocols: HTTP/1.1 and, for -h2c, HTTP/2
// over cleartext with prior knowledge. Its HTTP/2 settings are Go's
// defaults (250 concurrent streams per connection), as Caddy's are.
func floorProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// floorProcess is a running floor server child.
type floorProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	Addr  string
	Pid   int
	done  chan struct{}
}

// startFloor starts this binary as a floor server on a loopback port. The
// child dies with the parent (Pdeathsig, stdin EOF) and after d in any case.
func startFloor(key string, ping, d time.Duration, tlsOn bool) (*floorProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:0"
	if tlsOn {
		listen = fmt.Sprintf("127.0.0.1:%d", freeTCPUDPPort())
	}
	cmd := exec.Command(exe, "-mode", "floor-server", "-listen", listen,
		"-key", key, "-ping-interval", ping.String(), "-duration", d.String(), fmt.Sprintf("-floor-tls=%v", tlsOn))
	// Its own process group: a Ctrl-C reaches only this process, which
	// then stops the child after the run has closed its connections.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fp := &floorProcess{cmd: cmd, stdin: stdin, Pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(fp.done)
	}()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "LISTEN ") {
				select {
				case line <- strings.TrimPrefix(l, "LISTEN "):
				default:
				}
			}
		}
	}()
	select {
	case fp.Addr = <-line:
		return fp, nil
	case <-fp.done:
		return nil, errors.New("floor server exited before listening")
	case <-time.After(10 * time.Second):
		fp.Stop()
		return nil, errors.New("floor server did not start in 10s")
	}
}

// Stop ends the child: stdin EOF and SIGTERM, SIGKILL after 5 s.
func (fp *floorProcess) Stop() {
	_ = fp.stdin.Close()
	_ = fp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-fp.done:
	case <-time.After(5 * time.Second):
		_ = fp.cmd.Process.Kill()
		<-fp.done
	}
}
