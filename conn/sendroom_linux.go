//go:build linux

package conn

import (
	"net"
	"syscall"
	"unsafe"
)

// TLSTakeoverSupported reports whether a TLS connection can be taken over:
// the writer must know, before it starts a TLS write, whether the socket
// takes it without blocking (sendRoom), since crypto/tls cannot resume a
// write that timed out.
const TLSTakeoverSupported = true

// soMeminfo is SO_MEMINFO (asm-generic, every Linux architecture Go runs
// on); the kernel fills skMeminfoVars uint32 counters.
const (
	soMeminfo          = 55
	skMeminfoSndbuf    = 3
	skMeminfoWmemQueue = 5
	skMeminfoVars      = 9
)

// sendRoom is how many more bytes of socket memory the kernel lets the
// socket queue before a write blocks: sk_sndbuf - sk_wmem_queued, the very
// test tcp_sendmsg makes (sk_stream_memory_free). Both count socket memory
// (data plus per-buffer overhead), not payload bytes; tlsFits converts.
func sendRoom(raw net.Conn) (int, bool) {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info [skMeminfoVars]uint32
	var serr syscall.Errno
	size := uint32(unsafe.Sizeof(info))
	if err := rc.Control(func(fd uintptr) {
		_, _, serr = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.SOL_SOCKET, soMeminfo,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	}); err != nil || serr != 0 || size < skMeminfoVars*4 {
		return 0, false
	}
	return int(info[skMeminfoSndbuf]) - int(info[skMeminfoWmemQueue]), true
}
