//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
)

// ErrLineTooLong is returned by Parser.Next when one line of the stream does
// not fit in the parser's maximum buffer.
var ErrLineTooLong = errors.New("sse: line too long")

// Event is one dispatched SSE event. Its slices alias the parser's buffers
// and are valid until the next call to Next.
type Event struct {
	// Type is the event type; "message" when the event had no (or an empty)
	// event field.
	Type []byte
	// Data is the data buffer with its final LF removed: the values of the
	// event's data fields joined by LF.
	Data []byte
	// ID is the stream's last event ID buffer at dispatch time (it persists
	// across events until an id field changes it).
	ID []byte
}

var eventTypeMessage = []byte("message")

// Parser reads text/event-stream as the WHATWG HTML "event stream
// interpretation" says: a leading BOM is skipped, lines end in CRLF, LF or a
// lone CR, lines starting with ':' are comments, "field: value" loses one
// space after the colon, data values are joined by LF, a blank line
// dispatches, an event with an empty data buffer is not dispatched, an id
// containing NUL is ignored, retry is set only from ASCII digits, and an
// incomplete event at the end of the stream is discarded.
//
// It is built to run on thousands of connections at once: one buffer that
// lines are sliced from (no per-line allocation, no regexp), grown only for
// lines longer than it.
type Parser struct {
	r       io.Reader
	buf     []byte
	start   int // first unread byte
	end     int // end of the buffered bytes
	maxSize int
	err     error // sticky read error, returned once the buffer is drained

	bomDone bool
	skipLF  bool // the last line ended in CR at the buffer's end

	typ  []byte
	data []byte
	id   []byte

	// Retry is the last valid retry field in milliseconds, -1 if none.
	Retry int64
	// Comments counts comment lines (keep-alives such as ": ping").
	Comments uint64
}

// NewParser returns a parser reading r with an initial buffer of size bytes
// that may grow to max bytes for a long line.
func NewParser(r io.Reader, size, max int) *Parser {
	if size < 16 {
		size = 16
	}
	if max < size {
		max = size
	}
	return &Parser{r: r, buf: make([]byte, size), maxSize: max, Retry: -1}
}

// Next returns the next dispatched event, or the read error that ended the
// stream (io.EOF for a clean end). An event still being built when the
// stream ends is discarded, as the spec says.
func (p *Parser) Next() (Event, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if len(p.data) == 0 {
				p.typ = p.typ[:0]
				continue
			}
			ev := Event{Type: p.typ, Data: p.data[:len(p.data)-1], ID: p.id}
			if len(ev.Type) == 0 {
				ev.Type = eventTypeMessage
			}
			p.typ = p.typ[:0]
			p.data = p.data[:0]
			return ev, nil
		}
		if line[0] == ':' {
			p.Comments++
			continue
		}
		field, value := line, line[:0]
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], line[c+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) { // does not allocate
		case "event":
			p.typ = append(p.typ[:0], value...)
		case "data":
			p.data = append(p.data, value...)
			p.data = append(p.data, '\n')
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.id = append(p.id[:0], value...)
			}
		case "retry":
			if n, ok := parseDigits(value); ok {
				p.Retry = n
			}
		}
	}
}

// parseDigits parses a non-empty run of ASCII digits.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// readLine returns the next line without its terminator. The slice aliases
// the buffer and is valid until the next call.
func (p *Parser) readLine() ([]byte, error) {
	for {
		if p.skipLF && p.start < p.end {
			if p.buf[p.start] == '\n' {
				p.start++
			}
			p.skipLF = false
		}
		if !p.bomDone {
			b := p.buf[p.start:p.end]
			n := len(b)
			if n > len(bom) {
				n = len(bom)
			}
			switch {
			case !bytes.Equal(b[:n], bom[:n]):
				p.bomDone = true
			case n == len(bom):
				p.start += len(bom)
				p.bomDone = true
			case p.err != nil:
				p.bomDone = true
			}
		}
		if p.bomDone {
			b := p.buf[p.start:p.end]
			lf := bytes.IndexByte(b, '\n')
			var cr int
			if lf >= 0 {
				cr = bytes.IndexByte(b[:lf], '\r')
			} else {
				cr = bytes.IndexByte(b, '\r')
			}
			if cr >= 0 {
				line := b[:cr]
				switch {
				case cr+1 == len(b):
					p.start += cr + 1
					p.skipLF = true // a LF may follow in the next read
				case b[cr+1] == '\n':
					p.start += cr + 2
				default:
					p.start += cr + 1
				}
				return line, nil
			}
			if lf >= 0 {
				p.start += lf + 1
				return b[:lf], nil
			}
		}
		if p.err != nil {
			return nil, p.err
		}
		if err := p.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, compacting or growing the buffer first.
func (p *Parser) fill() error {
	if p.start > 0 {
		n := copy(p.buf, p.buf[p.start:p.end])
		p.start, p.end = 0, n
	}
	if p.end == len(p.buf) {
		if len(p.buf) >= p.maxSize {
			return ErrLineTooLong
		}
		size := 2 * len(p.buf)
		if size > p.maxSize {
			size = p.maxSize
		}
		nb := make([]byte, size)
		copy(nb, p.buf[:p.end])
		p.buf = nb
	}
	// A reader may return 0, nil; give it a bounded number of tries.
	for i := 0; i < 100; i++ {
		n, err := p.r.Read(p.buf[p.end:])
		p.end += n
		if err != nil {
			p.err = err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	p.err = io.ErrNoProgress
	return nil
}
