//go:build linux

package conn

import (
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
)

// closeWatch learns that clients of taken-over connections went away, the
// moment they close (or, for a transport that reads, that they sent
// something), from one goroutine: the sockets are registered in an
// epoll set of their own (besides the Go runtime's) for EPOLLRDHUP. No
// connection needs a reader goroutine for this.
type closeWatch struct {
	epfd   int // guarded by mu once run started
	mu     sync.Mutex
	conns  map[int32]*Conn
	closed bool
	// failures counts epoll sets that failed and were recreated; each is
	// logged on log when one is set.
	failures atomic.Int64
	log      atomic.Pointer[zap.Logger]
}

func (w *closeWatch) setLogger(l *zap.Logger) {
	if w != nil {
		w.log.Store(l)
	}
}

// failureCount is the number of epoll sets that failed.
func (w *closeWatch) failureCount() int64 {
	if w == nil {
		return 0
	}
	return w.failures.Load()
}

func newCloseWatch() *closeWatch {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil // the pingers' peek still notices closed peers
	}
	w := &closeWatch{epfd: fd, conns: make(map[int32]*Conn)}
	go w.run()
	return w
}

// add watches c's socket and reports whether it is watched: a socket
// that is no syscall.Conn (a listener wrapper such as proxy_protocol's)
// is not.
func (w *closeWatch) add(c *Conn) bool {
	if w == nil {
		return false
	}
	fd, ok := connFD(c)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	ev := syscall.EpollEvent{Events: uint32(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR|syscall.EPOLLIN) | epollET, Fd: int32(fd)}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return false
	}
	w.conns[int32(fd)] = c
	c.watchFD = fd
	return true
}

// remove must run before the socket is closed (its number could be reused).
func (w *closeWatch) remove(c *Conn) {
	if w == nil || c.watchFD < 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns[int32(c.watchFD)] == c {
		delete(w.conns, int32(c.watchFD))
		_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, c.watchFD, nil)
	}
	c.watchFD = -1
}

// watched lists the watched connections.
func (w *closeWatch) watched() []*Conn {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*Conn, 0, len(w.conns))
	for _, c := range w.conns {
		out = append(out, c)
	}
	return out
}

// close stops the watch; its goroutine closes the epoll fd within a second.
func (w *closeWatch) close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

func (w *closeWatch) run() {
	events := make([]syscall.EpollEvent, 128)
	for {
		// A timeout, so that close() is noticed without a wake-up fd.
		n, err := syscall.EpollWait(w.epfd, events, 1000)
		w.mu.Lock()
		closed := w.closed
		w.mu.Unlock()
		if closed {
			syscall.Close(w.epfd)
			return
		}
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			if !w.recreate(err) {
				return
			}
			continue
		}
		for _, ev := range events[:n] {
			w.mu.Lock()
			c := w.conns[ev.Fd]
			w.mu.Unlock()
			if c == nil {
				continue
			}
			// A client that talks (a WebSocket) is read by its transport,
			// which learns of the end from the read. Data from any other
			// client (SSE clients send none) is dropped by the peek, which
			// tells an orderly close or an error from it.
			if c.onReadable != nil {
				c.onReadable()
			} else if c.peerClosed() {
				c.closeQuietly("client_gone")
			}
		}
	}
}

// recreate replaces an epoll set that failed with a new one holding every
// watched connection: a dead set would leave later clients unwatched (only
// the pingers' peek would notice them leave). It reports false when no new
// set can be made.
func (w *closeWatch) recreate(cause error) bool {
	n := w.failures.Add(1)
	if l := w.log.Load(); l != nil {
		l.Error("close watch failed; recreating it", zap.Error(cause), zap.Int64("failures", n))
	}
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if fd != w.epfd { // the same number: the old set was closed already
		syscall.Close(w.epfd)
	}
	w.epfd = fd
	for cfd := range w.conns {
		ev := syscall.EpollEvent{Events: uint32(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR|syscall.EPOLLIN) | epollET, Fd: cfd}
		_ = syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, int(cfd), &ev)
	}
	return true
}

// epollET is EPOLLET as the unsigned bit the kernel reads.
const epollET = 1 << 31

func connFD(c *Conn) (int, bool) {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	return fd, fd >= 0
}
