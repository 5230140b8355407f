package protocol

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// StreamPosition is the last message a client saw on a stream.
type StreamPosition struct {
	Stream string
	Epoch  string
	Offset uint64
}

// ValidEpoch checks an epoch before it is written into an event id: valid
// UTF-8 without '/' (the id's separator), CR, LF or NUL.
func ValidEpoch(epoch string) error {
	if strings.ContainsAny(epoch, "/\r\n\x00") {
		return errors.New("epoch contains '/', CR, LF or NUL")
	}
	if !utf8.ValidString(epoch) {
		return errors.New("epoch is not valid UTF-8")
	}
	return nil
}

// FormatEventID returns the SSE id AnyCable writes for a stream message:
// "<offset>/<epoch>/<stream>". (AnyCable's docs say "<offset>/<stream>/<epoch>";
// the binary writes this order.) The caller guarantees p.Stream passed
// ValidStreamName and p.Epoch passed ValidEpoch.
func FormatEventID(p StreamPosition) string {
	return string(AppendEventID(nil, p))
}

// AppendEventID appends FormatEventID(p) to dst.
func AppendEventID(dst []byte, p StreamPosition) []byte {
	dst = strconv.AppendUint(dst, p.Offset, 10)
	dst = append(dst, '/')
	dst = append(dst, p.Epoch...)
	dst = append(dst, '/')
	return append(dst, p.Stream...)
}

// MultiEventIDPrefix starts an id carrying several stream positions.
const MultiEventIDPrefix = "m1:"

// FormatMultiEventID returns one id carrying the position of every stream of
// a connection, so that the single Last-Event-ID an EventSource sends back
// restores them all (AnyCable restores only the stream of the last id):
// "m1:" + unpadded base64url of the JSON array of [stream, epoch, offset]
// triples. The result is ASCII without '/', so it survives any header and can
// never be mistaken for a single-stream id.
func FormatMultiEventID(ps []StreamPosition) string {
	return string(AppendMultiEventID(nil, ps))
}

// AppendMultiEventID appends FormatMultiEventID(ps) to dst. It writes
// nothing beyond the returned length and, given a dst with enough capacity,
// does not allocate.
func AppendMultiEventID(dst []byte, ps []StreamPosition) []byte {
	dst = append(dst, MultiEventIDPrefix...)
	start := len(dst)
	dst = appendPositionsJSON(dst, ps)
	n := len(dst) - start
	end := start + base64.RawURLEncoding.EncodedLen(n)
	dst = slices.Grow(dst, end-len(dst))[:end]
	encodeRawURLInPlace(dst[start:end], n)
	return dst
}

const rawURLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// encodeRawURLInPlace replaces the first n bytes of b with their unpadded
// base64url encoding, which fills b (len(b) == RawURLEncoding.EncodedLen(n)).
// Groups are encoded from the last to the first: group i is read from
// b[3i:3i+3] before b[4i:4i+4] is written, and 4i > 3(i-1)+2, so no input
// is overwritten before it is read.
func encodeRawURLInPlace(b []byte, n int) {
	q, r := n/3, n%3
	if r > 0 {
		s, o := 3*q, 4*q
		v := uint(b[s]) << 16
		if r == 2 {
			v |= uint(b[s+1]) << 8
		}
		b[o] = rawURLAlphabet[v>>18&0x3f]
		b[o+1] = rawURLAlphabet[v>>12&0x3f]
		if r == 2 {
			b[o+2] = rawURLAlphabet[v>>6&0x3f]
		}
	}
	for i := q - 1; i >= 0; i-- {
		s, o := 3*i, 4*i
		v := uint(b[s])<<16 | uint(b[s+1])<<8 | uint(b[s+2])
		b[o] = rawURLAlphabet[v>>18&0x3f]
		b[o+1] = rawURLAlphabet[v>>12&0x3f]
		b[o+2] = rawURLAlphabet[v>>6&0x3f]
		b[o+3] = rawURLAlphabet[v&0x3f]
	}
}

