package sse

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

func testServer() *Server {
	return &Server{Opts: Options{MaxPostBody: 64 << 10, MaxIdentifier: 4 << 10, MaxStreamName: 1 << 10}}
}

func TestIdentifierPrecedence(t *testing.T) {
	s := testServer()
	cases := []struct{ query, want string }{
		{"stream=s1&identifier=" + url.QueryEscape(`{"channel":"$pubsub","stream_name":"s2"}`) + "&channel=Foo", `{"channel":"$pubsub","stream_name":"s2"}`},
		{"stream=s1&channel=Foo", `{"channel":"Foo"}`},
		{"signed_stream=garbage&stream=s1", `{"channel":"$pubsub","stream_name":"s1"}`},
		{"stream=s1&stream=s2", `{"channel":"$pubsub","stream_name":"s1"}`},
		{"turbo_signed_stream_name=x", `{"channel":"Turbo::StreamsChannel","signed_stream_name":"x"}`},
		{"identifier=" + url.QueryEscape(`{ "channel" : "Ws" }`), `{ "channel" : "Ws" }`},
		{"stream=" + url.QueryEscape("a<b>&c"), `{"channel":"$pubsub","stream_name":"a\u003cb\u003e\u0026c"}`},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/events?"+c.query, nil)
		p, err := s.parseRequest(r)
		if err != nil || p.commands[0].identifier != c.want {
			t.Errorf("%s: %v %v, want %s", c.query, err, p, c.want)
		}
	}
	for q, raw := range map[string]bool{"raw=1": true, "raw=TRUE": true, "raw=t": true, "raw=Y": true, "raw=yes": false, "raw=on": false, "": false} {
		r := httptest.NewRequest("GET", "/events?stream=x&"+q, nil)
		p, _ := s.parseRequest(r)
		if p.raw != raw {
			t.Errorf("%s: raw=%v", q, p.raw)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add("stream=a&history_since=5", "1/ep/a", "")
	f.Add("identifier=%7B%22channel%22%3A%22C%22%7D", "", `{"identifier":"x"}`)
	f.Add("channel=C&raw=1", "m1:W10", "")
	f.Fuzz(func(t *testing.T, query, lastID, body string) {
		s := testServer()
		method := "GET"
		if body != "" {
			method = "POST"
		}
		r := httptest.NewRequest(method, "/events", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Last-Event-ID", lastID)
		p, err := s.parseRequest(r)
		if err != nil {
			return
		}
		for _, c := range p.commands {
			if c.identifier == "" || len(c.identifier) > s.Opts.MaxIdentifier {
				t.Fatalf("accepted identifier %q", c.identifier)
			}
			if method == "GET" && !strings.HasPrefix(c.identifier, "{") {
				continue // ?identifier= passes through verbatim
			}
			if method == "GET" && r.URL.Query().Get("identifier") == "" && !json.Valid([]byte(c.identifier)) {
				t.Fatalf("built identifier is not JSON: %q", c.identifier)
			}
		}
		// Whatever the id, parsing it never panics and never yields a
		// position with CR or LF.
		ps, err := protocol.ParseLastEventID(p.lastID, []string{"a"})
		if err == nil {
			for _, pos := range ps {
				if strings.ContainsAny(pos.Stream+pos.Epoch, "\r\n") {
					t.Fatalf("position with a line break: %+v", pos)
				}
			}
		}
	})
}

func FuzzAppendDataLines(f *testing.F) {
	f.Add([]byte("a\r\nb\rc\nd"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out := AppendEvent(nil, "", data, "", 0)
		// Every line of the frame is a data line, and the frame ends the
		// event exactly once: nothing in data can start another field.
		text := string(out)
		if !strings.HasSuffix(text, "\n\n") || strings.Contains(text, "\r") {
			t.Fatalf("frame %q", text)
		}
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n\n"), "\n") {
			if !strings.HasPrefix(line, "data: ") {
				t.Fatalf("line %q in %q", line, text)
			}
		}
	})
}
