package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// SubscribeCommand is one line of a POST /events JSONL body.
type SubscribeCommand struct {
	// Identifier is the channel identifier, used verbatim.
	Identifier string
	// History, when set, asks for the messages missed since a time or
	// after a position per stream.
	History *HistoryParams
}

// HistoryParams is the "history" of a subscribe command.
type HistoryParams struct {
	// Since is a Unix time in seconds; 0 or negative means no request.
	Since int64 `json:"since"`
	// Streams maps a stream name to the last position the client saw.
	Streams map[string]HistoryPosition `json:"streams"`
}

// HistoryPosition is a stream position inside HistoryParams.
type HistoryPosition struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

type wireCommand struct {
	Identifier json.RawMessage `json:"identifier"`
	History    json.RawMessage `json:"history"`
}

// ParseJSONL parses a POST body: one JSON object per line, split on "\n",
// with a trailing "\r" tolerated and blank lines skipped. As in AnyCable,
// every line is a subscribe whatever its "command" field says, and fields
// other than "identifier" and "history" are ignored. Each line must be a
// single JSON object with a non-empty string "identifier", and identifiers
// must differ (byte for byte). Errors name the 1-based line: "line 3: …".
// An empty body yields no commands and no error.
func ParseJSONL(body []byte) ([]SubscribeCommand, error) {
	var out []SubscribeCommand
	seen := make(map[string]int)
	for n := 1; len(body) > 0; n++ {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimLeft(line, " \t\r")) == 0 {
			continue
		}
		c, err := parseCommandLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, dup := seen[c.Identifier]; dup {
			return nil, fmt.Errorf("line %d: duplicate identifier (already subscribed on line %d)", n, first)
		}
		seen[c.Identifier] = n
		out = append(out, c)
	}
	return out, nil
}

func parseCommandLine(line []byte) (SubscribeCommand, error) {
	var c SubscribeCommand
	if bytes.TrimLeft(line, " \t\r")[0] != '{' {
		return c, errors.New("not a JSON object (one command object per line)")
	}
	var w wireCommand
	if err := json.Unmarshal(line, &w); err != nil {
		return c, fmt.Errorf("invalid JSON (one command object per line): %w", err)
	}
	id, ok := decodeRawString(w.Identifier)
	if !ok || id == "" {
		return c, errors.New(`"identifier" must be a non-empty JSON string`)
	}
	c.Identifier = id
	if isNull(w.History) {
		return c, nil
	}
	if w.History[0] != '{' {
		return c, errors.New(`"history" must be a JSON object`)
	}
	c.History = new(HistoryParams)
	if err := json.Unmarshal(w.History, c.History); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return c, fmt.Errorf(`"history.%s": a JSON %s cannot be used as %s`, te.Field, te.Value, te.Type)
		}
		return c, fmt.Errorf(`"history": %w`, err)
	}
	return c, nil
}
