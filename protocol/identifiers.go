package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Channels the module handles itself instead of asking the application.
const (
	ChannelPubSub     = "$pubsub"
	ChannelTurbo      = "Turbo::StreamsChannel"
	ChannelCableReady = "CableReady::Stream"
)

// The identifiers below are byte-identical to the ones AnyCable builds with
// Go's map encoding: keys in byte order (channel < identifier <
// signed_stream_name < stream_name), compact, with <, > and & escaped as
// \u003c, \u003e and \u0026 and invalid UTF-8 replaced by U+FFFD. Apps compare
// these strings, so the bytes matter.

// PubSubStreamIdentifier is the identifier of a public stream (?stream=).
func PubSubStreamIdentifier(stream string) string {
	return `{"channel":"$pubsub","stream_name":` + jsonQuote(stream) + `}`
}

// PubSubSignedIdentifier is the identifier of a signed stream (?signed_stream=).
func PubSubSignedIdentifier(signed string) string {
	return `{"channel":"$pubsub","signed_stream_name":` + jsonQuote(signed) + `}`
}

// TurboIdentifier is the identifier of a Turbo stream (?turbo_signed_stream_name=).
func TurboIdentifier(signed string) string {
	return `{"channel":"Turbo::StreamsChannel","signed_stream_name":` + jsonQuote(signed) + `}`
}

// ChannelIdentifier is the identifier of a channel without parameters (?channel=).
func ChannelIdentifier(name string) string {
	return `{"channel":` + jsonQuote(name) + `}`
}

func jsonQuote(s string) string {
	return string(appendJSONQuoted(make([]byte, 0, len(s)+2), s))
}

// appendJSONQuoted appends s as a JSON string, byte for byte as encoding/json
// writes it (<, >, &, U+2028 and U+2029 escaped, invalid UTF-8 bytes replaced
// by U+FFFD), without allocating.
func appendJSONQuoted(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, needs no escaping
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// IdentifierInfo holds the keys of an identifier that decide routing.
// A key that is absent or not a JSON string is "".
type IdentifierInfo struct {
	Channel string
	// StreamName is "stream_name" ($pubsub public stream).
	StreamName string
	// SignedStreamName is "signed_stream_name" ($pubsub signed, Turbo).
	SignedStreamName string
	// CableReadyIdentifier is "identifier", where CableReady::Stream keeps
	// its signed name.
	CableReadyIdentifier string
}

// ParseIdentifier reads the routing keys of an identifier. It reports false
// when id is not a JSON object. Keys match exactly (case-sensitive), as the
// application sees them.
func ParseIdentifier(id string) (IdentifierInfo, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(id), &m); err != nil || m == nil {
		return IdentifierInfo{}, false
	}
	return IdentifierInfo{
		Channel:              rawString(m["channel"]),
		StreamName:           rawString(m["stream_name"]),
		SignedStreamName:     rawString(m["signed_stream_name"]),
		CableReadyIdentifier: rawString(m["identifier"]),
	}, true
}

// rawString returns the string a raw JSON value holds, or "" if it is not a
// JSON string.
func rawString(raw json.RawMessage) string {
	s, _ := decodeRawString(raw)
	return s
}

// decodeRawString decodes raw as a JSON string; ok is false for any other
// JSON value (including null) and for absent values.
func decodeRawString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// ValidStreamName checks a stream name before it is subscribed to or
// published on. It must be non-empty, valid UTF-8, free of CR, LF and NUL
// (they would end or void the SSE "id:" line the name is written into), and at
// most maxLen bytes long (maxLen <= 0: no limit).
//
// Invalid UTF-8 is refused because such a name cannot round-trip: publishers
// and the application send JSON, whose decoding replaces invalid bytes, and
// browsers decode event ids as UTF-8, so a subscription to it would never
// receive anything nor resume.
func ValidStreamName(name string, maxLen int) error {
	switch {
	case name == "":
		return errors.New("stream name is empty")
	case maxLen > 0 && len(name) > maxLen:
		return fmt.Errorf("stream name is longer than %d bytes", maxLen)
	case strings.ContainsAny(name, "\r\n\x00"):
		return errors.New("stream name contains CR, LF or NUL")
	case !utf8.ValidString(name):
		return errors.New("stream name is not valid UTF-8")
	}
	return nil
}
