package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Handshake is what an accepted upgrade request asked for.
type Handshake struct {
	// Key is the client's Sec-WebSocket-Key.
	Key string
	// Subprotocol is the one selected (protocol.SubprotocolV1 or
	// protocol.SubprotocolExt), or "" when the client offered neither:
	// the upgrade is accepted anyway, without a Sec-WebSocket-Protocol
	// header, and the session behaves as v1 (spec §2.4, Q4).
	Subprotocol string
	// Token is the JWT of an "anycable-token.<jwt>" subprotocol entry
	// (the first one), or "".
	Token string
}

// Ext reports whether the session speaks actioncable-v1-ext-json.
func (h *Handshake) Ext() bool { return h.Subprotocol == protocol.SubprotocolExt }

// HandshakeError refuses an upgrade before any WebSocket byte is sent.
type HandshakeError struct {
	// Status is 400, 403 or 405, as anycable-go answers.
	Status int
	// Reason says why, for the log (the client gets the status text).
	Reason string
}

func (e *HandshakeError) Error() string { return "websocket: " + e.Reason }

// CheckUpgrade validates an upgrade request in anycable-go's order (spec
// §1 step 1) and selects the subprotocol:
//  1. Connection has the "upgrade" token and Upgrade has "websocket" (400);
//  2. the method is GET (405);
//  3. Sec-WebSocket-Version is 13 (400);
//  4. originOK accepts the request (403); nil accepts every request;
//  5. Sec-WebSocket-Key is base64 of 16 bytes (400).
//
// Tokens are matched case-insensitively across repeated header lines.
// Extensions (permessage-deflate) are never negotiated.
func CheckUpgrade(r *http.Request, originOK func(*http.Request) bool) (Handshake, error) {
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return Handshake{}, &HandshakeError{http.StatusBadRequest, `"Connection" header has no "upgrade" token`}
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return Handshake{}, &HandshakeError{http.StatusBadRequest, `"Upgrade" header has no "websocket" token`}
	}
	if r.Method != http.MethodGet {
		return Handshake{}, &HandshakeError{http.StatusMethodNotAllowed, "upgrade method is not GET"}
	}
	if !headerHasToken(r.Header, "Sec-Websocket-Version", "13") {
		return Handshake{}, &HandshakeError{http.StatusBadRequest, "unsupported Sec-WebSocket-Version (13 is required)"}
	}
	if originOK != nil && !originOK(r) {
		return Handshake{}, &HandshakeError{http.StatusForbidden, "request origin not allowed"}
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if !validKey(key) {
		return Handshake{}, &HandshakeError{http.StatusBadRequest, "missing or invalid Sec-WebSocket-Key"}
	}
	h := Handshake{Key: key}
	h.Subprotocol, h.Token = NegotiateSubprotocol(r.Header.Values("Sec-Websocket-Protocol"))
	return h, nil
}

// NegotiateSubprotocol picks from the client's Sec-WebSocket-Protocol header
// values (each a comma list) the first entry of the server's own list,
// protocol.SubprotocolV1 then protocol.SubprotocolExt, that the client
// offered: a client offering "ext, v1" gets v1, as anycable-go does (Q3).
// selected is "" when neither was offered. token is the JWT of the first
// "anycable-token.<jwt>" entry, or "".
func NegotiateSubprotocol(values []string) (selected, token string) {
	var v1, ext bool
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			entry = strings.TrimSpace(entry)
			switch {
			case entry == protocol.SubprotocolV1:
				v1 = true
			case entry == protocol.SubprotocolExt:
				ext = true
			case token == "" && strings.HasPrefix(entry, protocol.SubprotocolTokenPrefix):
				token = entry[len(protocol.SubprotocolTokenPrefix):]
			}
		}
	}
	switch {
	case v1:
		selected = protocol.SubprotocolV1
	case ext:
		selected = protocol.SubprotocolExt
	}
	return selected, token
}

// WriteRefusal answers a refused upgrade exactly as anycable-go does:
// the status, "Sec-Websocket-Version: 13", and the status text as a
// text/plain body (spec §2.2). An error that is not a *HandshakeError is
// answered with 400.
func WriteRefusal(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if he, ok := err.(*HandshakeError); ok {
		status = he.Status
	}
	w.Header().Set("Sec-Websocket-Version", "13")
	http.Error(w, http.StatusText(status), status)
}

// AppendAcceptResponse appends the 101 response for h, with the extra
// headers (such as protocol.HeaderAnyCableVersion) after the WebSocket
// ones, in http.Header.Write's order and sanitizing. The caller writes it
// on the hijacked connection, possibly together with the first frames.
func AppendAcceptResponse(dst []byte, h *Handshake, extra http.Header) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = appendAcceptKey(dst, h.Key)
	dst = append(dst, "\r\n"...)
	if h.Subprotocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, h.Subprotocol...)
		dst = append(dst, "\r\n"...)
	}
	if len(extra) > 0 {
		b := bytes.NewBuffer(dst)
		_ = extra.Write(b) // a bytes.Buffer never fails
		dst = b.Bytes()
	}
	return append(dst, "\r\n"...)
}

// keyGUID is the RFC 6455 §1.3 constant.
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// appendAcceptKey appends Sec-WebSocket-Accept for key.
func appendAcceptKey(dst []byte, key string) []byte {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(keyGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.AppendEncode(dst, h.Sum(sum[:0]))
}

// validKey: base64 of 16 bytes, as gorilla/websocket (anycable-go's
// library) requires.
func validKey(key string) bool {
	if key == "" {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}

// headerHasToken reports whether a comma-list header, over all its lines,
// has token (case-insensitive, surrounding white space ignored).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
