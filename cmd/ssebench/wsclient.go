//go:build linux

package main

// WebSocket mode (-ws): each connection is an Action Cable WebSocket
// (actioncable-v1-json or actioncable-v1-ext-json) to -ws-path that
// subscribes to one $pubsub stream, the same stream the SSE connection of
// the same index would follow. Publishing, accounting, RSS and CPU are those
// of the SSE modes; only the wire differs. Frames are read with
// github.com/gobwas/ws's low-level header reader into one reusable buffer
// per connection, so the generator's cost per message stays close to the
// SSE parser's.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Action Cable subprotocols the -ws mode may offer.
const (
	wsProtoV1  = protocol.SubprotocolV1
	wsProtoExt = protocol.SubprotocolExt
)

// wsMaxMessage bounds one server message the client buffers.
const wsMaxMessage = 1 << 20

// subscribeCommand is the Action Cable subscribe command for a $pubsub
// stream.
func subscribeCommand(stream string) []byte {
	var b []byte
	b = append(b, `{"command":"subscribe","identifier":`...)
	b = appendQuoted(b, []byte(protocol.PubSubStreamIdentifier(stream)))
	return append(b, '}')
}

// runWS is one WebSocket connection's life: dial, upgrade, subscribe, then
// messages until the run closes it.
func (c *client) runWS(ctx context.Context, r *runner, sem chan struct{}) {
	defer r.wg.Done()
	signal, ensure := c.readySignal(r, sem)
	defer ensure()

	start := time.Now()
	d := net.Dialer{Timeout: r.cfg.ConnectTimeout, KeepAlive: -1}
	conn, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		c.endErr = errClass(err)
		signal(0, c.endErr)
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(start.Add(r.cfg.ConnectTimeout))

	u := &url.URL{Scheme: "ws", Host: r.host, Path: r.cfg.WSPath}
	dialer := ws.Dialer{Protocols: []string{r.cfg.wsProtocol()}, ReadBufferSize: r.cfg.ReadBuffer}
	br, hs, err := dialer.Upgrade(conn, u)
	if err != nil {
		c.endErr = errClass(err)
		signal(0, "upgrade: "+c.endErr)
		return
	}
	if hs.Protocol != r.cfg.wsProtocol() {
		signal(0, fmt.Sprintf("server chose subprotocol %q, not %q", hs.Protocol, r.cfg.wsProtocol()))
		return
	}
	if br == nil { // nothing arrived with the 101
		br = bufio.NewReaderSize(conn, r.cfg.ReadBuffer)
	}
	if err := writeClientText(conn, subscribeCommand(r.streams[c.stream])); err != nil {
		c.endErr = errClass(err)
		signal(0, "subscribe: "+c.endErr)
		return
	}
	c.readWS(ctx, r, conn, br, start, signal)
}

// writeClientText writes one masked text frame (clients must mask).
func writeClientText(w io.Writer, payload []byte) error {
	return writeClientFrame(w, ws.NewTextFrame(payload))
}

// writeClientFrame masks f and writes it in one Write: header and payload
// in two writes would meet Nagle's algorithm and the server's delayed ACK,
// adding 40 ms to every subscribe.
func writeClientFrame(w io.Writer, f ws.Frame) error {
	b, err := ws.CompileFrame(ws.MaskFrameInPlace(f))
	if err == nil {
		_, err = w.Write(b)
	}
	return err
}

