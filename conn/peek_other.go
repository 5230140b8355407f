//go:build !unix

package conn

import "net"

// TakeoverSupported is false where there is no non-blocking peek on a
// socket (Windows: syscall has no Recvfrom with MSG_DONTWAIT): without it a
// taken-over connection whose client went away would be noticed only by a
// failed write. Streams stay on the handler path (Server.stream), where
// net/http notices the closed connection, so behaviour is the same, only
// the per-connection cost differs.
const TakeoverSupported = false

// peerClosed is never called without takeover; false means "unknown".
func (c *Conn) peerClosed() bool { return false }

// HasInput is unknown here: true, so that the caller's read finds out.
// Transports read with a goroutine of their own where the close watch
// cannot tell them when to read (Pool.WatchesReads).
func HasInput(nc net.Conn) bool { return true }
