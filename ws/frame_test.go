package ws

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	gws "github.com/gobwas/ws"
)

// The frames built here are the bytes gobwas/ws compiles for the same
// frame, at every length encoding boundary.
func TestAppendTextFrameMatchesGobwas(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		got := AppendTextFrame(nil, payload)
		want := gws.MustCompileFrame(gws.NewTextFrame(payload))
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes: header % x, want % x", n, got[:min(len(got), 10)], want[:min(len(want), 10)])
		}
		if TextFrameSize(n) != len(got) {
			t.Errorf("%d bytes: TextFrameSize %d, frame %d", n, TextFrameSize(n), len(got))
		}
		h, err := gws.ReadHeader(bytes.NewReader(got))
		if err != nil || !h.Fin || h.OpCode != gws.OpText || h.Masked || h.Length != int64(n) {
			t.Errorf("%d bytes: header %+v, %v", n, h, err)
		}
	}
}

// A frame appended after other bytes leaves them alone, so frames can be
// batched into one buffer.
func TestAppendTextFrameAppends(t *testing.T) {
	got := AppendTextFrame([]byte("prefix"), []byte(`{"type":"ping","message":1}`))
	if want := "prefix\x81\x1b" + `{"type":"ping","message":1}`; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAppendCloseFrame(t *testing.T) {
	cases := []struct {
		code   uint16
		reason string
		want   []byte
	}{
		{1000, "Auth Failed", gws.MustCompileFrame(gws.NewCloseFrame(gws.NewCloseFrameBody(1000, "Auth Failed")))},
		{1001, "Server restart", []byte("\x88\x10\x03\xe9Server restart")},
		{1009, "", []byte("\x88\x02\x03\xf1")},
		{0, "ignored", []byte("\x88\x00")},
	}
	for _, c := range cases {
		if got := AppendCloseFrame(nil, c.code, c.reason); !bytes.Equal(got, c.want) {
			t.Errorf("%d %q: % x, want % x", c.code, c.reason, got, c.want)
		}
	}
}

// A reason too long for a control frame is cut to 123 bytes, never inside
// a UTF-8 character.
func TestAppendCloseFrameCutsLongReason(t *testing.T) {
	reason := strings.Repeat("é", 100) // 200 bytes
	f := AppendCloseFrame(nil, 1000, reason)
	h, err := gws.ReadHeader(bytes.NewReader(f))
	if err != nil || h.Length > 125 {
		t.Fatalf("header %+v, %v", h, err)
	}
	got := string(f[4:])
	if len(got) != 122 || !utf8.ValidString(got) || !strings.HasPrefix(reason, got) {
		t.Errorf("reason cut to %d bytes %q", len(got), got)
	}
}
