package sse

import (
	"net/http"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/conn"
)

// An HTTP/1.1 stream does not need net/http once its header is out: it is
// taken over and written by the shared pool (package conn), with no
// goroutine and no net/http buffers of its own while idle.

type takeOverResult int

const (
	notTakenOver takeOverResult = iota // nothing written: serve on the handler path
	headerSent                         // header and backlog written, hijack refused
	takenOver
)

// takeOver hands an HTTP/1.1 stream to the writer pool after its header and
// backlog went out through net/http. When the connection cannot be taken
// over, the caller serves it on the handler path.
func (s *Server) takeOver(w http.ResponseWriter, st *Stream, onEnd func(reason string)) takeOverResult {
	c := st.c
	rc := http.NewResponseController(w)
	// The header and the backlog (bounded by max_pending) go out through
	// net/http under the write timeout: a client that reads nothing must
	// not hold this goroutine.
	if s.Opts.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(s.Opts.WriteTimeout))
	}
	w.WriteHeader(http.StatusOK)
	backlog, _ := c.Take()
	for _, b := range backlog {
		if _, err := w.Write(b); err != nil {
			return headerSent
		}
	}
	c.GiveBack(backlog)
	if err := rc.Flush(); err != nil {
		return headerSent
	}
	nc, brw, err := rc.Hijack()
	if err != nil {
		if ce := s.Log.Check(zapcore.DebugLevel, "connection cannot be taken over; serving it on the handler path"); ce != nil {
			ce.Write(zap.Error(err))
		}
		return headerSent
	}
	// Everything went through the flush; the buffers net/http hands over
	// are not used (dropping them is the point).
	if brw != nil && brw.Writer.Buffered() > 0 {
		_ = brw.Writer.Flush()
	}
	s.Writers.Adopt(c, nc, conn.TakeOver{
		PingInterval: s.Opts.PingInterval,
		WriteTimeout: s.Opts.WriteTimeout,
		SendBuffer:   s.Opts.SendBuffer,
		OnEnd:        onEnd,
	})
	return takenOver
}

// canTakeOver says whether a request's connection can leave net/http after
// its header: HTTP/1.1, over plain TCP or TLS. HTTP/1.0 has no chunked
// framing; HTTP/2 and HTTP/3 streams share their connection. A TLS
// connection is taken over only where the pool never starts a TLS write the
// socket cannot take (conn.TLSTakeoverSupported: crypto/tls breaks a
// connection after a timed-out write). Where the OS has no non-blocking peek
// (conn.TakeoverSupported), every stream stays here.
func (s *Server) canTakeOver(r *http.Request) bool {
	return conn.TakeoverSupported && s.Writers != nil && r.ProtoMajor == 1 && r.ProtoAtLeast(1, 1) &&
		(r.TLS == nil || conn.TLSTakeoverSupported)
}
