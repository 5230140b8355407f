package protocol

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The anycable column is what anycable-go 1.6.16 does with the same message
// (spec §3, §11.7; "[S]" read from its source, "[m]" no AnyCable evidence:
// the module's own choice). Every error row sends nothing to the client.
func TestDecodeCommand(t *testing.T) {
	const chat = `{"channel":"ChatChannel","room":1}`
	cases := []struct {
		name     string
		in       string
		want     Command
		err      error  // nil, ErrMalformedCommand or ErrInvalidCommand
		errText  string // exact message when err != nil
		anycable string
	}{
		// Well-formed commands.
		{"subscribe", `{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\",\"room\":1}"}`,
			Command{Kind: CommandSubscribe, Name: "subscribe", Identifier: chat}, nil, "", "RPC subscribe"},
		{"subscribe with history", `{"command":"subscribe","identifier":"A","history":{"streams":{"r1":{"epoch":"udIE","offset":3}}}}`,
			Command{Kind: CommandSubscribe, Name: "subscribe", Identifier: "A", History: &HistoryParams{Streams: map[string]HistoryPosition{"r1": {Epoch: "udIE", Offset: 3}}}}, nil, "", "confirm, then offsets 4.. and confirm_history"},
		{"subscribe with empty history", `{"command":"subscribe","identifier":"A","history":{}}`,
			Command{Kind: CommandSubscribe, Name: "subscribe", Identifier: "A", History: &HistoryParams{}}, nil, "", "confirm only"},
		{"unsubscribe", `{"command":"unsubscribe","identifier":"A"}`,
			Command{Kind: CommandUnsubscribe, Name: "unsubscribe", Identifier: "A"}, nil, "", "RPC unsubscribe, no reply"},
		{"message", `{"command":"message","identifier":"A","data":"{\"action\":\"speak\",\"text\":\"hi\"}"}`,
			Command{Kind: CommandMessage, Name: "message", Identifier: "A", Data: `{"action":"speak","text":"hi"}`}, nil, "", "RPC message with data unchanged"},
		{"message with empty data", `{"command":"message","identifier":"A","data":""}`,
			Command{Kind: CommandMessage, Name: "message", Identifier: "A"}, nil, "", "RPC message [S]"},
		{"history since", `{"command":"history","identifier":"A","history":{"since":1796322554}}`,
			Command{Kind: CommandHistory, Name: "history", Identifier: "A", History: &HistoryParams{Since: 1796322554}}, nil, "", "messages since, confirm_history"},
		{"history streams", `{"command":"history","identifier":"A","history":{"since":0,"streams":{"r1":{"epoch":"udIE","offset":1}}}}`,
			Command{Kind: CommandHistory, Name: "history", Identifier: "A", History: &HistoryParams{Streams: map[string]HistoryPosition{"r1": {Epoch: "udIE", Offset: 1}}}}, nil, "", "offsets 2.., confirm_history"},
		{"history empty streams", `{"command":"history","identifier":"A","history":{"streams":{}}}`,
			Command{Kind: CommandHistory, Name: "history", Identifier: "A", History: &HistoryParams{Streams: map[string]HistoryPosition{}}}, nil, "", "confirm_history only"},
		{"pong", `{"command":"pong"}`, Command{Kind: CommandPong, Name: "pong"}, nil, "", "activity only"},
		{"ping", `{"command":"ping"}`, Command{Kind: CommandPing, Name: "ping"}, nil, "", `{"type":"pong"}`},
		{"unknown fields ignored", `{"command":"pong","x":[1,{"y":null}],"presence":{"id":"u"}}`, Command{Kind: CommandPong, Name: "pong"}, nil, "", "activity only"},
		{"white space around", " \r\n{\"command\":\"pong\"}\n", Command{Kind: CommandPong, Name: "pong"}, nil, "", "activity only [S]"},
		{"null fields are absent", `{"command":"subscribe","identifier":"A","history":null,"data":null}`,
			Command{Kind: CommandSubscribe, Name: "subscribe", Identifier: "A"}, nil, "", "RPC subscribe [S]"},
		{"invalid UTF-8 replaced", "{\"command\":\"subscribe\",\"identifier\":\"a\xffb\"}",
			Command{Kind: CommandSubscribe, Name: "subscribe", Identifier: "a\uFFFDb"}, nil, "", "confirmed for a\uFFFDb"},
		{"keys match case-insensitively", `{"Command":"pong"}`, Command{Kind: CommandPong, Name: "pong"}, nil, "", "activity only [S: encoding/json]"},

		// Ignored without a word.
		{"null", `null`, Command{Kind: CommandNull}, nil, "", "nothing, no log; next subscribe confirmed"},
		{"null with space", ` null `, Command{Kind: CommandNull}, nil, "", "nothing [S]"},
		{"empty object", `{}`, Command{Kind: CommandUnknown}, nil, "", `nothing; log "unknown command: "`},
		{"unknown command", `{"command":"bogus","identifier":"A"}`, Command{Kind: CommandUnknown, Name: "bogus", Identifier: "A"}, nil, "", `nothing; log "unknown command: bogus"`},
		{"command case matters", `{"command":"Subscribe","identifier":"A"}`, Command{Kind: CommandUnknown, Name: "Subscribe", Identifier: "A"}, nil, "", "unknown command [S]"},
		{"whisper is not handled", `{"command":"whisper","identifier":"A","data":{"typing":true}}`, Command{Kind: CommandUnknown, Name: "whisper", Identifier: "A"}, nil, "", "whisper to other subscribers (not in scope)"},

		// Invalid: decoded, logged, nothing sent, reading goes on.
		{"message with object data", `{"command":"message","identifier":"A","data":{"action":"echo"}}`,
			Command{Kind: CommandMessage, Name: "message", Identifier: "A"}, ErrInvalidCommand, `invalid command: message "data" must be a JSON string`, `nothing; log "perform data must be a string"`},
		{"message without data", `{"command":"message","identifier":"A"}`,
			Command{Kind: CommandMessage, Name: "message", Identifier: "A"}, ErrInvalidCommand, `invalid command: message "data" must be a JSON string`, "nothing [S]"},
		{"message with null data", `{"command":"message","identifier":"A","data":null}`,
			Command{Kind: CommandMessage, Name: "message", Identifier: "A"}, ErrInvalidCommand, `invalid command: message "data" must be a JSON string`, "nothing [S]"},
		{"history without request", `{"command":"history","identifier":"A"}`,
			Command{Kind: CommandHistory, Name: "history", Identifier: "A"}, ErrInvalidCommand, `invalid command: history needs "history" with "since" > 0 or "streams"`, `nothing; log "history request is missing"`},
		{"history with zero since", `{"command":"history","identifier":"A","history":{"since":0}}`,
			Command{Kind: CommandHistory, Name: "history", Identifier: "A", History: &HistoryParams{}}, ErrInvalidCommand, `invalid command: history needs "history" with "since" > 0 or "streams"`, "nothing"},
		{"history with negative since", `{"command":"history","identifier":"A","history":{"since":-5,"streams":null}}`,
			Command{Kind: CommandHistory, Name: "history", Identifier: "A", History: &HistoryParams{Since: -5}}, ErrInvalidCommand, `invalid command: history needs "history" with "since" > 0 or "streams"`, "nothing [S]"},
		{"subscribe without identifier", `{"command":"subscribe"}`,
			Command{Kind: CommandSubscribe, Name: "subscribe"}, ErrInvalidCommand, `invalid command: subscribe needs a non-empty "identifier"`, "RPC subscribe with identifier \"\" [S]; [m] refused here"},
		{"unsubscribe with empty identifier", `{"command":"unsubscribe","identifier":""}`,
			Command{Kind: CommandUnsubscribe, Name: "unsubscribe"}, ErrInvalidCommand, `invalid command: unsubscribe needs a non-empty "identifier"`, `nothing; log "unknown subscription: "`},

		// Malformed: AnyCable stops reading the socket for good (Q1).
		{"invalid JSON", `{not json`, Command{}, ErrMalformedCommand, `malformed command: invalid JSON: invalid character 'n' looking for beginning of object key string`, "nothing; reading stops"},
		{"empty message", ``, Command{}, ErrMalformedCommand, `malformed command: not a JSON object`, "nothing; reading stops [S]"},
		{"array", `[{"command":"pong"}]`, Command{}, ErrMalformedCommand, `malformed command: not a JSON object`, "nothing; reading stops [S]"},
		{"string", `"subscribe"`, Command{}, ErrMalformedCommand, `malformed command: not a JSON object`, "nothing; reading stops [S]"},
		{"two objects", `{"command":"pong"} {"command":"pong"}`, Command{}, ErrMalformedCommand, `malformed command: invalid JSON: invalid character '{' after top-level value`, "nothing; reading stops [S]"},
		{"truncated", `{"command":"pong"`, Command{}, ErrMalformedCommand, `malformed command: invalid JSON: unexpected end of JSON input`, "nothing; reading stops [S]"},
		{"identifier object", `{"command":"subscribe","identifier":{"channel":"ChatChannel"}}`, Command{}, ErrMalformedCommand, `malformed command: "identifier" must be a JSON string`, "nothing; reading stops"},
		{"command number", `{"command":1}`, Command{}, ErrMalformedCommand, `malformed command: "command" must be a JSON string`, "nothing; reading stops [S]"},
		{"history array", `{"command":"history","identifier":"A","history":[1]}`,
			Command{}, ErrMalformedCommand, `malformed command: "history" must be a JSON object`, "nothing; reading stops [S]"},
		{"history since float", `{"command":"history","identifier":"A","history":{"since":1.5}}`,
			Command{}, ErrMalformedCommand, `malformed command: "history.since" must be an integer (Unix seconds), not a JSON number 1.5`, "nothing; reading stops [S]"},
		{"history since string", `{"command":"history","identifier":"A","history":{"since":"1"}}`,
			Command{}, ErrMalformedCommand, `malformed command: "history.since" must be an integer (Unix seconds), not a JSON string`, "nothing; reading stops [S]"},
		{"history negative offset", `{"command":"history","identifier":"A","history":{"streams":{"r1":{"epoch":"e","offset":-1}}}}`,
			Command{}, ErrMalformedCommand, `malformed command: "history.streams.offset" must be an unsigned integer, not a JSON number -1`, "nothing; reading stops [S]"},
		{"history numeric epoch", `{"command":"history","identifier":"A","history":{"streams":{"r1":{"epoch":5,"offset":1}}}}`,
			Command{}, ErrMalformedCommand, `malformed command: "history.streams.epoch" must be a JSON string, not a JSON number`, "nothing; reading stops [S]"},
		{"history streams list", `{"command":"subscribe","identifier":"A","history":{"streams":["r1"]}}`,
			Command{}, ErrMalformedCommand, `malformed command: "history.streams" must be an object of stream name to {"epoch", "offset"}, not a JSON array`, "nothing; reading stops [S]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeCommand([]byte(c.in))
			if c.err == nil {
				if err != nil {
					t.Fatalf("error %v (AnyCable: %s)", err, c.anycable)
				}
			} else {
				if !errors.Is(err, c.err) {
					t.Fatalf("error %v, want %v (AnyCable: %s)", err, c.err, c.anycable)
				}
				if err.Error() != c.errText {
					t.Errorf("error text\n got %s\nwant %s", err, c.errText)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// Both error classes are told apart, and each names what was wrong.
func TestDecodeCommandErrorClasses(t *testing.T) {
	_, err := DecodeCommand([]byte(`{"command":"message","identifier":"A","data":1}`))
	if errors.Is(err, ErrMalformedCommand) || !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("non-string data: %v", err)
	}
	_, err = DecodeCommand([]byte(`{"identifier":true}`))
	if errors.Is(err, ErrInvalidCommand) || !errors.Is(err, ErrMalformedCommand) {
		t.Fatalf("boolean identifier: %v", err)
	}
}

func TestHistoryRequested(t *testing.T) {
	var none *HistoryParams
	for _, c := range []struct {
		h    *HistoryParams
		want bool
	}{
		{none, false},
		{&HistoryParams{}, false},
		{&HistoryParams{Since: -1}, false},
		{&HistoryParams{Since: 1}, true},
		{&HistoryParams{Streams: map[string]HistoryPosition{}}, true},
	} {
		if got := c.h.Requested(); got != c.want {
			t.Errorf("%+v: %v", c.h, got)
		}
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{
		`{"command":"subscribe","identifier":"{\"channel\":\"C\"}"}`,
		`{"command":"message","identifier":"A","data":"{}"}`,
		`{"command":"history","identifier":"A","history":{"since":1,"streams":{"s":{"epoch":"e","offset":2}}}}`,
		`null`, `{}`, `{"command":"pong"}`, `{not json`, `[1]`, `{"identifier":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := DecodeCommand(msg)
		malformedErr := errors.Is(err, ErrMalformedCommand)
		invalidErr := errors.Is(err, ErrInvalidCommand)
		if err != nil && malformedErr == invalidErr {
			t.Fatalf("error %v is neither (or both) malformed and invalid", err)
		}
		if malformedErr {
			if !reflect.DeepEqual(c, Command{}) {
				t.Fatalf("malformed %q decoded to %+v", msg, c)
			}
			return
		}
		if c.Kind == CommandNull {
			if strings.TrimSpace(string(msg)) != "null" {
				t.Fatalf("%q decoded as null", msg)
			}
			return
		}
		if err == nil {
			switch c.Kind {
			case CommandSubscribe, CommandUnsubscribe, CommandMessage, CommandHistory:
				if c.Identifier == "" {
					t.Fatalf("%q: %v without identifier accepted", msg, c.Name)
				}
			}
			if c.Kind == CommandHistory && !c.History.Requested() {
				t.Fatalf("%q: empty history accepted", msg)
			}
			if c.Kind != CommandMessage && c.Data != "" {
				t.Fatalf("%q: data kept for %v", msg, c.Name)
			}
		}
		if want, known := commandKinds[c.Name]; known && c.Kind != want {
			t.Fatalf("%q: name %q kind %v", msg, c.Name, c.Kind)
		}
	})
}
