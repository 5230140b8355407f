// Package sse is the SSE transport: it serves one client connection from
// request to end, on top of the session (package cable) and the connection
// writer (package conn).
//
//   - request.go, origin.go: parsing the GET/POST request and the origin check.
//   - handshake.go: the order of an SSE connection's session steps
//     (authenticate, subscribe, join, history, release) and the HTTP status
//     of a refusal; the steps themselves are cable.Session's.
//   - stream.go, frame.go: Stream, the connection as the hub and the session
//     see it (pubsub.Subscriber, cable.Transport), which frames messages as
//     SSE events and queues them on its conn.Conn; it is also the conn.Codec
//     of SSE (disconnect and ping events, one HTTP chunk per flush).
//   - serve.go: ServeEvents (registry, handshake, takeover or not, the end of
//     the session) and the handler path (Server.stream) that writes through
//     net/http (HTTP/2, HTTP/3, TLS, and OSes without takeover).
//   - takeover.go: the HTTP/1.1 fast path: header and backlog through
//     net/http, then the connection is hijacked and handed to conn.Pool.
//   - metrics.go: what the transport counts.
//
// It imports cable, conn, pubsub, protocol and rpc; it knows nothing about
// Caddy.
package sse

import (
	"strconv"
)

// RetryNever is the retry hint (one year in ms) sent with disconnects that
// must not be followed by a reconnect, so EventSource stays away.
const RetryNever = 31536000000

// AppendEvent appends one SSE event: an optional event line, one data line
// per line of data (split on CRLF, CR and LF), an optional id line, an
// optional retry line, then the blank line that ends the event. Callers make
// sure event and id hold no CR or LF.
func AppendEvent(dst []byte, event string, data []byte, id string, retry int64) []byte {
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	dst = AppendDataLines(dst, data)
	if id != "" {
		dst = AppendID(dst, id)
	}
	if retry > 0 {
		dst = append(dst, "retry: "...)
		dst = strconv.AppendInt(dst, retry, 10)
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

// AppendID appends an id line.
func AppendID(dst []byte, id string) []byte {
	dst = append(dst, "id: "...)
	dst = append(dst, id...)
	return append(dst, '\n')
}

// AppendDataLines writes data as "data: " lines. Every CRLF, lone CR and lone
// LF starts a new line, so multi-line text (Turbo Stream HTML) survives and
// nothing in the payload can start another SSE field.
func AppendDataLines(dst []byte, data []byte) []byte {
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '\n' && c != '\r' {
			continue
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[start:i]...)
		dst = append(dst, '\n')
		if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		start = i + 1
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data[start:]...)
	return append(dst, '\n')
}

// keepaliveComment is what raw connections get instead of pings: a comment
// line that EventSource ignores but that keeps idle proxies from cutting the
// stream.
var keepaliveComment = []byte(": ping\n\n")
