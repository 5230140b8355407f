//go:build !linux

package conn

import "net"

// TLSTakeoverSupported is false where the writer cannot learn the free
// space of a socket's send buffer: a TLS write it starts could block, and
// crypto/tls cannot resume one that timed out. TLS streams stay on their
// transport's handler path there.
const TLSTakeoverSupported = false

func sendRoom(net.Conn) (int, bool) { return 0, false }
