package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// goMapJSON is how AnyCable builds identifiers: json.Marshal of a map.
func goMapJSON(m map[string]string) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestIdentifiersSpec(t *testing.T) {
	// Spec §2.5 and §12.4–12.6 transcripts.
	tests := []struct{ got, want string }{
		{PubSubStreamIdentifier("room/1"), `{"channel":"$pubsub","stream_name":"room/1"}`},
		{PubSubStreamIdentifier("a"), `{"channel":"$pubsub","stream_name":"a"}`},
		{PubSubSignedIdentifier(chat42Signed), `{"channel":"$pubsub","signed_stream_name":"` + chat42Signed + `"}`},
		{TurboIdentifier(chat42Signed), `{"channel":"Turbo::StreamsChannel","signed_stream_name":"` + chat42Signed + `"}`},
		{ChannelIdentifier("ChatChannel"), `{"channel":"ChatChannel"}`},
		{PubSubStreamIdentifier("<a&b>"), `{"channel":"$pubsub","stream_name":"\u003ca\u0026b\u003e"}`},
		{PubSubStreamIdentifier(`q"\`), `{"channel":"$pubsub","stream_name":"q\"\\"}`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}

func TestIdentifiersMatchGoMapEncoding(t *testing.T) {
	for _, s := range []string{"", "chat_42", "room/1", "<>&", "é ☃", "\u2028\u2029", "\x00\x1f\x7f", "\xff\xfe", `"\`, "a\nb\r", "Inh+fiI=--79dd"} {
		checks := []struct{ got, want string }{
			{PubSubStreamIdentifier(s), goMapJSON(map[string]string{"channel": ChannelPubSub, "stream_name": s})},
			{PubSubSignedIdentifier(s), goMapJSON(map[string]string{"channel": ChannelPubSub, "signed_stream_name": s})},
			{TurboIdentifier(s), goMapJSON(map[string]string{"channel": ChannelTurbo, "signed_stream_name": s})},
			{ChannelIdentifier(s), goMapJSON(map[string]string{"channel": s})},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%q: got %s, want %s", s, c.got, c.want)
			}
		}
	}
}

func TestAppendJSONQuotedMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `"\/`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>", "é☃😀", "\u2028\u2029\u2027", "\xff", "a\xc3", "\xed\xa0\x80", "\xef\xbf\xbd"} {
		want, _ := json.Marshal(s)
		if got := appendJSONQuoted([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONQuoted(%q) = %s, want %s", s, got[1:], want)
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = appendJSONQuoted(buf[:0], "room/<1>\n é") }); n != 0 {
		t.Errorf("appendJSONQuoted allocates %.0f times", n)
	}
}

