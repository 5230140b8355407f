package sse

import "testing"

func TestAppendEvent(t *testing.T) {
	cases := []struct {
		name, event, data, id string
		retry                 int64
		want                  string
	}{
		{"typed", "welcome", `{"type":"welcome"}`, "", 0, "event: welcome\ndata: {\"type\":\"welcome\"}\n\n"},
		{"data with id", "", `{"n":1}`, "1/B4v2/room/1", 0, "data: {\"n\":1}\nid: 1/B4v2/room/1\n\n"},
		{"lf split", "", "plain text\nline2", "", 0, "data: plain text\ndata: line2\n\n"},
		{"cr split", "", "a\rb", "", 0, "data: a\ndata: b\n\n"},
		{"crlf split", "", "a\r\nb", "", 0, "data: a\ndata: b\n\n"},
		{"trailing newline", "", "a\n", "", 0, "data: a\ndata: \n\n"},
		{"empty", "", "", "", 0, "data: \n\n"},
		{"turbo", "", "<turbo-stream action=\"append\" target=\"messages\"><template>\n<p>Hi</p>\n</template></turbo-stream>", "1/mhrC/chat/42", 0,
			"data: <turbo-stream action=\"append\" target=\"messages\"><template>\ndata: <p>Hi</p>\ndata: </template></turbo-stream>\nid: 1/mhrC/chat/42\n\n"},
		{"disconnect retry", "disconnect", `{"type":"disconnect","reason":"remote","reconnect":false}`, "", RetryNever,
			"event: disconnect\ndata: {\"type\":\"disconnect\",\"reason\":\"remote\",\"reconnect\":false}\nretry: 31536000000\n\n"},
	}
	for _, c := range cases {
		got := string(AppendEvent(nil, c.event, []byte(c.data), c.id, c.retry))
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}
