package protocol

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseBroadcast(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Broadcast
		cmd  *RemoteCommand
	}{
		{
			name: "spec §5.1 single publication",
			body: `{"stream":"chat_42","data":"{\"text\":\"Hello\"}","meta":{"exclude_socket":"sid1","transient":true,"broadcast_type":"custom"}}`,
			want: []Broadcast{{Stream: "chat_42", Data: `{"text":"Hello"}`, Meta: BroadcastMeta{ExcludeSocket: "sid1", Transient: true, BroadcastType: "custom"}}},
		},
		{
			name: "spec §12.5 turbo stream html",
			body: `{"stream":"chat/42","data":"\"<turbo-stream action=\\\"append\\\"><template>\\n<p>Hi</p>\\n</template></turbo-stream>\""}`,
			want: []Broadcast{{Stream: "chat/42", Data: `"<turbo-stream action=\"append\"><template>\n<p>Hi</p>\n</template></turbo-stream>"`}},
		},
		{name: "missing data is empty", body: `{"stream":"s"}`, want: []Broadcast{{Stream: "s"}}},
		{name: "null data is empty", body: `{"stream":"s","data":null}`, want: []Broadcast{{Stream: "s"}}},
		{name: "data kept verbatim", body: `{"stream":"s","data":"{\"big\":12345678901234567890, \"b\":1}"}`, want: []Broadcast{{Stream: "s", Data: `{"big":12345678901234567890, "b":1}`}}},
		{name: "data null string", body: `{"stream":"s","data":"null"}`, want: []Broadcast{{Stream: "s", Data: "null"}}},
		{name: "unknown keys and publisher offsets ignored", body: `{"stream":"s","data":"x","offset":5,"epoch":"E","extra":[1],"meta":{"other":1}}`, want: []Broadcast{{Stream: "s", Data: "x"}}},
		{name: "null meta fields", body: `{"stream":"s","meta":{"exclude_socket":null,"transient":null,"broadcast_type":null}}`, want: []Broadcast{{Stream: "s"}}},
		{name: "whitespace around", body: " \n\t{\"stream\":\"s\"}\r\n ", want: []Broadcast{{Stream: "s"}}},
		{name: "stream wins over command", body: `{"stream":"s","command":"disconnect"}`, want: []Broadcast{{Stream: "s"}}},
		{name: "stream with slash, unicode", body: `{"stream":"room/é"}`, want: []Broadcast{{Stream: "room/é"}}},
		{
			name: "batch",
			body: `[{"stream":"a","data":"{\"n\":1}"},{"stream":"b","data":"text-b","meta":{"transient":false}}]`,
			want: []Broadcast{{Stream: "a", Data: `{"n":1}`}, {Stream: "b", Data: "text-b"}},
		},
		{
			name: "spec §5.5 remote disconnect",
			body: `{"command":"disconnect","payload":{"identifier":"{\"user\":1}","reconnect":false}}`,
			cmd:  &RemoteCommand{Command: "disconnect", Identifier: `{"user":1}`},
		},
		{
			name: "remote disconnect with reconnect",
			body: `{"command":"disconnect","payload":{"identifier":"u1","reconnect":true}}`,
			cmd:  &RemoteCommand{Command: "disconnect", Identifier: "u1", Reconnect: true},
		},
		{
			name: "empty stream beside a command is a command",
			body: `{"stream":"","command":"disconnect","payload":{"identifier":"u1"}}`,
			cmd:  &RemoteCommand{Command: "disconnect", Identifier: "u1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cmd, err := ParseBroadcast([]byte(tt.body), BroadcastLimits{})
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(cmd, tt.cmd) {
				t.Errorf("got %+v, %+v; want %+v, %+v", got, cmd, tt.want, tt.cmd)
			}
		})
	}
}

