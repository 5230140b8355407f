package conn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// A TLS connection is taken over like a plain one, but crypto/tls cannot
// write in slices: a write that times out leaves the tls.Conn broken for
// good (it records the error), and a record half written cannot be resumed
// by encrypting it again. So a writer never starts a TLS write that the
// socket cannot take at once. It asks the kernel how much room the send
// buffer has (sendRoom), then
//
//   - writes the whole flush on the pool writer when it fits;
//   - otherwise gives the connection a goroutine of its own (detach): the
//     writer does the blocking write under the full write timeout and a
//     new writer takes its place in the pool. Detached writers are bounded
//     (maxDetached); past the bound, the writer writes the part that fits
//     and keeps the rest for a retry, as a stalled plain write.
//
// Should the estimate be wrong and a write block anyway, a watchdog detaches
// the writer after stallSlice, so the pool keeps its writers either way. A
// TLS write that times out ends the connection as too_slow: the tls.Conn is
// closed, never written again.

// maxDetached bounds the goroutines blocked in a TLS write each (a few KiB
// of stack each): a mass of stalled clients cannot make more. Pool.maxDetached
// starts at it.
const maxDetached = 512

// minTLSWrite is the least a writer writes of a flush that does not fit,
// so that a client reading slowly does not get a record per few bytes.
const minTLSWrite = 4 << 10

var (
	// errTLSStalled: the socket had no room for (the rest of) a TLS flush;
	// nothing is broken, the rest is retried as a stalled plain write is.
	errTLSStalled = fmt.Errorf("tls write: socket send buffer full: %w", os.ErrDeadlineExceeded)
	// errTLSPartial: part of a TLS flush went out, the socket had no room
	// for the rest: retried at once, as the client is reading.
	errTLSPartial = fmt.Errorf("tls write: socket send buffer full after a part: %w", errTLSStalled)
	// errTLSTimedOut: a TLS write ran past the write timeout; the tls.Conn
	// is unusable from now on.
	errTLSTimedOut = errors.New("tls write: write timeout passed")
)

// Writer states: a writer that detached leaves the pool once its flush is
// done (another writer took its place).
const (
	writerIdle int32 = iota
	writerWriting
	writerDetached
)

// writer is one goroutine of the pool and its scratch.
type writer struct {
	pool     *Pool
	state    atomic.Int32
	watchdog *time.Timer
	bufs     net.Buffers
}

func (w *Pool) newWriter() *writer {
	wr := &writer{pool: w}
	wr.watchdog = time.AfterFunc(time.Hour, func() { wr.detach() })
	wr.watchdog.Stop()
	return wr
}

// detach gives this writer's place in the pool to a new writer: it is
// writing, and may block up to the write timeout on one connection. False
// past maxDetached, or when the write is over already.
func (wr *writer) detach() bool {
	w := wr.pool
	if w.detached.Add(1) > w.maxDetached {
		w.detached.Add(-1)
		return false
	}
	if !wr.state.CompareAndSwap(writerWriting, writerDetached) {
		w.detached.Add(-1)
		return false
	}
	w.detachedWrites.Add(1)
	go w.run()
	return true
}

// writeTLS writes bufs to a taken-over TLS connection without ever starting
// a write the socket cannot take (see above). It returns what is left and
// errTLSStalled (errTLSPartial) when the socket had no room for all of it.
// A connection already cut for slowness (cut) never gets a writer of its
// own: its last bytes go out only if the socket takes them.
func (c *Conn) writeTLS(wr *writer, bufs net.Buffers, cut bool) (net.Buffers, error) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	n := total
	wr.state.Store(writerWriting)
	room, known := sendRoom(c.raw)
	switch {
	case !known || tlsFits(room, total):
		wr.watchdog.Reset(stallSlice)
	case !cut && wr.detach():
		// A goroutine of its own: the write below may block.
	default:
		n = min(total, tlsPlainRoom(room))
		if n < min(total, minTLSWrite) {
			// A CAS: a late watchdog of an earlier write may have detached
			// this writer meanwhile, and then it must leave the pool.
			wr.state.CompareAndSwap(writerWriting, writerIdle)
			return bufs, errTLSStalled
		}
		wr.watchdog.Reset(stallSlice)
	}
	// The write timeout counts from the first stall, as for a plain write.
	start := c.stallSince
	if start.IsZero() {
		start = time.Now()
	}
	timeout := c.writeTimeout
	if timeout <= 0 {
		timeout = stallSlice
	}
	_ = c.tls.SetWriteDeadline(start.Add(timeout))
	err := writeGathered(c.tls, bufs, n)
	wr.watchdog.Stop()
	wr.state.CompareAndSwap(writerWriting, writerIdle)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return bufs, errTLSTimedOut
		}
		return bufs, err
	}
	rest := consumeBuffers(bufs, n)
	if len(rest) > 0 {
		return rest, errTLSPartial
	}
	return rest, nil
}

// tlsFits reports whether n bytes of plaintext, encrypted, fit in room
// bytes of socket memory. The kernel counts a socket buffer's data plus
// ~1 KiB of overhead per buffer, and every TLS record is a write of its own
// that may start a buffer: crypto/tls's first records carry ~1.2 KiB
// each (then up to 16 KiB), so the estimate takes twice the payload, an
// eighth for record headers and tags, and a buffer's overhead: well on the
// safe side.
func tlsFits(room, n int) bool {
	return 2*n+n/8+1024 <= room
}

// tlsPlainRoom is the plaintext that tlsFits lets into room.
func tlsPlainRoom(room int) int {
	return max(0, (room-1024)*8/17)
}

// tlsScratch holds the buffers a TLS flush is gathered into: one tls.Conn
// Write per 32 KiB (two full records) instead of one record per queued
// frame.
var tlsScratch = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// writeGathered writes the first n bytes of bufs to w in writes of up to 32 KiB.
func writeGathered(w io.Writer, bufs net.Buffers, n int) error {
	p := tlsScratch.Get().(*[]byte)
	defer tlsScratch.Put(p)
	buf := (*p)[:0]
	for _, b := range bufs {
		for len(b) > 0 && n > 0 {
			take := min(len(b), n, cap(buf)-len(buf))
			buf = append(buf, b[:take]...)
			b, n = b[take:], n-take
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		if n == 0 {
			break
		}
	}
	if len(buf) > 0 {
		_, err := w.Write(buf)
		return err
	}
	return nil
}

// consumeBuffers drops the first n bytes of bufs.
func consumeBuffers(bufs net.Buffers, n int) net.Buffers {
	for n > 0 && len(bufs) > 0 {
		if len(bufs[0]) <= n {
			n -= len(bufs[0])
			bufs = bufs[1:]
			continue
		}
		bufs[0] = bufs[0][n:]
		n = 0
	}
	return bufs
}
