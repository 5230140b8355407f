package ws

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"unicode/utf8"

	gws "github.com/gobwas/ws"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// DefaultMaxMessageSize is anycable-go's limit on a client message: 65536
// bytes are read, one more is closed with 1009 (spec §7).
const DefaultMaxMessageSize = 65536

// readBufferSize is the size of the pooled buffers reads borrow.
const readBufferSize = 4096

// Reader reads the client messages of one connection. The zero value is
// ready; a Reader is used by one goroutine at a time.
//
// Between reads it holds no buffer: only the bytes read past the last
// message (a client that sent two messages at once), and the first frames
// of a fragmented message not yet complete.
type Reader struct {
	// MaxMessageSize limits a message (all its fragments); 0 means
	// DefaultMaxMessageSize.
	MaxMessageSize int

	pending    []byte // read from the connection, not parsed yet
	fragments  []byte // unmasked payload of a fragmented message so far
	fragmented bool   // a non-final data frame was read
}

// CloseError ends a connection with a close handshake: the caller writes
// AppendCloseFrame(nil, e.Code, e.Reason) and closes the connection.
type CloseError struct {
	// Code and Reason are the close frame to send; Code 0 means an empty
	// close body (the client's close had no code).
	Code   uint16
	Reason string
	// Peer reports that the client sent a close frame; Code echoes its
	// code, as anycable-go does.
	Peer bool
	// Cause says what the client did wrong ("" when Peer).
	Cause string
}

func (e *CloseError) Error() string {
	if e.Peer {
		return fmt.Sprintf("websocket: client closed (%d)", e.Code)
	}
	return fmt.Sprintf("websocket: %s (closing with %d)", e.Cause, e.Code)
}

// Buffered reports whether the reader holds bytes it has not parsed yet:
// then the next ReadMessage can make progress without the connection
// becoming readable again, so call it at once.
func (r *Reader) Buffered() bool { return len(r.pending) > 0 }

// Feed hands the reader bytes the client sent that were read before it
// (what net/http buffered past the upgrade request); they are parsed
// first.
func (r *Reader) Feed(b []byte) {
	r.pending = append(r.pending, b...)
}

// ReadMessage reads frames from conn until one of:
//   - a data message is complete: its payload, unmasked, fragments joined.
//     Binary messages are returned like text ones (anycable-go decodes
//     both alike) and text is not checked for UTF-8 (neither is it there);
//   - only control frames or part of a fragmented message were read and
//     nothing else is buffered: (nil, nil), wait for readability again;
//   - the client closed or broke the protocol: a *CloseError;
//   - conn failed: its error (io.EOF, a deadline: the caller sets the
//     read deadline, which bounds how long a truncated frame can stall).
//
// For each client ping, pong receives the pong frame to send (the caller
// owns the slice and writes it with the connection's other frames); a nil
// pong writes it to conn directly. Client pongs are read and dropped.
//
// A single frame is read whole before ReadMessage returns; memory grows as
// the payload arrives, never on the length the client declares. Any error
// leaves the byte stream out of step: close the connection after it.
//
// With an edge-triggered readiness set, drain before waiting again: call
// again while Buffered() reports bytes, and while the socket itself still
// has some (a read takes at most 4 KiB from it).
func (r *Reader) ReadMessage(conn net.Conn, pong func(frame []byte)) ([]byte, error) {
	rb := readBuffers.Get().(*readBuffer)
	old := r.pending
	rb.src = source{conn: conn, pending: old}
	rb.br.Reset(&rb.src)
	r.pending = nil
	msg, err := r.readMessage(rb, conn, pong)
	r.keepUnread(rb, old)
	rb.src = source{}
	rb.br.Reset(nil)
	readBuffers.Put(rb)
	return msg, err
}