func appendPositionsJSON(dst []byte, ps []StreamPosition) []byte {
	dst = append(dst, '[')
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendJSONQuoted(dst, p.Stream)
		dst = append(dst, ',')
		dst = appendJSONQuoted(dst, p.Epoch)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, p.Offset, 10)
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

// ParseLastEventID reads a Last-Event-ID header value into stream positions.
// known lists the streams of the connection; it only decides between the two
// orders of a single-stream id.
//
//   - "" → nil, nil.
//   - "m1:…" → every position of FormatMultiEventID; an error if malformed.
//   - otherwise the value is split on '/' into at most 3 parts. Fewer than 3
//     → nil, nil (ignored, as AnyCable). A first part that is not a uint64 →
//     an error (AnyCable answers 400). Then: if the 3rd part (a stream may
//     contain '/') is a known stream, the id is <offset>/<epoch>/<stream>;
//     else if the rest splits at its last '/' into a known stream and an
//     epoch, it is <offset>/<stream>/<epoch> (the order AnyCable's docs
//     state); else <offset>/<epoch>/<stream>.
//
// A value containing CR, LF or NUL is an error.
func ParseLastEventID(v string, known []string) ([]StreamPosition, error) {
	if v == "" {
		return nil, nil
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return nil, errors.New("last event id contains CR, LF or NUL")
	}
	if rest, ok := strings.CutPrefix(v, MultiEventIDPrefix); ok {
		return parseMultiEventID(rest)
	}
	parts := strings.SplitN(v, "/", 3)
	if len(parts) < 3 {
		return nil, nil
	}
	offset, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("last event id: offset %q is not an unsigned integer", parts[0])
	}
	p := StreamPosition{Offset: offset, Epoch: parts[1], Stream: parts[2]}
	if !slices.Contains(known, p.Stream) {
		tail := v[len(parts[0])+1:]
		i := strings.LastIndexByte(tail, '/')
		if stream := tail[:i]; slices.Contains(known, stream) {
			p.Stream, p.Epoch = stream, tail[i+1:]
		}
	}
	return []StreamPosition{p}, nil
}

func parseMultiEventID(enc string) ([]StreamPosition, error) {
	bad := func(reason string) ([]StreamPosition, error) {
		return nil, errors.New("last event id: malformed " + MultiEventIDPrefix + " id: " + reason)
	}
	js, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return bad("not base64url")
	}
	var triples []json.RawMessage
	if len(js) == 0 || js[0] != '[' || json.Unmarshal(js, &triples) != nil {
		return bad("not a JSON array")
	}
	if len(triples) == 0 {
		return nil, nil
	}
	ps := make([]StreamPosition, 0, len(triples))
	seen := make(map[string]struct{}, len(triples))
	for _, t := range triples {
		var f []json.RawMessage
		if t[0] != '[' || json.Unmarshal(t, &f) != nil || len(f) != 3 {
			return bad("not a list of [stream, epoch, offset]")
		}
		var p StreamPosition
		var ok bool
		if p.Stream, ok = decodeRawString(f[0]); !ok || p.Stream == "" || strings.ContainsAny(p.Stream, "\r\n\x00") {
			return bad("bad stream")
		}
		if p.Epoch, ok = decodeRawString(f[1]); !ok || strings.ContainsAny(p.Epoch, "\r\n\x00") {
			return bad("bad epoch")
		}
		if len(f[2]) == 0 || f[2][0] < '0' || f[2][0] > '9' || json.Unmarshal(f[2], &p.Offset) != nil {
			return bad("bad offset")
		}
		if _, dup := seen[p.Stream]; dup {
			return bad("stream listed twice")
		}
		seen[p.Stream] = struct{}{}
		ps = append(ps, p)
	}
	return ps, nil
}
