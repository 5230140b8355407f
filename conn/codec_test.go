package conn

import (
	"net"
	"strconv"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// lineCodec frames every message as one line, and a flush as the lines
// themselves: enough to see what the writer sends, and in which order.
type lineCodec struct{}

func (lineCodec) Disconnect(r protocol.Reply) []byte {
	return []byte("disconnect " + r.Reason + " " + strconv.FormatBool(r.Reconnect) + "\n")
}

func (lineCodec) Ping(now time.Time) []byte {
	return []byte("ping " + strconv.FormatInt(now.Unix(), 10) + "\n")
}

func (lineCodec) Wrap(dst net.Buffers, data [][]byte, size int) net.Buffers {
	return append(dst, data...)
}

func (lineCodec) End() []byte { return []byte("end\n") }

func newTestConn(sid string, maxPending int) *Conn {
	return New(sid, "127.0.0.1", NoMetrics{}, lineCodec{}, maxPending)
}