func (r *Reader) readMessage(rb *readBuffer, conn net.Conn, pong func([]byte)) ([]byte, error) {
	max := r.MaxMessageSize
	if max <= 0 {
		max = DefaultMaxMessageSize
	}
	for {
		h, err := gws.ReadHeaderBuffer(&rb.br, rb.hdr[:])
		if err != nil {
			if errors.Is(err, gws.ErrHeaderLengthMSB) || errors.Is(err, gws.ErrHeaderLengthUnexpected) {
				return nil, protocolError(err.Error())
			}
			return nil, eofIsUnexpected(err, false)
		}
		state := gws.StateServerSide
		if r.fragmented {
			state = state.Set(gws.StateFragmented)
		}
		if err := gws.CheckHeader(h, state); err != nil {
			return nil, protocolError(err.Error())
		}
		if h.OpCode.IsData() || h.OpCode == gws.OpContinuation {
			if h.Length > int64(max-len(r.fragments)) {
				r.fragments, r.fragmented = nil, false
				return nil, &CloseError{Code: protocol.CloseTooBig.Code, Reason: protocol.CloseTooBig.Reason,
					Cause: fmt.Sprintf("message larger than %d bytes", max)}
			}
			start := len(r.fragments)
			payload, err := readPayload(&rb.br, r.fragments, int(h.Length))
			if err != nil {
				r.fragments, r.fragmented = nil, false
				return nil, err
			}
			gws.Cipher(payload[start:], h.Mask, 0)
			if h.Fin {
				r.fragments, r.fragmented = nil, false
				if payload == nil {
					payload = []byte{}
				}
				return payload, nil
			}
			r.fragments, r.fragmented = payload, true
		} else {
			// A control frame: at most 125 bytes (CheckHeader).
			body := rb.ctl[:h.Length]
			if _, err := io.ReadFull(&rb.br, body); err != nil {
				return nil, eofIsUnexpected(err, true)
			}
			gws.Cipher(body, h.Mask, 0)
			switch h.OpCode {
			case gws.OpClose:
				return nil, closeFromPeer(body)
			case gws.OpPing:
				frame := appendPongFrame(make([]byte, 0, 2+len(body)), body)
				if pong != nil {
					pong(frame)
				} else if _, err := conn.Write(frame); err != nil {
					return nil, err
				}
			}
		}
		if rb.br.Buffered() == 0 && len(rb.src.pending) == 0 {
			return nil, nil
		}
	}
}

// readPayload appends n payload bytes to dst, growing it as they arrive.
func readPayload(br *bufio.Reader, dst []byte, n int) ([]byte, error) {
	if n == 0 {
		return dst, nil
	}
	for n > 0 {
		chunk := min(n, readBufferSize)
		if dst == nil && n <= readBufferSize {
			dst = make([]byte, 0, n) // the common case: one exact allocation
		}
		dst = slices.Grow(dst, chunk)
		got, err := io.ReadFull(br, dst[len(dst):len(dst)+chunk])
		dst = dst[:len(dst)+got]
		if err != nil {
			return nil, eofIsUnexpected(err, true)
		}
		n -= chunk
	}
	return dst, nil
}

// closeFromPeer checks a client close body (RFC 6455 §5.5.1, §7.4) and
// returns the close to answer with.
func closeFromPeer(body []byte) error {
	switch {
	case len(body) == 0:
		return &CloseError{Peer: true}
	case len(body) == 1:
		return protocolError("close frame with a 1-byte body")
	}
	code := binary.BigEndian.Uint16(body)
	reason := string(body[2:])
	if err := gws.CheckCloseFrameData(gws.StatusCode(code), reason); err != nil {
		if !utf8.ValidString(reason) {
			return &CloseError{Code: protocol.CloseInvalidPayload, Cause: err.Error()}
		}
		return protocolError(err.Error())
	}
	return &CloseError{Code: code, Peer: true}
}

func protocolError(cause string) error {
	return &CloseError{Code: protocol.CloseProtocolError, Cause: cause}
}

// eofIsUnexpected turns an EOF inside a frame into io.ErrUnexpectedEOF;
// an EOF before a frame starts stays io.EOF (a clean hang-up).
func eofIsUnexpected(err error, inFrame bool) error {
	if inFrame && err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// keepUnread saves what the borrowed buffer read past the message. The
// previous pending slice is reused when it is large enough (a client that
// sent many messages at once is drained without an allocation per
// message); once everything is parsed the reader lets go of it.
func (r *Reader) keepUnread(rb *readBuffer, old []byte) {
	buffered := rb.br.Buffered()
	n := buffered + len(rb.src.pending)
	if n == 0 {
		return
	}
	p := old[:0]
	if cap(p) < n {
		p = make([]byte, 0, n)
	}
	p = p[:n]
	// src.pending is a suffix of old: move it into place first (copy
	// handles the overlap), then put the buffered bytes before it.
	copy(p[buffered:], rb.src.pending)
	peeked, _ := rb.br.Peek(buffered)
	copy(p, peeked)
	r.pending = p
}

// readBuffer is what one read borrows.
type readBuffer struct {
	br  bufio.Reader
	src source
	hdr [gws.MaxHeaderSize - 2]byte
	ctl [maxControlPayload]byte
}

var readBuffers = sync.Pool{New: func() any {
	rb := new(readBuffer)
	rb.br = *bufio.NewReaderSize(nil, readBufferSize)
	return rb
}}

// source reads the bytes a previous read left over, then the connection.
type source struct {
	conn    net.Conn
	pending []byte
}

func (s *source) Read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	return s.conn.Read(p)
}
