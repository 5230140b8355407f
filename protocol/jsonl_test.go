package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseJSONL(t *testing.T) {
	const (
		idA = `{"channel":"$pubsub","stream_name":"a"}`
		idB = `{"channel":"$pubsub","stream_name":"b"}`
	)
	line := func(fields string) string { return `{` + fields + `}` }
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := []struct {
		name string
		body string
		want []SubscribeCommand
	}{
		{"empty body", "", nil},
		{"blank lines only", "\n\r\n \n\t\n", nil},
		{
			"spec §12.4",
			line(`"command":"subscribe","identifier":`+q(idA)) + "\n" + line(`"command":"subscribe","identifier":`+q(idB)) + "\n",
			[]SubscribeCommand{{Identifier: idA}, {Identifier: idB}},
		},
		{"CRLF and no final newline", line(`"identifier":"A"`) + "\r\n\r\n" + line(`"identifier":"B"`), []SubscribeCommand{{Identifier: "A"}, {Identifier: "B"}}},
		{"command ignored", line(`"command":"unsubscribe","identifier":"A","data":"x"`) + "\n" + line(`"command":"message","identifier":"B"`), []SubscribeCommand{{Identifier: "A"}, {Identifier: "B"}}},
		{"no command", line(`"identifier":"A"`), []SubscribeCommand{{Identifier: "A"}}},
		{"identifier verbatim", line(`"identifier":` + q(` {"channel" : "X"} `)), []SubscribeCommand{{Identifier: ` {"channel" : "X"} `}}},
		{"spaces around", "  " + line(`"identifier":"A"`) + "  ", []SubscribeCommand{{Identifier: "A"}}},
		{"null history", line(`"identifier":"A","history":null`), []SubscribeCommand{{Identifier: "A"}}},
		{
			"history",
			line(`"identifier":"A","history":{"since":1700000000,"streams":{"room/1":{"offset":18446744073709551615,"epoch":"B4v2"},"b":{}}}`),
			[]SubscribeCommand{{Identifier: "A", History: &HistoryParams{Since: 1700000000, Streams: map[string]HistoryPosition{
				"room/1": {Offset: 18446744073709551615, Epoch: "B4v2"}, "b": {},
			}}}},
		},
		{"empty history", line(`"identifier":"A","history":{}`), []SubscribeCommand{{Identifier: "A", History: &HistoryParams{}}}},
		{"presence ignored", line(`"identifier":"A","presence":{"id":"u","info":{}}`), []SubscribeCommand{{Identifier: "A"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSONL([]byte(tt.body))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseJSONL = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseJSONLErrors(t *testing.T) {
	ok := `{"identifier":"A"}` + "\n"
	tests := []struct{ name, body, err string }{
		// spec §2.7: a JSON array body or a pretty-printed object → 400
		{"array body", `[{"identifier":"A"}]`, "line 1: not a JSON object"},
		{"pretty printed", "{\n  \"identifier\": \"A\"\n}\n", "line 1: invalid JSON"},
		{"garbage", ok + "\n" + "hello", "line 3: not a JSON object"},
		{"null line", "null", "line 1: not a JSON object"},
		{"string line", `"A"`, "line 1: not a JSON object"},
		{"two objects on a line", `{"identifier":"A"} {"identifier":"B"}`, "line 1: invalid JSON"},
		{"truncated", `{"identifier":"A"`, "line 1: invalid JSON"},
		{"no identifier", ok + `{"command":"subscribe"}`, `line 2: "identifier" must be a non-empty JSON string`},
		{"empty identifier", `{"identifier":""}`, `line 1: "identifier" must be a non-empty JSON string`},
		{"identifier object", `{"identifier":{"channel":"X"}}`, `line 1: "identifier" must be a non-empty JSON string`},
		{"identifier null", `{"identifier":null}`, `line 1: "identifier" must be a non-empty JSON string`},
		// spec §2.7: a duplicate identifier → 400 ("already subscribed")
		{"duplicate", ok + "\r\n" + `{"command":"subscribe","identifier":"B"}` + "\n" + ok, "line 4: duplicate identifier (already subscribed on line 1)"},
		{"history not object", `{"identifier":"A","history":1700000000}`, `line 1: "history" must be a JSON object`},
		{"history since string", `{"identifier":"A","history":{"since":"1700000000"}}`, `line 1: "history.since"`},
		{"history since float", `{"identifier":"A","history":{"since":1.5}}`, `line 1: "history.since"`},
		{"history negative offset", `{"identifier":"A","history":{"streams":{"s":{"offset":-1,"epoch":"E"}}}}`, `line 1: "history.streams`},
		{"history epoch number", `{"identifier":"A","history":{"streams":{"s":{"offset":1,"epoch":5}}}}`, `line 1: "history.streams`},
		{"history streams list", `{"identifier":"A","history":{"streams":["s"]}}`, `line 1: "history.streams"`},
		{"vertical tab", "\v" + ok, "line 1: not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSONL([]byte(tt.body))
			if err == nil || got != nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("ParseJSONL(%q) = %+v, %v; want error starting %q", tt.body, got, err, tt.err)
			}
		})
	}
}

func FuzzParseJSONL(f *testing.F) {
	f.Add([]byte(`{"command":"subscribe","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"a\"}"}` + "\n"))
	f.Add([]byte("{\"identifier\":\"A\",\"history\":{\"since\":1,\"streams\":{\"s\":{\"offset\":2,\"epoch\":\"E\"}}}}\r\n\n{\"identifier\":\"B\"}"))
	f.Add([]byte("[1]\n{"))
	f.Add([]byte("{\"identifier\":\"A\"}\n{\"identifier\":\"A\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		cmds, err := ParseJSONL(body)
		if err != nil {
			if cmds != nil || !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %v with %+v", err, cmds)
			}
			return
		}
		if len(cmds) > bytes.Count(body, []byte{'\n'})+1 {
			t.Fatalf("%d commands from %d lines", len(cmds), bytes.Count(body, []byte{'\n'})+1)
		}
		seen := map[string]bool{}
		var again bytes.Buffer
		for _, c := range cmds {
			if c.Identifier == "" || seen[c.Identifier] {
				t.Fatalf("bad or duplicate identifier %q", c.Identifier)
			}
			seen[c.Identifier] = true
			line, err := json.Marshal(map[string]any{"identifier": c.Identifier, "history": c.History})
			if err != nil {
				t.Fatal(err)
			}
			again.Write(line)
			again.WriteByte('\n')
		}
		// What was accepted, written back as JSONL, parses to the same.
		got, err := ParseJSONL(again.Bytes())
		if err != nil || !reflect.DeepEqual(got, cmds) {
			t.Fatalf("re-parse = %+v, %v; want %+v", got, err, cmds)
		}
	})
}
