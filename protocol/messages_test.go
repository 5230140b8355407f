package protocol

import "testing"

func TestNormalizeData(t *testing.T) {
	cases := []struct {
		in      string
		unwrap  string // what a GET data line carries
		asValue string // the "message" value in full JSON
	}{
		{`{"text":"Hello","b":1,"a":2}`, `{"a":2,"b":1,"text":"Hello"}`, `{"a":2,"b":1,"text":"Hello"}`},
		{`"plain"`, `plain`, `"plain"`},
		{`"\"quoted\""`, `"quoted"`, `"\"quoted\""`},
		{`null`, `null`, `"null"`},
		{``, ``, `""`},
		{`not json {`, `not json {`, `"not json {"`},
		{`0 apples`, `0 apples`, `"0 apples"`},
		{`{"a":1} {"b":2}`, `{"a":1} {"b":2}`, `"{\"a\":1} {\"b\":2}"`},
		{` {"ws": 1} `, `{"ws":1}`, `{"ws":1}`},
		{`12345678901234567890`, `12345678901234567890`, `12345678901234567890`},
		{`{"html":"<b>&</b>"}`, `{"html":"\u003cb\u003e\u0026\u003c/b\u003e"}`, `{"html":"\u003cb\u003e\u0026\u003c/b\u003e"}`},
		{"plain text\nline2", "plain text\nline2", `"plain text\nline2"`},
	}
	for _, c := range cases {
		d := NormalizeData(c.in)
		if got := string(d.AppendUnwrapped(nil)); got != c.unwrap {
			t.Errorf("%q unwrapped: got %q, want %q", c.in, got, c.unwrap)
		}
		if got := string(d.AppendValue(nil)); got != c.asValue {
			t.Errorf("%q as value: got %q, want %q", c.in, got, c.asValue)
		}
	}
}

func TestReplyJSON(t *testing.T) {
	cases := []struct {
		r    Reply
		want string
	}{
		{Reply{Type: TypeWelcome, Sid: "abc"}, `{"type":"welcome","sid":"abc"}`},
		{Reply{Type: TypeDisconnect, Reason: ReasonRemote, ForceReconnect: true}, `{"type":"disconnect","reason":"remote","reconnect":false}`},
		{Reply{Type: TypeDisconnect, Reason: ReasonServerRestart, Reconnect: true, ForceReconnect: true}, `{"type":"disconnect","reason":"server_restart","reconnect":true}`},
		{Reply{Identifier: `{"channel":"C"}`, Message: NormalizeData(`{"n":4}`), HasMessage: true, StreamID: "room/1", Epoch: "B4v2", Offset: 4},
			`{"identifier":"{\"channel\":\"C\"}","message":{"n":4},"stream_id":"room/1","epoch":"B4v2","offset":4}`},
		{Reply{Type: TypePing, RawMessage: []byte("1694041735")}, `{"type":"ping","message":1694041735}`},
		{Reply{Identifier: "x", HasMessage: true}, `{"identifier":"x","message":""}`},
	}
	for _, c := range cases {
		if got := string(c.r.AppendJSON(nil)); got != c.want {
			t.Errorf("got %s\nwant %s", got, c.want)
		}
	}
}

func TestParseTransmission(t *testing.T) {
	for in, want := range map[string]string{
		`{"type":"confirm_subscription","identifier":"{\"channel\":\"C\"}","extra":1}`: `{"type":"confirm_subscription","identifier":"{\"channel\":\"C\"}"}`,
		`{"message":"hi"}`: `{"message":"hi"}`,
		`{"type":"disconnect","reason":"unauthorized","reconnect":false}`: `{"type":"disconnect","reason":"unauthorized"}`,
	} {
		r, ok := ParseTransmission(in)
		if !ok || string(r.AppendJSON(nil)) != want {
			t.Errorf("%s: %v %s, want %s", in, ok, r.AppendJSON(nil), want)
		}
	}
	for _, bad := range []string{`not json`, `"str"`, `[1]`, `{"a":1} x`} {
		if _, ok := ParseTransmission(bad); ok {
			t.Errorf("%s accepted", bad)
		}
	}
}

func FuzzNormalizeData(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `"x"`, `null`, `0 apples`, "a\nb", `[1,2]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := NormalizeData(s)
		if d.IsText() {
			// Text is the input itself, or the decoded JSON string.
			return
		}
		// A JSON value re-encodes to itself.
		again := NormalizeData(string(d.JSON))
		if string(again.JSON) != string(d.JSON) {
			t.Fatalf("%q -> %q -> %q", s, d.JSON, again.JSON)
		}
	})
}
