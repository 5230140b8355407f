package sse

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// subscribeCommand is one subscription a client asked for.
type subscribeCommand struct {
	identifier string
	// history asked inside a POST command (GET history comes from the
	// Last-Event-ID header, last_event_id and history_since).
	history *protocol.HistoryParams
}

// parsedRequest is what the handshake needs from the HTTP request.
type parsedRequest struct {
	mode     Mode
	raw      bool
	commands []subscribeCommand
	lastID   string
	since    int64
}

// requestError is a refusal decided while parsing: status and a short reason
// for the response header and the log.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

func badRequest(reason string) error {
	return &requestError{status: http.StatusBadRequest, reason: reason}
}

// isTruthy is AnyCable's reading of raw=: true, 1, t or y in any case.
func isTruthy(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "t", "y":
		return true
	}
	return false
}

func (s *Server) parseRequest(r *http.Request) (*parsedRequest, error) {
	q := r.URL.Query()
	p := &parsedRequest{raw: isTruthy(q.Get("raw"))}
	if r.Method == http.MethodPost {
		p.mode = ModePOST
		body, err := io.ReadAll(io.LimitReader(r.Body, s.Opts.MaxPostBody+1))
		if err != nil {
			return nil, badRequest("reading body: " + err.Error())
		}
		if int64(len(body)) > s.Opts.MaxPostBody {
			return nil, badRequest("body over " + strconv.FormatInt(s.Opts.MaxPostBody, 10) + " bytes")
		}
		cmds, err := protocol.ParseJSONL(body)
		if err != nil {
			return nil, badRequest(err.Error())
		}
		for _, c := range cmds {
			if len(c.Identifier) > s.Opts.MaxIdentifier {
				return nil, badRequest("identifier too long")
			}
			p.commands = append(p.commands, subscribeCommand{identifier: c.Identifier, history: c.History})
		}
		return p, nil
	}

	p.mode = ModeGET
	id, err := s.identifierFromQuery(q)
	if err != nil {
		return nil, err
	}
	p.commands = []subscribeCommand{{identifier: id}}
	p.lastID = r.Header.Get("Last-Event-ID")
	if p.lastID == "" {
		p.lastID = q.Get("last_event_id")
	}
	if v := q.Get("history_since"); v != "" {
		since, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badRequest("history_since must be Unix seconds")
		}
		p.since = since
	}
	return p, nil
}

// identifierFromQuery builds the one GET subscription. First non-empty wins:
// identifier, channel, stream, signed_stream, turbo_signed_stream_name.
func (s *Server) identifierFromQuery(q url.Values) (string, error) {
	var id string
	switch {
	case q.Get("identifier") != "":
		id = q.Get("identifier")
	case q.Get("channel") != "":
		id = protocol.ChannelIdentifier(q.Get("channel"))
	case q.Get("stream") != "":
		id = protocol.PubSubStreamIdentifier(q.Get("stream"))
	case q.Get("signed_stream") != "":
		id = protocol.PubSubSignedIdentifier(q.Get("signed_stream"))
	case q.Get("turbo_signed_stream_name") != "":
		id = protocol.TurboIdentifier(q.Get("turbo_signed_stream_name"))
	default:
		return "", badRequest("no subscription: give identifier, channel, stream, signed_stream or turbo_signed_stream_name")
	}
	if len(id) > s.Opts.MaxIdentifier {
		return "", badRequest("identifier too long")
	}
	return id, nil
}

// requestID is the client's X-Request-ID when it is a sane token, for log
// lines only (beside the sid); empty otherwise.
func requestID(r *http.Request) string {
	if v := r.Header.Get("X-Request-ID"); v != "" && len(v) <= 128 && printableToken(v) {
		return v
	}
	return ""
}

func limitKey(info RequestInfo) string {
	if info.LimitKey != "" {
		return info.LimitKey
	}
	return info.RemoteAddr
}

func printableToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\' {
			return false
		}
	}
	return true
}
