package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Broadcast is one publication: data for every subscriber of a stream.
type Broadcast struct {
	Stream string
	// Data is the publication's data string, untouched.
	Data string
	Meta BroadcastMeta
}

// BroadcastMeta holds the optional "meta" of a publication.
type BroadcastMeta struct {
	// ExcludeSocket is the sid of a connection that must not receive it.
	ExcludeSocket string `json:"exclude_socket"`
	// Transient messages are neither stored nor numbered.
	Transient bool `json:"transient"`
	// BroadcastType, when set, makes the message a typed event.
	BroadcastType string `json:"broadcast_type"`
}

// RemoteCommand is a command to the server sent in place of a publication:
// {"command":"disconnect","payload":{"identifier":"…","reconnect":false}}.
type RemoteCommand struct {
	// Command is the command name; "disconnect" is the only one known.
	Command string
	// Identifier is the connection identifiers string (from connect) of the
	// sessions to act on.
	Identifier string
	// Reconnect tells the disconnected clients whether to come back.
	Reconnect bool
}

// CommandDisconnect is the remote command that closes sessions.
const CommandDisconnect = "disconnect"

// BroadcastLimits bounds what ParseBroadcast accepts. Zero values mean the
// defaults.
type BroadcastLimits struct {
	// MaxBatch is the largest number of publications in one array (1000).
	MaxBatch int
	// MaxStreamLen is the longest stream name in bytes (1024).
	MaxStreamLen int
}

// Default broadcast limits.
const (
	DefaultMaxBatch     = 1000
	DefaultMaxStreamLen = 1024
)

// BroadcastError says why a broadcast body was refused, in words a publisher
// can act on.
type BroadcastError struct {
	Reason string
}

func (e *BroadcastError) Error() string { return "invalid broadcast: " + e.Reason }

func broadcastErr(format string, args ...any) error {
	return &BroadcastError{Reason: fmt.Sprintf(format, args...)}
}

// wireBroadcast is a publication object as sent. Every field is kept raw so
// that a wrong type is reported by name instead of failing the whole decode.
// Like AnyCable (and encoding/json), key matching is case-insensitive; a
// JSON null means absent. Other keys ("offset", "epoch", ...) are ignored:
// only the broker numbers messages.
type wireBroadcast struct {
	Stream  json.RawMessage `json:"stream"`
	Data    json.RawMessage `json:"data"`
	Meta    json.RawMessage `json:"meta"`
	Command json.RawMessage `json:"command"`
	Payload json.RawMessage `json:"payload"`
}

type wireMeta struct {
	ExcludeSocket json.RawMessage `json:"exclude_socket"`
	Transient     json.RawMessage `json:"transient"`
	BroadcastType json.RawMessage `json:"broadcast_type"`
}

type wirePayload struct {
	Identifier json.RawMessage `json:"identifier"`
	Reconnect  json.RawMessage `json:"reconnect"`
}

// ParseBroadcast parses a publication body (HTTP broadcast, Redis): one
// publication object, a JSON array of them, or a remote command object.
// Exactly one of the results is non-nil on success. Unlike AnyCable, which
// answers 201 and drops bad input, every malformed body is refused with a
// *BroadcastError; a batch is accepted whole or not at all. Reasons about an
// array element name it by its 0-based index ("element 2: …"). JSON null
// counts as absent for every field, as in AnyCable.
func ParseBroadcast(body []byte, lim BroadcastLimits) ([]Broadcast, *RemoteCommand, error) {
	if lim.MaxBatch <= 0 {
		lim.MaxBatch = DefaultMaxBatch
	}
	if lim.MaxStreamLen <= 0 {
		lim.MaxStreamLen = DefaultMaxStreamLen
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, nil, broadcastErr("body is empty")
	}
	switch trimmed[0] {
	case '{':
		var w wireBroadcast
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, nil, jsonErr(err)
		}
		// A non-empty "stream" wins over a "command", as in AnyCable.
		noStream := isNull(w.Stream) || string(w.Stream) == `""`
		if noStream && !isNull(w.Command) {
			c, err := w.command()
			if err != nil {
				return nil, nil, err
			}
			return nil, c, nil
		}
		if isNull(w.Stream) {
			return nil, nil, broadcastErr(`body has neither "stream" nor "command"`)
		}
		b, err := w.broadcast(lim)
		if err != nil {
			return nil, nil, err
		}
		return []Broadcast{b}, nil, nil
	case '[':
		bs, err := parseBatch(body, lim)
		return bs, nil, err
	default:
		return nil, nil, broadcastErr("body must be a JSON object or array")
	}
}

