//go:build !unix

package conn

// TakeoverSupported is false where there is no non-blocking peek on a
// socket (Windows: syscall has no Recvfrom with MSG_DONTWAIT): without it a
// taken-over connection whose client went away would be noticed only by a
// failed write. Streams stay on the handler path (Server.stream), where
// net/http notices the closed connection, so behaviour is the same, only
// the per-connection cost differs.
const TakeoverSupported = false

// peerClosed is never called without takeover; false means "unknown".
func (c *Conn) peerClosed() bool { return false }
