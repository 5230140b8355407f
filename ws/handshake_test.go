package ws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gws "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

const rfcKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 §1.3 example

func upgradeRequest(method string, set map[string]string) *http.Request {
	r := httptest.NewRequest(method, "/cable", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", rfcKey)
	for k, v := range set {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	return r
}

// The refusals of spec §2.2, in anycable-go's order of checks.
func TestCheckUpgradeRefusals(t *testing.T) {
	noOrigin := func(r *http.Request) bool { return r.Header.Get("Origin") == "http://example.com" }
	cases := []struct {
		name   string
		method string
		set    map[string]string
		status int
	}{
		{"plain GET", "GET", map[string]string{"Connection": "", "Upgrade": ""}, 400},
		{"no upgrade token", "GET", map[string]string{"Connection": "keep-alive"}, 400},
		{"upgrade to something else", "GET", map[string]string{"Upgrade": "h2c"}, 400},
		{"POST without upgrade headers", "POST", map[string]string{"Connection": "", "Upgrade": ""}, 400},
		{"POST upgrade", "POST", nil, 405},
		{"version 8", "GET", map[string]string{"Sec-WebSocket-Version": "8"}, 400},
		{"no version", "GET", map[string]string{"Sec-WebSocket-Version": ""}, 400},
		{"origin refused before the key is checked", "GET", map[string]string{"Origin": "http://evil.com", "Sec-WebSocket-Key": ""}, 403},
		{"no key", "GET", map[string]string{"Origin": "http://example.com", "Sec-WebSocket-Key": ""}, 400},
		{"key not base64", "GET", map[string]string{"Origin": "http://example.com", "Sec-WebSocket-Key": "not a key!"}, 400},
		{"key of 15 bytes", "GET", map[string]string{"Origin": "http://example.com", "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA"}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := CheckUpgrade(upgradeRequest(c.method, c.set), noOrigin)
			var he *HandshakeError
			if !errors.As(err, &he) || he.Status != c.status {
				t.Fatalf("got %v, want status %d", err, c.status)
			}
		})
	}
}

func TestCheckUpgradeAccepts(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]string
		want Handshake
	}{
		{"plain", nil, Handshake{Key: rfcKey}},
		{"token lists and case", map[string]string{"Connection": "keep-alive, UPGRADE", "Upgrade": "WebSocket"}, Handshake{Key: rfcKey}},
		{"Rails client", map[string]string{"Sec-WebSocket-Protocol": "actioncable-v1-json, actioncable-unsupported"}, Handshake{Key: rfcKey, Subprotocol: protocol.SubprotocolV1}},
		{"AnyCable ext", map[string]string{"Sec-WebSocket-Protocol": "actioncable-v1-ext-json"}, Handshake{Key: rfcKey, Subprotocol: protocol.SubprotocolExt}},
		{"JWT in subprotocol", map[string]string{"Sec-WebSocket-Protocol": "actioncable-v1-json, anycable-token.a.b.c"}, Handshake{Key: rfcKey, Subprotocol: protocol.SubprotocolV1, Token: "a.b.c"}},
		{"deflate offered, not negotiated", map[string]string{"Sec-WebSocket-Extensions": "permessage-deflate"}, Handshake{Key: rfcKey}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := CheckUpgrade(upgradeRequest("GET", c.set), nil)
			if err != nil || h != c.want {
				t.Fatalf("got %+v, %v; want %+v", h, err, c.want)
			}
		})
	}
}

// Spec §2.4: the server's preference wins; neither offered → accepted as v1.
func TestNegotiateSubprotocol(t *testing.T) {
	cases := []struct {
		offered  []string
		selected string
		ext      bool
	}{
		{[]string{"actioncable-v1-json"}, "actioncable-v1-json", false},
		{[]string{"actioncable-v1-ext-json"}, "actioncable-v1-ext-json", true},
		{[]string{"actioncable-v1-ext-json, actioncable-v1-json"}, "actioncable-v1-json", false},
		{[]string{"actioncable-v1-ext-json", "actioncable-v1-json"}, "actioncable-v1-json", false}, // two header lines
		{[]string{"foo, actioncable-v1-json"}, "actioncable-v1-json", false},
		{[]string{"actioncable-v1-json, actioncable-unsupported"}, "actioncable-v1-json", false},
		{[]string{"actioncable-unsupported"}, "", false},
		{[]string{"foo"}, "", false},
		{nil, "", false},
		{[]string{"ACTIONCABLE-V1-JSON"}, "", false}, // subprotocols are case-sensitive (RFC 6455 §4.1)
		{[]string{" actioncable-v1-ext-json ,foo"}, "actioncable-v1-ext-json", true},
	}
	for _, c := range cases {
		sel, _ := NegotiateSubprotocol(c.offered)
		h := Handshake{Subprotocol: sel}
		if sel != c.selected || h.Ext() != c.ext {
			t.Errorf("%q: selected %q ext=%v, want %q ext=%v", c.offered, sel, h.Ext(), c.selected, c.ext)
		}
	}
	if _, tok := NegotiateSubprotocol([]string{"anycable-token.first, anycable-token.second"}); tok != "first" {
		t.Errorf("token %q", tok)
	}
}

