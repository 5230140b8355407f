package protocol

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFormatEventID(t *testing.T) {
	// Spec §12.5 and §12.6 transcripts.
	tests := []struct {
		p    StreamPosition
		want string
	}{
		{StreamPosition{Stream: "room/1", Epoch: "B4v2", Offset: 2}, "2/B4v2/room/1"},
		{StreamPosition{Stream: "chat/42", Epoch: "mhrC", Offset: 1}, "1/mhrC/chat/42"},
		{StreamPosition{Stream: "a", Epoch: "-5Kd", Offset: 1}, "1/-5Kd/a"},
		{StreamPosition{Stream: "s", Epoch: "E", Offset: 18446744073709551615}, "18446744073709551615/E/s"},
	}
	for _, tt := range tests {
		if got := FormatEventID(tt.p); got != tt.want {
			t.Errorf("FormatEventID(%+v) = %s, want %s", tt.p, got, tt.want)
		}
		if got := string(AppendEventID([]byte("id: "), tt.p)); got != "id: "+tt.want {
			t.Errorf("AppendEventID = %s", got)
		}
	}
}

func TestValidEpoch(t *testing.T) {
	for _, e := range []string{"B4v2", "-5Kd", "mhrC", "1700000000000-0", ""} {
		if err := ValidEpoch(e); err != nil {
			t.Errorf("ValidEpoch(%q) = %v", e, err)
		}
	}
	for _, e := range []string{"a/b", "a\n", "\r", "a\x00", "\x9c"} {
		if ValidEpoch(e) == nil {
			t.Errorf("ValidEpoch(%q) accepted", e)
		}
	}
}

func TestParseLastEventID(t *testing.T) {
	pos := func(offset uint64, epoch, stream string) []StreamPosition {
		return []StreamPosition{{Stream: stream, Epoch: epoch, Offset: offset}}
	}
	tests := []struct {
		name  string
		v     string
		known []string
		want  []StreamPosition
		err   bool
	}{
		{"empty", "", nil, nil, false},
		// spec §2.6
		{"spec: stream with slash", "2/B4v2/room/1", []string{"room/1"}, pos(2, "B4v2", "room/1"), false},
		{"spec: unknown streams default to offset/epoch/stream", "2/B4v2/room/1", nil, pos(2, "B4v2", "room/1"), false},
		{"spec: stream not subscribed is still parsed", "2/B4v2/other", []string{"room/1"}, pos(2, "B4v2", "other"), false},
		{"spec: fewer than 3 parts ignored", "4", nil, nil, false},
		{"spec: two parts ignored", "4/B4v2", []string{"B4v2"}, nil, false},
		{"spec: bad offset", "x/B4v2/room/1", nil, nil, true},
		{"negative offset", "-1/E/s", nil, nil, true},
		{"plus offset", "+1/E/s", nil, nil, true},
		{"empty offset", "/E/s", nil, nil, true},
		{"offset overflow", "18446744073709551616/E/s", nil, nil, true},
		{"max offset", "18446744073709551615/E/s", nil, pos(18446744073709551615, "E", "s"), false},
		{"zero offset", "0/E/s", nil, pos(0, "E", "s"), false},
		// the documented (wrong) order, accepted when the stream is known
		{"docs order", "2/room/B4v2", []string{"room"}, pos(2, "B4v2", "room"), false},
		{"docs order, stream with slash", "2/room/1/B4v2", []string{"room/1"}, pos(2, "B4v2", "room/1"), false},
		{"docs order, unknown stream", "2/room/B4v2", []string{"chat"}, pos(2, "room", "B4v2"), false},
		{"real order wins when both read as known", "3/a/b", []string{"a", "b"}, pos(3, "a", "b"), false},
		{"empty epoch", "1//s", []string{"s"}, pos(1, "", "s"), false},
		{"empty stream", "1/E/", nil, pos(1, "E", ""), false},
		{"CR", "1/E/s\rdata: x", nil, nil, true},
		{"LF", "1/E/s\n", nil, nil, true},
		{"NUL", "1/E\x00/s", nil, nil, true},
		{"not multi: other version", "m2:W10", nil, nil, false},
		{"multi", "m1:W1siYSIsIkUiLDFdLFsicm9vbS8xIiwiQjR2MiIsMl1d", nil,
			[]StreamPosition{{Stream: "a", Epoch: "E", Offset: 1}, {Stream: "room/1", Epoch: "B4v2", Offset: 2}}, false},
		{"multi empty", FormatMultiEventID(nil), nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLastEventID(tt.v, tt.known)
			if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLastEventID(%q, %q) = %+v, %v; want %+v, err=%v", tt.v, tt.known, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseMultiEventIDErrors(t *testing.T) {
	m1 := func(js string) string { return "m1:" + base64.RawURLEncoding.EncodeToString([]byte(js)) }
	for _, v := range []string{
		"m1:",
		"m1:!!!",
		"m1:W10=", // padded
		"m1:" + base64.StdEncoding.EncodeToString([]byte(`[["a+?","E",1]]`)), // std alphabet
		m1(`{}`),
		m1(`null`),
		m1(`[1]`),
		m1(`[null]`),
		m1(`[["a","E"]]`),
		m1(`[["a","E",1,2]]`),
		m1(`[["","E",1]]`),
		m1(`[[1,"E",1]]`),
		m1(`[["a",null,1]]`),
		m1(`[["a","E",-1]]`),
		m1(`[["a","E",1.5]]`),
		m1(`[["a","E",1e3]]`),
		m1(`[["a","E","1"]]`),
		m1(`[["a","E",null]]`),
		m1(`[["a","E",18446744073709551616]]`),
		m1(`[["a\n","E",1]]`),
		m1(`[["a","E\r",1]]`),
		m1(`[["a","E",1],["a","F",2]]`),
		m1(`[["a","E",1]] x`),
	} {
		if got, err := ParseLastEventID(v, nil); err == nil {
			t.Errorf("ParseLastEventID(%q) = %+v, want an error", v, got)
		}
	}
}

func TestMultiEventIDRoundTrip(t *testing.T) {
	ps := []StreamPosition{
		{Stream: "room/1", Epoch: "B4v2", Offset: 2},
		{Stream: `q"\<>&é` + "\t\x01", Epoch: "a/b", Offset: 0},
		{Stream: "s", Epoch: "", Offset: 18446744073709551615},
	}
	id := FormatMultiEventID(ps)
	if !strings.HasPrefix(id, "m1:") || strings.ContainsAny(id[3:], "/+=") {
		t.Fatalf("id %q is not m1: + unpadded base64url", id)
	}
	got, err := ParseLastEventID(id, nil)
	if err != nil || !reflect.DeepEqual(got, ps) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// Invalid UTF-8 (which ValidStreamName and ValidEpoch refuse) becomes
	// U+FFFD, as encoding/json writes it. Found by FuzzParseLastEventID.
	got, err = ParseLastEventID(FormatMultiEventID([]StreamPosition{{Stream: "a\xffb", Epoch: "\x9c", Offset: 1}}), nil)
	if err != nil || got[0].Stream != "a\uFFFDb" || got[0].Epoch != "\uFFFD" {
		t.Fatalf("invalid UTF-8: %+v, %v", got, err)
	}
}

func TestAppendMultiEventIDNoAlloc(t *testing.T) {
	ps := []StreamPosition{{"room/1", "B4v2", 2}, {"chat_42", "B4v2", 17}, {"é", "x", 3}}
	want := FormatMultiEventID(ps)
	buf := make([]byte, 0, 256)
	buf = append(buf, "id: "...)
	if got := string(AppendMultiEventID(buf, ps)); got != "id: "+want {
		t.Fatalf("AppendMultiEventID = %q, want %q", got, "id: "+want)
	}
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendMultiEventID(buf[:0], ps)
	})
	if allocs != 0 {
		t.Errorf("AppendMultiEventID allocates %.0f times with a reused buffer", allocs)
	}
	// Nothing is written past the returned length: a caller's data in the
	// spare capacity survives.
	backing := make([]byte, 300)
	for i := range backing {
		backing[i] = '#'
	}
	out := AppendMultiEventID(backing[:4:300], ps)
	for i, c := range backing[len(out):] {
		if c != '#' {
			t.Fatalf("byte %d past the result was overwritten", len(out)+i)
		}
	}
}