func TestParseBroadcastErrors(t *testing.T) {
	tests := []struct {
		name, body, reason string
	}{
		{"empty body", ``, "body is empty"},
		{"blank body", " \n", "body is empty"},
		{"scalar", `"stream"`, "body must be a JSON object or array"},
		{"null", `null`, "body must be a JSON object or array"},
		{"garbage", `stream=a`, "body must be a JSON object or array"},
		{"truncated object", `{"stream":"a"`, "invalid JSON"},
		{"trailing garbage", `{"stream":"a"} x`, "after top-level value"},
		{"two objects", `{"stream":"a"}{"stream":"b"}`, "after top-level value"},
		{"neither", `{"data":"x"}`, `neither "stream" nor "command"`},
		{"empty object", `{}`, `neither "stream" nor "command"`},
		// spec §11: data not a string (AnyCable drops silently with 201)
		{"data object", `{"stream":"s","data":{"a":1}}`, `"data" must be a JSON string`},
		{"data number", `{"stream":"s","data":1}`, `"data" must be a JSON string`},
		{"data bool", `{"stream":"s","data":true}`, `"data" must be a JSON string`},
		{"stream number", `{"stream":42}`, `"stream" must be a JSON string`},
		{"stream number beside command", `{"stream":42,"command":"disconnect"}`, `"stream" must be a JSON string`},
		{"empty stream", `{"stream":""}`, "stream name is empty"},
		// spec §11 / §12.10: framing injection through the stream name or type
		{"stream LF", `{"stream":"a\ndata: INJECTED\nevent: evil","data":"x"}`, "CR, LF or NUL"},
		{"stream CR", `{"stream":"a\rb"}`, "CR, LF or NUL"},
		{"stream NUL", `{"stream":"a\u0000b"}`, "CR, LF or NUL"},
		{"stream too long", `{"stream":"` + strings.Repeat("a", 1025) + `"}`, "longer than 1024 bytes"},
		{"broadcast_type LF", `{"stream":"s","meta":{"broadcast_type":"x\nevent: evil"}}`, `"meta.broadcast_type" contains CR, LF or NUL`},
		{"broadcast_type number", `{"stream":"s","meta":{"broadcast_type":1}}`, `"meta.broadcast_type" must be a JSON string`},
		{"meta not object", `{"stream":"s","meta":"x"}`, `"meta" must be a JSON object`},
		{"transient string", `{"stream":"s","meta":{"transient":"yes"}}`, `"meta.transient" must be true or false`},
		{"exclude_socket number", `{"stream":"s","meta":{"exclude_socket":1}}`, `"meta.exclude_socket" must be a JSON string`},
		{"empty batch", `[]`, "batch is empty"},
		{"batch element not object", `[{"stream":"a"},"b"]`, "element 1: must be a JSON object"},
		{"batch element bad data", `[{"stream":"a"},{"stream":"b","data":{}}]`, `element 1: "data" must be a JSON string`},
		{"batch element without stream", `[{"stream":"a"},{"data":"x"}]`, `element 1: "stream" is missing`},
		{"batch of commands", `[{"command":"disconnect","payload":{"identifier":"u"}}]`, `element 0: "stream" is missing`},
		{"batch element injection", `[{"stream":"a\nb"}]`, "element 0: \"stream\": stream name contains CR, LF or NUL"},
		{"batch trailing garbage", `[{"stream":"a"}] x`, "unexpected data after the top-level array"},
		{"batch then object", `[{"stream":"a"}]{}`, "unexpected data after the top-level array"},
		{"batch truncated", `[{"stream":"a"},`, "unexpected end of input"},
		{"batch bad separator", `[{"stream":"a"} {"stream":"b"}]`, "invalid JSON"},
		{"unknown command", `{"command":"reload"}`, `unknown command "reload"`},
		{"command not string", `{"command":1}`, `"command" must be a JSON string`},
		{"empty command", `{"command":""}`, `"command" is empty`},
		{"disconnect without payload", `{"command":"disconnect"}`, `"payload" must be a JSON object`},
		{"disconnect empty identifier", `{"command":"disconnect","payload":{"identifier":""}}`, `"payload.identifier" must be a non-empty JSON string`},
		{"disconnect identifier object", `{"command":"disconnect","payload":{"identifier":{"user":1}}}`, `"payload.identifier" must be a non-empty JSON string`},
		{"disconnect reconnect string", `{"command":"disconnect","payload":{"identifier":"u","reconnect":"no"}}`, `"payload.reconnect" must be true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cmd, err := ParseBroadcast([]byte(tt.body), BroadcastLimits{})
			var be *BroadcastError
			if !errors.As(err, &be) {
				t.Fatalf("got %+v, %+v, %v; want a *BroadcastError", got, cmd, err)
			}
			if got != nil || cmd != nil {
				t.Errorf("results with an error: %+v, %+v", got, cmd)
			}
			if !strings.Contains(be.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", be.Reason, tt.reason)
			}
			if err.Error() != "invalid broadcast: "+be.Reason {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestParseBroadcastLimits(t *testing.T) {
	batch := func(n int) []byte {
		var b strings.Builder
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"stream":"s%d","data":"%d"}`, i, i)
		}
		b.WriteByte(']')
		return []byte(b.String())
	}
	if got, _, err := ParseBroadcast(batch(DefaultMaxBatch), BroadcastLimits{}); err != nil || len(got) != DefaultMaxBatch {
		t.Errorf("default max batch: %d, %v", len(got), err)
	}
	if _, _, err := ParseBroadcast(batch(DefaultMaxBatch+1), BroadcastLimits{}); err == nil || !strings.Contains(err.Error(), "more than 1000 elements") {
		t.Errorf("over default max batch: %v", err)
	}
	if _, _, err := ParseBroadcast(batch(3), BroadcastLimits{MaxBatch: 2}); err == nil {
		t.Error("MaxBatch 2 accepted 3")
	}
	// The limit is enforced before the rest of the body is read, even if
	// that rest is invalid.
	if _, _, err := ParseBroadcast([]byte(`[{"stream":"a"},{"stream":"b"},{`), BroadcastLimits{MaxBatch: 2}); err == nil || !strings.Contains(err.Error(), "more than 2") {
		t.Errorf("early limit: %v", err)
	}
	long := `{"stream":"` + strings.Repeat("a", 2000) + `"}`
	if _, _, err := ParseBroadcast([]byte(long), BroadcastLimits{MaxStreamLen: 2000}); err != nil {
		t.Errorf("MaxStreamLen 2000: %v", err)
	}
	if _, _, err := ParseBroadcast([]byte(long), BroadcastLimits{MaxStreamLen: 1999}); err == nil {
		t.Error("MaxStreamLen 1999 accepted 2000 bytes")
	}
}

