package protocol

import (
	"strconv"
	"strings"
)

// WebSocket subprotocols of Action Cable (spec §2.4).
const (
	// SubprotocolV1 is Rails' own protocol.
	SubprotocolV1 = "actioncable-v1-json"
	// SubprotocolExt is AnyCable's extension: history, pong, recovery.
	SubprotocolExt = "actioncable-v1-ext-json"
	// SubprotocolTokenPrefix starts a Sec-WebSocket-Protocol entry that
	// carries a JWT ("anycable-token.<jwt>"); it is never selected.
	SubprotocolTokenPrefix = "anycable-token."
)

// Headers of the WebSocket endpoint.
const (
	// HeaderAnyCableVersion is added to every 101 response.
	HeaderAnyCableVersion = "X-AnyCable-Version"
	// HeaderRestoreSid names the session to recover (ext); it wins over
	// the "sid" query parameter.
	HeaderRestoreSid = "X-AnyCable-Restore-Sid"
)

// Close is a WebSocket close frame's status code and reason.
type Close struct {
	Code   uint16
	Reason string
}

// WebSocket close status codes (RFC 6455 §7.4.1) the module sends.
const (
	CloseNormal          uint16 = 1000
	CloseGoingAway       uint16 = 1001
	CloseProtocolError   uint16 = 1002
	CloseUnsupportedData uint16 = 1003
	CloseInvalidPayload  uint16 = 1007
	ClosePolicyViolation uint16 = 1008
	CloseMessageTooBig   uint16 = 1009
	CloseInternalError   uint16 = 1011
)

// The closes anycable-go sends, by cause (spec §4.6).
var (
	// CloseAuthFailed follows the app's (or the server's) refusal
	// transmission after the 101.
	CloseAuthFailed = Close{CloseNormal, "Auth Failed"}
	// CloseAuthError: RPC error or unreachable, bad JWT claims; no text
	// message precedes it.
	CloseAuthError = Close{CloseInternalError, "Auth Error"}
	// CloseCommandFailed follows a command reply with disconnect:true.
	// anycable-go sends it with code 1006, which RFC 6455 forbids on the
	// wire (quirk Q2); this is the legal 1000.
	CloseCommandFailed = Close{CloseNormal, "Command Failed"}
	// CloseRemote follows {"type":"disconnect","reason":"remote",…}.
	CloseRemote = Close{CloseNormal, "Closed remotely"}
	// CloseServerRestart follows the server_restart disconnect on shutdown.
	CloseServerRestart = Close{CloseGoingAway, "Server restart"}
	// CloseNoPong follows the no_pong disconnect (ext, pong timeout).
	CloseNoPong = Close{CloseNormal, "No Pong"}
	// CloseTooSlow follows the too_slow disconnect (write queue full).
	CloseTooSlow = Close{CloseNormal, ""}
	// CloseTooBig answers a client message over the size limit.
	CloseTooBig = Close{CloseMessageTooBig, ""}
)

// DisconnectReply is a server-made {"type":"disconnect",…} message;
// "reconnect" is always written.
func DisconnectReply(reason string, reconnect bool) Reply {
	return Reply{Type: TypeDisconnect, Reason: reason, Reconnect: reconnect, ForceReconnect: true}
}

// PingReply is {"type":"ping","message":<ts>}; ts is Unix time in the
// connection's precision (seconds by default, ?ptp=ms|ns).
func PingReply(ts int64) Reply {
	return Reply{Type: TypePing, RawMessage: strconv.AppendInt(nil, ts, 10)}
}

// WelcomeWithSid returns an app's welcome transmission with "sid" added
// when it lacks one, so that an ext client can ask to recover its session
// (anycable-go relays the app's welcome untouched, and anycable-rails's
// may carry no sid: quirk Q16). The app's own bytes are kept: the pair is
// inserted before the closing brace. Anything that is not a JSON object
// with "type":"welcome", or that already has a "sid" key, is returned as
// is.
func WelcomeWithSid(transmission, sid string) string {
	v, ok := decodeJSON([]byte(transmission))
	if !ok {
		return transmission
	}
	obj, ok := v.(map[string]any)
	if !ok || obj["type"] != TypeWelcome {
		return transmission
	}
	if _, has := obj["sid"]; has {
		return transmission
	}
	end := strings.LastIndexByte(transmission, '}')
	out := make([]byte, 0, len(transmission)+len(sid)+10)
	out = append(out, transmission[:end]...)
	out = append(out, `,"sid":`...)
	out = AppendJSONString(out, sid)
	return string(append(out, transmission[end:]...))
}