func FuzzParseLastEventID(f *testing.F) {
	f.Add("2/B4v2/room/1", "room/1", "B4v2", uint64(2), "b", "E")
	f.Add("2/room/1/B4v2", "room/1", "", uint64(0), "b/c", "")
	f.Add("m1:W1siYSIsIkUiLDFdXQ", "a", "E", uint64(1), "a/E", "1")
	f.Add("x/y/z", "z", "y", uint64(18446744073709551615), "", "")
	f.Add("m1:", "\xff", "/", uint64(7), "\n", "\r")
	f.Fuzz(func(t *testing.T, v, stream, epoch string, offset uint64, stream2, epoch2 string) {
		// Arbitrary input: no panic, and nothing that could break a frame.
		ps, err := ParseLastEventID(v, []string{stream, stream2})
		if err == nil {
			for _, p := range ps {
				if strings.ContainsAny(p.Stream+p.Epoch, "\r\n\x00") {
					t.Fatalf("ParseLastEventID(%q) = %+v", v, ps)
				}
			}
		}

		p := StreamPosition{Stream: stream, Epoch: epoch, Offset: offset}
		if ValidStreamName(stream, 0) != nil || ValidEpoch(epoch) != nil {
			return
		}
		// Single ids round-trip whether or not the stream is known.
		id := FormatEventID(p)
		for _, known := range [][]string{nil, {stream}, {stream, stream2}} {
			got, err := ParseLastEventID(id, known)
			if err != nil || len(got) != 1 || got[0] != p {
				t.Fatalf("ParseLastEventID(%q, %q) = %+v, %v; want %+v", id, known, got, err, p)
			}
		}
		// Multi ids round-trip.
		ps = []StreamPosition{p}
		if stream2 != stream && ValidStreamName(stream2, 0) == nil && utf8.ValidString(epoch2) && !strings.ContainsAny(epoch2, "\r\n\x00") {
			ps = append(ps, StreamPosition{Stream: stream2, Epoch: epoch2, Offset: offset / 3})
		}
		id = FormatMultiEventID(ps)
		if strings.ContainsAny(id, "\r\n\x00/") {
			t.Fatalf("multi id %q", id)
		}
		got, err := ParseLastEventID(id, nil)
		if err != nil || !reflect.DeepEqual(got, ps) {
			t.Fatalf("ParseLastEventID(FormatMultiEventID(%+v)) = %+v, %v", ps, got, err)
		}
	})
}

func TestEncodeRawURLInPlace(t *testing.T) {
	src := []byte("[[\"room/1\",\"B4v2\",2]]\xff\x00\xfe<>?~")
	for n := 0; n <= len(src); n++ {
		want := base64.RawURLEncoding.EncodeToString(src[:n])
		b := make([]byte, len(want))
		copy(b, src[:n])
		encodeRawURLInPlace(b, n)
		if string(b) != want {
			t.Errorf("n=%d: %q, want %q", n, b, want)
		}
	}
}