func parseBatch(body []byte, lim BroadcastLimits) ([]Broadcast, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // '['
		return nil, jsonErr(err)
	}
	var out []Broadcast
	for i := 0; dec.More(); i++ {
		if i == lim.MaxBatch {
			return nil, broadcastErr("batch has more than %d elements", lim.MaxBatch)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonErr(err)
		}
		if raw[0] != '{' {
			return nil, broadcastErr("element %d: must be a JSON object", i)
		}
		var w wireBroadcast
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, prefixErr(fmt.Sprintf("element %d", i), jsonErr(err))
		}
		b, err := w.broadcast(lim)
		if err != nil {
			return nil, prefixErr(fmt.Sprintf("element %d", i), err)
		}
		out = append(out, b)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, broadcastErr("invalid JSON: unexpected data after the top-level array")
	}
	if len(out) == 0 {
		return nil, broadcastErr("batch is empty")
	}
	return out, nil
}

func (w *wireBroadcast) broadcast(lim BroadcastLimits) (Broadcast, error) {
	var b Broadcast
	stream, ok := decodeRawString(w.Stream)
	switch {
	case isNull(w.Stream):
		return b, broadcastErr(`"stream" is missing`)
	case !ok:
		return b, broadcastErr(`"stream" must be a JSON string`)
	}
	if err := ValidStreamName(stream, lim.MaxStreamLen); err != nil {
		return b, broadcastErr(`"stream": %v`, err)
	}
	b.Stream = stream
	if !isNull(w.Data) {
		if b.Data, ok = decodeRawString(w.Data); !ok {
			return b, broadcastErr(`"data" must be a JSON string (JSON-encode the payload into a string)`)
		}
	}
	if isNull(w.Meta) {
		return b, nil
	}
	if w.Meta[0] != '{' {
		return b, broadcastErr(`"meta" must be a JSON object`)
	}
	var m wireMeta
	if err := json.Unmarshal(w.Meta, &m); err != nil {
		return b, prefixErr(`"meta"`, jsonErr(err))
	}
	if !isNull(m.ExcludeSocket) {
		if b.Meta.ExcludeSocket, ok = decodeRawString(m.ExcludeSocket); !ok {
			return b, broadcastErr(`"meta.exclude_socket" must be a JSON string`)
		}
	}
	if !isNull(m.Transient) {
		if err := json.Unmarshal(m.Transient, &b.Meta.Transient); err != nil {
			return b, broadcastErr(`"meta.transient" must be true or false`)
		}
	}
	if !isNull(m.BroadcastType) {
		if b.Meta.BroadcastType, ok = decodeRawString(m.BroadcastType); !ok {
			return b, broadcastErr(`"meta.broadcast_type" must be a JSON string`)
		}
		if strings.ContainsAny(b.Meta.BroadcastType, "\r\n\x00") {
			return b, broadcastErr(`"meta.broadcast_type" contains CR, LF or NUL`)
		}
	}
	return b, nil
}

func (w *wireBroadcast) command() (*RemoteCommand, error) {
	name, ok := decodeRawString(w.Command)
	switch {
	case !ok:
		return nil, broadcastErr(`"command" must be a JSON string`)
	case name == "":
		return nil, broadcastErr(`"command" is empty`)
	case name != CommandDisconnect:
		return nil, broadcastErr(`unknown command %q (only "disconnect" is supported)`, name)
	}
	if isNull(w.Payload) || w.Payload[0] != '{' {
		return nil, broadcastErr(`"payload" must be a JSON object with "identifier"`)
	}
	var p wirePayload
	if err := json.Unmarshal(w.Payload, &p); err != nil {
		return nil, prefixErr(`"payload"`, jsonErr(err))
	}
	c := &RemoteCommand{Command: name}
	// An empty identifier would match every anonymous session.
	if c.Identifier, ok = decodeRawString(p.Identifier); !ok || c.Identifier == "" {
		return nil, broadcastErr(`"payload.identifier" must be a non-empty JSON string`)
	}
	if !isNull(p.Reconnect) {
		if err := json.Unmarshal(p.Reconnect, &c.Reconnect); err != nil {
			return nil, broadcastErr(`"payload.reconnect" must be true or false`)
		}
	}
	return c, nil
}

// prefixErr puts where in the body a *BroadcastError happened before its reason.
func prefixErr(where string, err error) error {
	return &BroadcastError{Reason: where + ": " + err.(*BroadcastError).Reason}
}

// isNull reports whether a raw value is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// jsonErr turns a decoding error into a *BroadcastError naming the byte
// offset, when known.
func jsonErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return broadcastErr("invalid JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return broadcastErr("invalid JSON: unexpected end of input")
	}
	return broadcastErr("invalid JSON: %v", err)
}