// The response bytes of a refusal, as anycable-go sends them (spec §2.2).
func TestWriteRefusal(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
	}{{400, "Bad Request\n"}, {403, "Forbidden\n"}, {405, "Method Not Allowed\n"}} {
		rec := httptest.NewRecorder()
		WriteRefusal(rec, &HandshakeError{Status: c.status})
		h := rec.Header()
		if rec.Code != c.status || rec.Body.String() != c.body ||
			h.Get("Sec-Websocket-Version") != "13" ||
			h.Get("Content-Type") != "text/plain; charset=utf-8" ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%d: got %d %q %v", c.status, rec.Code, rec.Body.String(), h)
		}
	}
}

func TestAppendAcceptResponse(t *testing.T) {
	extra := http.Header{}
	extra.Set(protocol.HeaderAnyCableVersion, "1.6.16")
	h := Handshake{Key: rfcKey, Subprotocol: protocol.SubprotocolV1}
	got := string(AppendAcceptResponse(nil, &h, extra))
	want := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: actioncable-v1-json\r\n" +
		"X-Anycable-Version: 1.6.16\r\n" +
		"\r\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	h.Subprotocol = ""
	got = string(AppendAcceptResponse(nil, &h, http.Header{"X-Evil": {"a\r\nInjected: 1"}}))
	if strings.Contains(got, "Sec-WebSocket-Protocol") || strings.Contains(got, "\r\nInjected") {
		t.Errorf("got\n%s", got)
	}
}

// The whole path the module takes: check, hijack through
// http.ResponseController, write the 101 and the welcome in one write,
// then read the client's messages with a Reader. The client is gobwas/ws's
// own dialer, so both ends are checked against an independent
// implementation.
func TestHijackedConnectionEndToEnd(t *testing.T) {
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := CheckUpgrade(r, nil)
		if err != nil {
			WriteRefusal(w, err)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if brw.Reader.Buffered() > 0 {
			t.Error("client bytes before the 101")
		}
		extra := http.Header{protocol.HeaderAnyCableVersion: {"1.6.16"}}
		out := AppendAcceptResponse(nil, &h, extra)
		welcome := protocol.Reply{Type: protocol.TypeWelcome, Sid: "s1"}
		out = AppendTextFrame(out, welcome.AppendJSON(nil))
		if _, err := conn.Write(out); err != nil {
			t.Error(err)
			return
		}
		var rd Reader
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			msg, err := rd.ReadMessage(conn, func(f []byte) { conn.Write(f) })
			var ce *CloseError
			if errors.As(err, &ce) {
				conn.Write(AppendCloseFrame(nil, ce.Code, ce.Reason))
				got <- "closed"
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			if msg != nil {
				got <- string(msg)
			}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := gws.Dialer{Protocols: []string{protocol.SubprotocolExt, protocol.SubprotocolV1}}
	conn, br, hs, err := d.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/cable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if hs.Protocol != protocol.SubprotocolV1 {
		t.Errorf("negotiated %q", hs.Protocol)
	}
	var rd io.Reader = conn
	if br != nil {
		rd = io.MultiReader(br, conn)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{rd, conn}
	msg, op, err := wsutil.ReadServerData(rw)
	if err != nil || op != gws.OpText || string(msg) != `{"type":"welcome","sid":"s1"}` {
		t.Fatalf("welcome: %q %v %v", msg, op, err)
	}
	if err := wsutil.WriteClientText(conn, []byte(`{"command":"subscribe","identifier":"x"}`)); err != nil {
		t.Fatal(err)
	}
	// A ping is answered by the server through the pong callback.
	if err := wsutil.WriteClientMessage(conn, gws.OpPing, []byte("hb")); err != nil {
		t.Fatal(err)
	}
	if err := wsutil.WriteClientBinary(conn, []byte(`{"command":"pong"}`)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"command":"subscribe","identifier":"x"}`, `{"command":"pong"}`} {
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("server read %q, want %q", m, want)
			}
		case <-ctx.Done():
			t.Fatal("timeout")
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	ph, err := gws.ReadHeader(rd)
	payload := make([]byte, ph.Length)
	if err == nil {
		_, err = io.ReadFull(rd, payload)
	}
	if err != nil || ph.OpCode != gws.OpPong || ph.Masked || string(payload) != "hb" {
		t.Fatalf("pong: %+v %q %v", ph, payload, err)
	}
	if err := wsutil.WriteClientMessage(conn, gws.OpClose, gws.NewCloseFrameBody(1000, "")); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m != "closed" {
		t.Fatalf("got %q", m)
	}
}
