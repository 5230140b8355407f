package protocol

import (
	"encoding/json"
	"testing"
)

// Server messages of the WebSocket transport, byte for byte as anycable-go
// 1.6.16 wrote them in the spec's transcripts (§4.1, §4.3, §11).
func TestWebSocketRepliesMatchTranscripts(t *testing.T) {
	const chat = `{"channel":"ChatChannel","room":1}`
	const r1 = `{"channel":"$pubsub","stream_name":"r1"}`
	cases := []struct {
		name string
		r    Reply
		want string
	}{
		{"welcome §11.5", Reply{Type: TypeWelcome, Sid: "WZi_IOfujVvecgMj4uOEK"},
			`{"type":"welcome","sid":"WZi_IOfujVvecgMj4uOEK"}`},
		{"restored welcome §11.5", Reply{Type: TypeWelcome, Sid: "cskbYQ0ODwVWJyOrv1UK0", Restored: true, RestoredIDs: []string{r1}},
			`{"type":"welcome","sid":"cskbYQ0ODwVWJyOrv1UK0","restored":true,"restored_ids":["{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}"]}`},
		{"restored welcome, two ids", Reply{Type: TypeWelcome, Sid: "s", Restored: true, RestoredIDs: []string{r1, chat}},
			`{"type":"welcome","sid":"s","restored":true,"restored_ids":["{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}","{\"channel\":\"ChatChannel\",\"room\":1}"]}`},
		// No subscription to restore: the list is written empty rather
		// than left out, so a client can iterate it.
		{"restored welcome, no ids", Reply{Type: TypeWelcome, Sid: "s", Restored: true},
			`{"type":"welcome","sid":"s","restored":true,"restored_ids":[]}`},
		{"ping §11.6", PingReply(1796322482), `{"type":"ping","message":1796322482}`},
		{"ping ms §4.4", PingReply(1796322457015), `{"type":"ping","message":1796322457015}`},
		{"pong §11.6", Reply{Type: TypePong}, `{"type":"pong"}`},
		{"confirm_subscription §11.5", Reply{Type: TypeConfirmSubscription, Identifier: r1},
			`{"type":"confirm_subscription","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}"}`},
		{"reject_subscription §4.1", Reply{Type: TypeRejectSubscription, Identifier: r1},
			`{"type":"reject_subscription","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}"}`},
		{"confirm_history §11.5", Reply{Type: TypeConfirmHistory, Identifier: r1},
			`{"type":"confirm_history","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}"}`},
		{"reject_history §11.5", Reply{Type: TypeRejectHistory, Identifier: r1},
			`{"type":"reject_history","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}"}`},
		{"broadcast §11.4", Reply{Identifier: chat, Message: NormalizeData(`{"text":"<hi>","b":1,"a":2.5}`), HasMessage: true, StreamID: "chat", Epoch: "DQOC", Offset: 7},
			`{"identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","message":{"a":2.5,"b":1,"text":"\u003chi\u003e"},"stream_id":"chat","epoch":"DQOC","offset":7}`},
		{"broadcast text §4.3", Reply{Identifier: chat, Message: NormalizeData(`plain`), HasMessage: true, StreamID: "chat", Epoch: "DQOC", Offset: 8},
			`{"identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","message":"plain","stream_id":"chat","epoch":"DQOC","offset":8}`},
		{"transient broadcast §4.3", Reply{Identifier: chat, Message: NormalizeData(`{"t":1}`), HasMessage: true},
			`{"identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","message":{"t":1}}`},
		{"typed broadcast §4.3", Reply{Type: "custom", Identifier: chat, Message: NormalizeData(`{"t":2}`), HasMessage: true, StreamID: "chat", Epoch: "DQOC", Offset: 9},
			`{"type":"custom","identifier":"{\"channel\":\"ChatChannel\",\"room\":1}","message":{"t":2},"stream_id":"chat","epoch":"DQOC","offset":9}`},
		{"history message §11.5", Reply{Identifier: r1, Message: NormalizeData(`{"n":4}`), HasMessage: true, StreamID: "r1", Epoch: "udIE", Offset: 4},
			`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"r1\"}","message":{"n":4},"stream_id":"r1","epoch":"udIE","offset":4}`},
		{"no_pong §11.6", DisconnectReply(ReasonNoPong, true), `{"type":"disconnect","reason":"no_pong","reconnect":true}`},
		{"remote §11.8", DisconnectReply(ReasonRemote, false), `{"type":"disconnect","reason":"remote","reconnect":false}`},
		{"server_restart §11.8", DisconnectReply(ReasonServerRestart, true), `{"type":"disconnect","reason":"server_restart","reconnect":true}`},
		{"token_expired §11.2", DisconnectReply(ReasonTokenExpired, false), `{"type":"disconnect","reason":"token_expired","reconnect":false}`},
		{"unauthorized §11.2", DisconnectReply(ReasonUnauthorized, false), `{"type":"disconnect","reason":"unauthorized","reconnect":false}`},
		{"too_slow §4.6", DisconnectReply(ReasonTooSlow, true), `{"type":"disconnect","reason":"too_slow","reconnect":true}`},
	}
	for _, c := range cases {
		if got := string(c.r.AppendJSON(nil)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// A deliberate difference (quirk Q11): anycable-go turns the published 2.50
// into 2.5 (it goes through float64); the module keeps the number's digits.
func TestBroadcastKeepsNumberDigits(t *testing.T) {
	r := Reply{Identifier: "x", Message: NormalizeData(`{"text":"<hi>","b":1,"a":2.50}`), HasMessage: true}
	const want = `{"identifier":"x","message":{"a":2.50,"b":1,"text":"\u003chi\u003e"}}`
	if got := string(r.AppendJSON(nil)); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// The closes of spec §4.6, with 1006 replaced by a legal code (Q2).
func TestCloseVocabulary(t *testing.T) {
	for _, c := range []struct {
		got  Close
		code uint16
		text string
	}{
		{CloseAuthFailed, 1000, "Auth Failed"},
		{CloseAuthError, 1011, "Auth Error"},
		{CloseCommandFailed, 1000, "Command Failed"},
		{CloseRemote, 1000, "Closed remotely"},
		{CloseServerRestart, 1001, "Server restart"},
		{CloseNoPong, 1000, "No Pong"},
		{CloseTooSlow, 1000, ""},
		{CloseTooBig, 1009, ""},
	} {
		if c.got.Code != c.code || c.got.Reason != c.text {
			t.Errorf("%+v, want %d %q", c.got, c.code, c.text)
		}
	}
}

func TestWelcomeWithSid(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"type":"welcome"}`, `{"type":"welcome","sid":"s1"}`},
		// The app's formatting is kept (§2.7: a passed-through welcome).
		{`{"type": "welcome"} `, `{"type": "welcome","sid":"s1"} `},
		{`{"type":"welcome","sid":"app"}`, `{"type":"welcome","sid":"app"}`},
		{`{"type":"welcome","sid":null}`, `{"type":"welcome","sid":null}`},
		{`{"type":"confirm_subscription","identifier":"x"}`, `{"type":"confirm_subscription","identifier":"x"}`},
		{`not json`, `not json`},
		{`["welcome"]`, `["welcome"]`},
		{`{"type":"welcome"} {"x":1}`, `{"type":"welcome"} {"x":1}`},
	} {
		if got := WelcomeWithSid(c.in, "s1"); got != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
	if got := WelcomeWithSid(`{"type":"welcome"}`, `a"<b`); got != `{"type":"welcome","sid":"a\"\u003cb"}` {
		t.Errorf("sid escaping: %s", got)
	}
}

func FuzzWelcomeWithSid(f *testing.F) {
	for _, s := range []string{`{"type":"welcome"}`, `{"type": "welcome", "x": [1]} `, `{"type":"welcome","sid":"a"}`, `x`} {
		f.Add(s, "sid-1")
	}
	f.Fuzz(func(t *testing.T, in, sid string) {
		out := WelcomeWithSid(in, sid)
		if out == in {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatalf("%q -> %q: %v", in, out, err)
		}
		want := string([]rune(sid)) // invalid UTF-8 becomes U+FFFD
		if obj["type"] != TypeWelcome || obj["sid"] != want {
			t.Fatalf("%q -> %q", in, out)
		}
	})
}