// readWS reads server frames until the connection ends: text messages are
// Action Cable messages, a ping control frame gets its pong, a close frame
// ends the connection.
func (c *client) readWS(ctx context.Context, r *runner, conn net.Conn, br *bufio.Reader,
	start time.Time, signal func(time.Duration, string)) {
	var msg []byte // the message being assembled; reused
	for {
		hdr, err := ws.ReadHeader(br)
		if err != nil {
			c.wsEnd(ctx, err)
			return
		}
		if hdr.Length > wsMaxMessage || int64(len(msg))+hdr.Length > wsMaxMessage {
			c.endErr = fmt.Sprintf("server message over %d bytes", wsMaxMessage)
			return
		}
		n := int(hdr.Length)
		if hdr.OpCode.IsControl() {
			payload := make([]byte, n)
			if _, err := io.ReadFull(br, payload); err != nil {
				c.wsEnd(ctx, err)
				return
			}
			if hdr.Masked {
				ws.Cipher(payload, hdr.Mask, 0)
			}
			switch hdr.OpCode {
			case ws.OpPing:
				_ = writeClientFrame(conn, ws.NewPongFrame(payload))
			case ws.OpClose:
				if ctx.Err() == nil {
					code, reason := ws.ParseCloseFrameData(payload)
					c.endErr = fmt.Sprintf("close frame %d %q", code, reason)
				}
				return
			}
			continue
		}
		off := len(msg)
		if cap(msg) < off+n {
			msg = append(make([]byte, 0, max(2*cap(msg), off+n)), msg...)
		}
		msg = msg[:off+n]
		if _, err := io.ReadFull(br, msg[off:]); err != nil {
			c.wsEnd(ctx, err)
			return
		}
		if hdr.Masked {
			ws.Cipher(msg[off:], hdr.Mask, 0)
		}
		if !hdr.Fin {
			continue // continuation frames follow
		}
		if done := c.onWSMessage(r, conn, msg, start, signal); done {
			return
		}
		msg = msg[:0]
	}
}

func (c *client) wsEnd(ctx context.Context, err error) {
	if ctx.Err() == nil {
		c.endErr = errClass(err)
	}
}

var (
	keyType    = []byte(`"type":"`)
	keyMessage = []byte(`"message":`)
	keyReason  = []byte(`"reason":"`)
)

// onWSMessage handles one Action Cable message; it reports whether the
// connection is done (its subscription was rejected).
func (c *client) onWSMessage(r *runner, conn net.Conn, msg []byte, start time.Time,
	signal func(time.Duration, string)) (done bool) {
	now := time.Now()
	// Identifiers inside a message are JSON strings (their quotes are
	// escaped), and the benchmark payload has no "type" key, so the first
	// unescaped "type":" is the message's own.
	typ := stringField(msg, keyType)
	switch string(typ) {
	case "":
		i := bytes.Index(msg, keyMessage)
		if i < 0 {
			c.otherEvents++
			return false
		}
		data := msg[i+len(keyMessage):]
		if len(data) > 0 && data[0] == '"' { // data sent as a JSON string
			var s string
			if err := json.NewDecoder(bytes.NewReader(data)).Decode(&s); err == nil {
				data = []byte(s)
			}
		}
		c.onData(r, data, now)
	case "ping":
		c.pings++
	case "welcome":
	case "confirm_subscription":
		if !c.confirmed {
			c.confirmed = true
			_ = conn.SetDeadline(time.Time{})
			signal(now.Sub(start), "")
		}
	case "reject_subscription":
		signal(0, "reject_subscription")
		return true
	case "disconnect":
		c.disconnects++
		c.discReason = string(stringField(msg, keyReason))
	default:
		c.otherEvents++
	}
	return false
}

// stringField returns the simple (unescaped) string value after key, which
// ends with the opening quote.
func stringField(msg, key []byte) []byte {
	i := bytes.Index(msg, key)
	if i < 0 {
		return nil
	}
	v := msg[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// wsProtocol is the subprotocol the -ws mode offers.
func (c *Config) wsProtocol() string {
	if c.WSProtocol == "" {
		return wsProtoV1
	}
	return c.WSProtocol
}

func validWSProtocol(p string) error {
	switch p {
	case wsProtoV1, wsProtoExt:
		return nil
	}
	return errors.New("-ws-protocol must be " + wsProtoV1 + " or " + wsProtoExt)
}

// validateWS: -ws is plaintext HTTP/1.1 (ws://) only, with a known
// subprotocol and a path.
func (o *options) validateWS() error {
	if !o.ws {
		return nil
	}
	if o.h2c || o.tlsMode() != tlsNone {
		return errors.New("-ws excludes -h2c, -tls, -h2 and -h3 (it speaks ws:// over HTTP/1.1)")
	}
	if !strings.HasPrefix(o.wsPath, "/") {
		return errors.New("-ws-path must start with /")
	}
	return validWSProtocol(o.wsProtocol)
}

// connPath is the path the connections open: the SSE or WebSocket endpoint.
func (c *Config) connPath() string {
	if c.WS {
		return c.WSPath
	}
	return c.EventsPath
}

// wsResultProtocol is the subprotocol a result reports, "" for SSE.
func wsResultProtocol(c Config) string {
	if !c.WS {
		return ""
	}
	return c.wsProtocol()
}
