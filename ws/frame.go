package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// Opcodes of the frames the server writes (RFC 6455 §5.2).
const (
	opText  byte = 0x1
	opClose byte = 0x8
	opPong  byte = 0xA
	finBit  byte = 0x80
)

// maxControlPayload is the RFC's limit on a control frame's payload.
const maxControlPayload = 125

// MaxFrameHeaderSize is the longest header of a server frame (no mask).
const MaxFrameHeaderSize = 10

// AppendTextFrame appends one final, unmasked text frame carrying payload.
// Server frames are never masked, so the result is the same for every
// client: build it once per message and write it to each subscriber.
func AppendTextFrame(dst, payload []byte) []byte {
	dst = appendHeader(dst, opText, len(payload))
	return append(dst, payload...)
}

// TextFrameSize is len(AppendTextFrame(nil, payload)) for a payload of n
// bytes, to size a buffer before building the frame.
func TextFrameSize(n int) int {
	switch {
	case n < 126:
		return 2 + n
	case n <= 0xFFFF:
		return 4 + n
	}
	return 10 + n
}

// AppendCloseFrame appends a close frame with code and reason. Code 0
// writes an empty body (the answer to a client close that had no code).
// The reason is cut at a UTF-8 boundary to fit the 125-byte control frame
// limit.
func AppendCloseFrame(dst []byte, code uint16, reason string) []byte {
	if code == 0 {
		return appendHeader(dst, opClose, 0)
	}
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	dst = appendHeader(dst, opClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}

// appendPongFrame appends the pong answering a ping with payload (at most
// 125 bytes, checked by the reader).
func appendPongFrame(dst, payload []byte) []byte {
	dst = appendHeader(dst, opPong, len(payload))
	return append(dst, payload...)
}

// appendHeader appends a final, unmasked frame header.
func appendHeader(dst []byte, op byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, finBit|op, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, finBit|op, 126)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	}
	dst = append(dst, finBit|op, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}
