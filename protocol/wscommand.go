package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// CommandKind names what a WebSocket client message asks for.
type CommandKind uint8

// Client command kinds. The zero value is CommandUnknown.
const (
	// CommandUnknown is any "command" the module does not handle, including
	// a missing one ({}). AnyCable logs "unknown command: <name>" and sends
	// nothing; it still counts as client activity.
	CommandUnknown CommandKind = iota
	// CommandNull is the message `null`: AnyCable ignores it without a log.
	CommandNull
	CommandSubscribe
	CommandUnsubscribe
	CommandMessage
	CommandHistory
	// CommandPing is an application-level ping from the client, answered
	// with {"type":"pong"} on both protocols.
	CommandPing
	// CommandPong answers the server's ping (ext); it only marks activity.
	CommandPong
)

// Command names as clients send them.
const (
	CommandNameSubscribe   = "subscribe"
	CommandNameUnsubscribe = "unsubscribe"
	CommandNameMessage     = "message"
	CommandNameHistory     = "history"
	CommandNamePing        = "ping"
	CommandNamePong        = "pong"
)

var commandKinds = map[string]CommandKind{
	CommandNameSubscribe:   CommandSubscribe,
	CommandNameUnsubscribe: CommandUnsubscribe,
	CommandNameMessage:     CommandMessage,
	CommandNameHistory:     CommandHistory,
	CommandNamePing:        CommandPing,
	CommandNamePong:        CommandPong,
}

// Command is one decoded client message of the WebSocket transport.
type Command struct {
	Kind CommandKind
	// Name is the "command" value as sent ("" when absent), for logs.
	Name string
	// Identifier is the channel identifier, verbatim (invalid UTF-8 is
	// replaced by U+FFFD, as anycable-go's decoding does).
	Identifier string
	// Data is the "data" string of a message command, forwarded to the
	// application unchanged.
	Data string
	// History is the history request: required for CommandHistory,
	// optional for CommandSubscribe (nil when absent or null).
	History *HistoryParams
}

// Decoding errors. Both mean "send nothing"; they differ in what AnyCable
// does next, which the transport may copy or not.
var (
	// ErrMalformedCommand: the message is not one JSON object whose known
	// fields have the right JSON types. anycable-go stops reading the
	// socket for good but keeps it open (spec §3.1, quirk Q1).
	ErrMalformedCommand = errors.New("malformed command")
	// ErrInvalidCommand: well-formed, but it cannot be carried out as
	// given (a message without string data, a history without a request,
	// no identifier). anycable-go logs it, sends nothing and keeps reading;
	// it counts as client activity. The returned Command holds what was
	// decoded (Kind, Name, Identifier) for the log.
	ErrInvalidCommand = errors.New("invalid command")
)

// wireClientCommand holds the fields AnyCable reads; any other top-level key
// is ignored. Field names match case-insensitively, as encoding/json (and so
// anycable-go) matches them.
type wireClientCommand struct {
	Command    json.RawMessage `json:"command"`
	Identifier json.RawMessage `json:"identifier"`
	Data       json.RawMessage `json:"data"`
	History    json.RawMessage `json:"history"`
}

// DecodeCommand decodes one client message (a text or binary WebSocket
// message; AnyCable treats both alike). A JSON null value for any field is
// the same as the field being absent, as in anycable-go. With
// ErrMalformedCommand the Command is zero.
func DecodeCommand(msg []byte) (Command, error) {
	var c Command
	trimmed := bytes.Trim(msg, " \t\r\n")
	if string(trimmed) == "null" {
		c.Kind = CommandNull
		return c, nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Command{}, malformed("not a JSON object")
	}
	var w wireClientCommand
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return Command{}, malformed("invalid JSON: " + err.Error())
	}
	var ok bool
	if c.Name, ok = optionalString(w.Command); !ok {
		return Command{}, malformed(`"command" must be a JSON string`)
	}
	if c.Identifier, ok = optionalString(w.Identifier); !ok {
		return Command{}, malformed(`"identifier" must be a JSON string`)
	}
	if !isNull(w.History) {
		if w.History[0] != '{' {
			return Command{}, malformed(`"history" must be a JSON object`)
		}
		c.History = new(HistoryParams)
		if err := json.Unmarshal(w.History, c.History); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return Command{}, malformed(fmt.Sprintf(`"history.%s" must be %s, not a JSON %s`, te.Field, historyFieldWants(te), te.Value))
			}
			return Command{}, malformed(`"history": ` + err.Error())
		}
	}
	c.Kind = commandKinds[c.Name] // CommandUnknown when absent
	switch c.Kind {
	case CommandSubscribe, CommandUnsubscribe, CommandMessage, CommandHistory:
		if c.Identifier == "" {
			return c, invalid(c.Name + ` needs a non-empty "identifier"`)
		}
	}
	switch c.Kind {
	case CommandMessage:
		if c.Data, ok = decodeRawString(w.Data); !ok {
			// anycable-go: "perform data must be a string, got …".
			return c, invalid(`message "data" must be a JSON string`)
		}
	case CommandHistory:
		if !c.History.Requested() {
			// anycable-go: "history request is missing".
			return c, invalid(`history needs "history" with "since" > 0 or "streams"`)
		}
	}
	return c, nil
}

// Requested reports whether h asks for anything: since > 0 or a streams
// object (even empty, which AnyCable answers with confirm_history alone).
func (h *HistoryParams) Requested() bool {
	return h != nil && (h.Since > 0 || h.Streams != nil)
}

// historyFieldWants says in words what a history field must hold.
func historyFieldWants(te *json.UnmarshalTypeError) string {
	switch te.Field {
	case "since":
		return "an integer (Unix seconds)"
	case "streams":
		return `an object of stream name to {"epoch", "offset"}`
	case "streams.offset":
		return "an unsigned integer"
	case "streams.epoch":
		return "a JSON string"
	}
	return te.Type.String()
}

// optionalString decodes an absent or null field as "", a JSON string as
// itself; anything else is not ok.
func optionalString(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", true
	}
	return decodeRawString(raw)
}

func malformed(detail string) error { return fmt.Errorf("%w: %s", ErrMalformedCommand, detail) }
func invalid(detail string) error   { return fmt.Errorf("%w: %s", ErrInvalidCommand, detail) }