func TestParseIdentifier(t *testing.T) {
	tests := []struct {
		id   string
		want IdentifierInfo
		ok   bool
	}{
		{`{"channel":"$pubsub","stream_name":"a"}`, IdentifierInfo{Channel: ChannelPubSub, StreamName: "a"}, true},
		{`{"channel":"$pubsub","signed_stream_name":"x--y","stream_name":"a"}`, IdentifierInfo{Channel: ChannelPubSub, StreamName: "a", SignedStreamName: "x--y"}, true},
		{`{"channel":"Turbo::StreamsChannel","signed_stream_name":"s"}`, IdentifierInfo{Channel: ChannelTurbo, SignedStreamName: "s"}, true},
		{`{"channel":"CableReady::Stream","identifier":"s"}`, IdentifierInfo{Channel: ChannelCableReady, CableReadyIdentifier: "s"}, true},
		{` {"channel" : "ChatChannel", "room": 1} `, IdentifierInfo{Channel: "ChatChannel"}, true},
		{`{"channel":"$pubsub","stream_name":"\u003ca"}`, IdentifierInfo{Channel: ChannelPubSub, StreamName: "<a"}, true},
		// non-string values are absent
		{`{"channel":1,"stream_name":{"a":1},"signed_stream_name":null,"identifier":["x"]}`, IdentifierInfo{}, true},
		// keys are case-sensitive
		{`{"Channel":"X"}`, IdentifierInfo{}, true},
		// last duplicate wins, as in Go and Ruby
		{`{"channel":"A","channel":"B"}`, IdentifierInfo{Channel: "B"}, true},
		{`{}`, IdentifierInfo{}, true},
		// not a JSON object (§11: malformed identifier)
		{`{bad`, IdentifierInfo{}, false},
		{``, IdentifierInfo{}, false},
		{`null`, IdentifierInfo{}, false},
		{`"ChatChannel"`, IdentifierInfo{}, false},
		{`[{"channel":"A"}]`, IdentifierInfo{}, false},
		{`{"channel":"A"} {}`, IdentifierInfo{}, false},
		{`ChatChannel`, IdentifierInfo{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseIdentifier(tt.id)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseIdentifier(%s) = %+v, %v; want %+v, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidStreamName(t *testing.T) {
	tests := []struct {
		name   string
		maxLen int
		ok     bool
	}{
		{"chat_42", 1024, true},
		{"room/1", 1024, true},
		{"Z2lkOi8vYXBwL1VzZXIvMQ:messages", 1024, true},
		{"é ☃ <b>", 1024, true},
		{strings.Repeat("a", 1024), 1024, true},
		{strings.Repeat("a", 1025), 1024, false},
		{strings.Repeat("a", 5000), 0, true}, // no limit
		{"", 1024, false},
		{"a\nb", 1024, false},
		{"a\rb", 1024, false},
		{"a\r\n", 1024, false},
		{"a\x00", 1024, false},
		{"a\ndata: INJECTED\nevent: evil", 1024, false}, // spec §12.10
		{"\xff", 1024, false},
		{"tab\tok", 1024, true},
	}
	for _, tt := range tests {
		err := ValidStreamName(tt.name, tt.maxLen)
		if (err == nil) != tt.ok {
			t.Errorf("ValidStreamName(%q, %d) = %v, want ok=%v", tt.name, tt.maxLen, err, tt.ok)
		}
	}
}

func FuzzParseIdentifier(f *testing.F) {
	f.Add(`{"channel":"$pubsub","stream_name":"a"}`)
	f.Add(`{"channel":"CableReady::Stream","identifier":"x"}`)
	f.Add(`{"channel":1}`)
	f.Add(`{bad`)
	f.Add(`null`)
	f.Add("<&>\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if want, _ := json.Marshal(s); string(appendJSONQuoted(nil, s)) != string(want) {
			t.Fatalf("appendJSONQuoted(%q) = %s, want %s", s, appendJSONQuoted(nil, s), want)
		}
		info, ok := ParseIdentifier(s) // must not panic
		if !ok && info != (IdentifierInfo{}) {
			t.Fatalf("not ok but info %+v", info)
		}
		if !utf8.ValidString(s) {
			return
		}
		// Every identifier we build parses back to what it was built from.
		if got, _ := ParseIdentifier(PubSubStreamIdentifier(s)); got != (IdentifierInfo{Channel: ChannelPubSub, StreamName: s}) {
			t.Fatalf("PubSubStreamIdentifier(%q) parsed to %+v", s, got)
		}
		if got, _ := ParseIdentifier(PubSubSignedIdentifier(s)); got != (IdentifierInfo{Channel: ChannelPubSub, SignedStreamName: s}) {
			t.Fatalf("PubSubSignedIdentifier(%q) parsed to %+v", s, got)
		}
		if got, _ := ParseIdentifier(TurboIdentifier(s)); got != (IdentifierInfo{Channel: ChannelTurbo, SignedStreamName: s}) {
			t.Fatalf("TurboIdentifier(%q) parsed to %+v", s, got)
		}
		if got, _ := ParseIdentifier(ChannelIdentifier(s)); got != (IdentifierInfo{Channel: s}) {
			t.Fatalf("ChannelIdentifier(%q) parsed to %+v", s, got)
		}
		if ValidStreamName(s, 0) == nil && strings.ContainsAny(s, "\r\n\x00") {
			t.Fatalf("ValidStreamName accepted %q", s)
		}
	})
}
