//go:build linux

package main

// The floor's WebSocket side: the least a Go server does for the same
// Action Cable messages. net/http accepts, github.com/gobwas/ws upgrades
// (the library the module frames with), then each connection keeps the
// classic two goroutines: the handler's own, which writes queued frames
// (one Write per frame), and a reader blocked in a read that discards
// client frames and ends the connection when the client goes. One
// subscribe command is read before that, to learn the stream. A broadcast
// is framed once per form and the same bytes go to every subscriber. No
// auth, no history, no origin check, no session recovery.

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gobwas/ws"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/sse"
)

// floorWSPath is where the floor serves WebSocket (the -ws-path default,
// and Rails' and AnyCable's).
const floorWSPath = "/cable"

// floorKind is the form of a broadcast a subscriber is sent.
type floorKind uint8

const (
	floorSSE floorKind = iota
	floorWSV1
	floorWSExt
	floorKinds
)

// frame builds the bytes of broadcast p (the offset-th of its stream) in
// the form kind.
func (f *floorServer) frame(kind floorKind, p floorPub, offset uint64) []byte {
	if kind == floorSSE {
		id := strconv.FormatUint(offset, 10) + "/" + f.epoch + "/" + p.Stream
		return sse.AppendEvent(make([]byte, 0, len(p.Data)+len(id)+32), "", []byte(p.Data), id, 0)
	}
	msg := make([]byte, 0, len(p.Data)+2*len(p.Stream)+96)
	msg = append(msg, `{"identifier":`...)
	msg = appendQuoted(msg, []byte(protocol.PubSubStreamIdentifier(p.Stream)))
	msg = append(msg, `,"message":`...)
	if json.Valid([]byte(p.Data)) {
		msg = append(msg, p.Data...)
	} else {
		msg = appendQuoted(msg, []byte(p.Data))
	}
	if kind == floorWSExt {
		msg = append(msg, `,"stream_id":`...)
		msg = appendQuoted(msg, []byte(p.Stream))
		msg = append(msg, `,"epoch":"`...)
		msg = append(msg, f.epoch...)
		msg = append(msg, `","offset":`...)
		msg = strconv.AppendUint(msg, offset, 10)
	}
	msg = append(msg, '}')
	return textFrame(msg)
}

// textFrame is an unmasked (server) text frame carrying payload.
func textFrame(payload []byte) []byte {
	b, _ := ws.CompileFrame(ws.NewTextFrame(payload))
	return b
}

func (f *floorServer) serveWS(w http.ResponseWriter, r *http.Request) {
	var proto string
	up := ws.HTTPUpgrader{Protocol: func(p string) bool {
		if p == wsProtoV1 || p == wsProtoExt {
			proto = p
			return true
		}
		return false
	}}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		return // the upgrader answered
	}
	defer conn.Close()
	kind := floorWSV1
	if proto == wsProtoExt {
		kind = floorWSExt
	}
	write := func(b []byte) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(f.writeTimeout))
		_, err := conn.Write(b)
		return err == nil
	}
	if !write(textFrame([]byte(`{"type":"welcome","sid":"` + randomToken(21) + `"}`))) {
		return
	}
	// The subscribe command names the stream.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	cmd, ok := readClientText(rw.Reader)
	if !ok {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	var sc struct{ Command, Identifier string }
	var id struct {
		Stream string `json:"stream_name"`
	}
	if json.Unmarshal(cmd, &sc) != nil || sc.Command != "subscribe" || json.Unmarshal([]byte(sc.Identifier), &id) != nil || id.Stream == "" {
		write(textFrame([]byte(`{"type":"disconnect","reason":"invalid_request","reconnect":false}`)))
		return
	}

	sub := &floorSub{kind: kind, signal: make(chan struct{}, 1), kill: make(chan struct{})}
	st := f.stream(id.Stream, true)
	st.mu.Lock()
	st.subs[sub] = struct{}{}
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.subs, sub)
		st.mu.Unlock()
	}()
	var confirm []byte
	confirm = append(confirm, `{"identifier":`...)
	confirm = appendQuoted(confirm, []byte(sc.Identifier))
	confirm = append(confirm, `,"type":"confirm_subscription"}`...)
	if !write(textFrame(confirm)) {
		return
	}
	go func() { // the reader: until the client closes or goes
		for {
			if _, ok := readClientText(rw.Reader); !ok {
				sub.drop()
				return
			}
		}
	}()

	f.writeLoop(sub, write, func(now time.Time) []byte {
		return textFrame([]byte(`{"type":"ping","message":` + strconv.FormatInt(now.Unix(), 10) + `}`))
	}, nil)
}

// readClientText reads client frames until a complete text or binary
// message and returns it unmasked; false when the connection ends or the
// client sends a close frame. Control frames other than close are skipped
// (the generator sends none).
func readClientText(r *bufio.Reader) ([]byte, bool) {
	var msg []byte
	for {
		hdr, err := ws.ReadHeader(r)
		if err != nil || hdr.Length > 1<<20 {
			return nil, false
		}
		payload := make([]byte, hdr.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, false
		}
		if hdr.Masked {
			ws.Cipher(payload, hdr.Mask, 0)
		}
		switch {
		case hdr.OpCode == ws.OpClose:
			return nil, false
		case hdr.OpCode.IsControl():
			continue
		}
		msg = append(msg, payload...)
		if hdr.Fin {
			return msg, true
		}
	}
}