func FuzzParseBroadcast(f *testing.F) {
	for _, s := range []string{
		`{"stream":"chat_42","data":"{\"text\":\"Hello\"}","meta":{"exclude_socket":"sid","transient":true,"broadcast_type":"custom"}}`,
		`[{"stream":"a","data":"1"},{"stream":"b"}]`,
		`{"command":"disconnect","payload":{"identifier":"u","reconnect":true}}`,
		`{"stream":"a\nb"}`, `{"stream":"a","meta":{"broadcast_type":"x\r"}}`,
		`[]`, `{}`, `null`, `[1`, `{"stream":"a"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		lim := BroadcastLimits{MaxBatch: 5, MaxStreamLen: 64}
		bs, cmd, err := ParseBroadcast(body, lim)
		if err != nil {
			var be *BroadcastError
			if !errors.As(err, &be) || be.Reason == "" || bs != nil || cmd != nil {
				t.Fatalf("error %v with results %v %v", err, bs, cmd)
			}
			return
		}
		if (len(bs) > 0) == (cmd != nil) {
			t.Fatalf("want exactly one result: %v %v", bs, cmd)
		}
		if len(bs) > lim.MaxBatch {
			t.Fatalf("%d broadcasts over the limit", len(bs))
		}
		for _, b := range bs {
			if err := ValidStreamName(b.Stream, lim.MaxStreamLen); err != nil {
				t.Fatalf("accepted stream %q: %v", b.Stream, err)
			}
			if strings.ContainsAny(b.Stream, "\r\n\x00") || strings.ContainsAny(b.Meta.BroadcastType, "\r\n\x00") {
				t.Fatalf("accepted control characters: %+v", b)
			}
		}
		if cmd != nil && (cmd.Command != CommandDisconnect || cmd.Identifier == "") {
			t.Fatalf("bad command %+v", cmd)
		}
	})
}
