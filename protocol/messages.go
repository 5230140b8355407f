package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Action Cable message types the server sends.
const (
	TypeWelcome             = "welcome"
	TypeConfirmSubscription = "confirm_subscription"
	TypeRejectSubscription  = "reject_subscription"
	TypePing                = "ping"
	TypeDisconnect          = "disconnect"
	TypeConfirmHistory      = "confirm_history"
	TypeRejectHistory       = "reject_history"
	// TypePong answers a client's {"command":"ping"} (WebSocket).
	TypePong = "pong"
)

// Disconnect reasons.
const (
	ReasonServerRestart = "server_restart"
	ReasonRemote        = "remote"
	ReasonTooSlow       = "too_slow"
	ReasonUnauthorized  = "unauthorized"
	ReasonTokenExpired  = "token_expired"
	// ReasonNoPong ends an ext WebSocket session that did not answer pings.
	ReasonNoPong = "no_pong"
)

// Data is a broadcast's data string as AnyCable hands it to clients: valid
// JSON is re-encoded compactly (object keys sorted, <>& escaped, as anycable-go
// does), except that numbers keep every digit (anycable-go rounds them through
// float64). A JSON string, JSON null and anything that is not JSON are text.
type Data struct {
	// JSON holds the re-encoded value when the data is JSON other than a
	// string or null.
	JSON []byte
	// Text holds the text otherwise.
	Text string
}

// IsText reports whether the data is text rather than a JSON value.
func (d Data) IsText() bool { return d.JSON == nil }

// NormalizeData parses a broadcast's data string.
func NormalizeData(data string) Data {
	if data == "" {
		return Data{}
	}
	v, ok := decodeJSON([]byte(data))
	if !ok {
		return Data{Text: data}
	}
	switch t := v.(type) {
	case nil:
		return Data{Text: "null"}
	case string:
		return Data{Text: t}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return Data{Text: data}
	}
	return Data{JSON: out}
}

// decodeJSON decodes exactly one JSON value, keeping numbers exact.
func decodeJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	// Only white space may follow the value: "0 apples" is text, not the
	// number 0.
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) != 0 {
		return nil, false
	}
	return v, true
}

// AppendUnwrapped appends what a GET client's data lines carry: the text as
// is, or the JSON value.
func (d Data) AppendUnwrapped(dst []byte) []byte {
	if d.IsText() {
		return append(dst, d.Text...)
	}
	return append(dst, d.JSON...)
}

// AppendValue appends the data as a JSON value (text becomes a JSON string).
func (d Data) AppendValue(dst []byte) []byte {
	if d.IsText() {
		return AppendJSONString(dst, d.Text)
	}
	return append(dst, d.JSON...)
}

// AppendJSONString appends s as a JSON string encoded exactly as Go's
// encoding/json does (HTML characters escaped), which is what AnyCable sends.
func AppendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // never fails for a string
	return append(dst, b...)
}

// Reply is a server-to-client Action Cable message. Fields are written in
// anycable-go's order and omitted when empty.
type Reply struct {
	Type       string
	Identifier string
	// Message is written when HasMessage is set, even if empty.
	Message    Data
	HasMessage bool
	Reason     string
	// Reconnect is written when true, or always when ForceReconnect is set
	// (server-generated disconnect messages).
	Reconnect      bool
	ForceReconnect bool
	StreamID       string
	Epoch          string
	Offset         uint64
	Sid            string
	// Restored marks the welcome of a recovered session (WebSocket ext):
	// "restored":true and "restored_ids" (written as [] when empty) follow
	// "sid", in anycable-go's order.
	Restored    bool
	RestoredIDs []string
	// Extra holds a raw JSON value for "message" that must be written
	// verbatim (ping timestamps); it wins over Message.
	RawMessage []byte
}

// AppendJSON appends the reply as compact JSON.
func (r *Reply) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
	}
	if r.Type != "" {
		key("type")
		dst = AppendJSONString(dst, r.Type)
	}
	if r.Identifier != "" {
		key("identifier")
		dst = AppendJSONString(dst, r.Identifier)
	}
	if r.RawMessage != nil {
		key("message")
		dst = append(dst, r.RawMessage...)
	} else if r.HasMessage {
		key("message")
		dst = r.Message.AppendValue(dst)
	}
	if r.Reason != "" {
		key("reason")
		dst = AppendJSONString(dst, r.Reason)
	}
	if r.Reconnect || r.ForceReconnect {
		key("reconnect")
		dst = strconv.AppendBool(dst, r.Reconnect)
	}
	if r.StreamID != "" {
		key("stream_id")
		dst = AppendJSONString(dst, r.StreamID)
	}
	if r.Epoch != "" {
		key("epoch")
		dst = AppendJSONString(dst, r.Epoch)
	}
	if r.Offset != 0 {
		key("offset")
		dst = strconv.AppendUint(dst, r.Offset, 10)
	}
	if r.Sid != "" {
		key("sid")
		dst = AppendJSONString(dst, r.Sid)
	}
	if r.Restored {
		key("restored")
		dst = append(dst, "true"...)
		key("restored_ids")
		dst = append(dst, '[')
		for i, id := range r.RestoredIDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, id)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// ParseTransmission reads a transmission the app sent through RPC (a JSON
// object string) into a Reply, dropping fields the protocol does not know, as
// anycable-go does. ok is false for anything that is not a JSON object.
func ParseTransmission(s string) (Reply, bool) {
	v, ok := decodeJSON([]byte(s))
	if !ok {
		return Reply{}, false
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Reply{}, false
	}
	var r Reply
	str := func(k string) string {
		s, _ := obj[k].(string)
		return s
	}
	r.Type = str("type")
	if strings.ContainsAny(r.Type, "\r\n\x00") {
		return Reply{}, false // it would become an "event:" line
	}
	r.Identifier = str("identifier")
	r.Reason = str("reason")
	r.StreamID = str("stream_id")
	r.Epoch = str("epoch")
	r.Sid = str("sid")
	if b, ok := obj["reconnect"].(bool); ok {
		r.Reconnect = b
	}
	if n, ok := obj["offset"].(json.Number); ok {
		if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
			r.Offset = u
		}
	}
	if m, present := obj["message"]; present && m != nil {
		r.HasMessage = true
		switch t := m.(type) {
		case string:
			r.Message = Data{Text: t}
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return Reply{}, false
			}
			r.Message = Data{JSON: b}
		}
	}
	return r, true
}
