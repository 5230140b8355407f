//go:build linux

package main

import (
	"bytes"
	"strconv"
)

// A benchmark payload is a JSON object, sent as the broadcast's data string:
//
//	{"s":<stream index>,"q":<sequence in the stream>,"t":<send time, Unix ns>,"p":"xxx…"}
//
// padded with "p" to the requested size. The module re-encodes data objects
// (its keys come out sorted, "p" first), so the reader finds the fields by
// key, never by position.

var (
	keyStream = []byte(`"s":`)
	keySeq    = []byte(`"q":`)
	keyTime   = []byte(`"t":`)
)

// appendPayload appends the payload JSON; size is the wanted total length
// (the fixed part wins if it is longer).
func appendPayload(dst []byte, stream int, seq uint64, sentNs int64, size int) []byte {
	start := len(dst)
	dst = append(dst, `{"s":`...)
	dst = strconv.AppendInt(dst, int64(stream), 10)
	dst = append(dst, `,"q":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, sentNs, 10)
	dst = append(dst, `,"p":"`...)
	pad := size - (len(dst) - start) - 2 // closing "}
	for i := 0; i < pad; i++ {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// appendQuoted appends the payload as a JSON string literal (the
// broadcast's "data" value): only '"' needs escaping in what appendPayload
// writes.
func appendQuoted(dst, raw []byte) []byte {
	dst = append(dst, '"')
	for _, c := range raw {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// parsePayload extracts stream index, sequence and send time.
func parsePayload(data []byte) (stream int, seq uint64, sentNs int64, ok bool) {
	s, ok1 := intField(data, keyStream)
	q, ok2 := intField(data, keySeq)
	t, ok3 := intField(data, keyTime)
	if !ok1 || !ok2 || !ok3 || s < 0 || q < 0 {
		return 0, 0, 0, false
	}
	return int(s), uint64(q), t, true
}

// intField returns the non-negative integer after key.
func intField(data, key []byte) (int64, bool) {
	i := bytes.Index(data, key)
	if i < 0 {
		return 0, false
	}
	var n int64
	digits := 0
	for _, c := range data[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
		digits++
		if digits > 19 {
			return 0, false
		}
	}
	return n, digits > 0
}
