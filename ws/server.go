package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/cable"
	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/rpc"
)

// Options are the per-configuration settings of the WebSocket endpoint.
type Options struct {
	// PingInterval between pings; 0 disables them.
	PingInterval time.Duration
	// WriteTimeout is how long a client may stall writes before it is cut.
	WriteTimeout time.Duration
	// MaxPending bounds the bytes queued for one client.
	MaxPending int
	// MaxMessage bounds one client message (close 1009 beyond).
	MaxMessage int
	// MaxStreams bounds the streams one connection follows; 0: none.
	MaxStreams int
	// MaxConnsPerIP bounds open connections per client address; 0: none.
	MaxConnsPerIP int
	// SendBuffer caps the kernel send buffer of the socket; 0: default.
	SendBuffer int
	// OriginOK decides whether an upgrade's Origin is allowed; nil allows
	// every origin.
	OriginOK func(*http.Request) bool
	// RPCHeaders are the lowercased request headers forwarded to the app.
	RPCHeaders []string
	// JWTParam names the token's query parameter; the header is "X-" + it.
	JWTParam string
	// SessionTTL is how long an ext session can be recovered after it
	// ends; 0 turns recovery off.
	SessionTTL time.Duration
	// Version is sent in X-AnyCable-Version.
	Version string
}

// Metrics receives what the WebSocket endpoint counts.
type Metrics interface {
	conn.Metrics
	cable.Metrics
	ConnectionOpened()
	ConnectionClosed(reason string)
	Refused(status int)
	SubscriptionsAdded(n int)
	SubscriptionsRemoved(n int)
}

// RequestInfo is what the web server knows about a request beyond
// http.Request (see sse.RequestInfo).
type RequestInfo struct {
	URL        string
	RemoteAddr string
	LimitKey   string
}

// Server serves the WebSocket endpoint of one handler configuration. The
// hub, registry and writer pool it points at outlive it across reloads.
type Server struct {
	Cable    *cable.Config
	Registry *conn.Registry
	Writers  *conn.Pool
	Opts     Options
	Log      *zap.Logger
	Metrics  Metrics

	// Owned: the connections this configuration opened (CloseAfter on a
	// reload with stream_close_delay).
	conn.Owned
}

// client is one connection being served: its socket, session and reader.
type client struct {
	srv    *Server
	sock   *Socket
	sess   *cable.Session
	nc     net.Conn
	ext    bool
	reader Reader
	// ctx ends when the connection ends: RPC calls of its commands stop.
	ctx    context.Context
	cancel context.CancelFunc
	opened bool
	keep   *time.Timer // refreshes the saved session (ext)
	// polled: the pool's close watch says when to read (plain TCP on
	// Linux); reading and again run one drain at a time (readable).
	polled, reading, again atomic.Bool
	// mu serializes what touches the session after the handshake: a
	// command (on a drain or the reader goroutine), the saved session's
	// refresh, and the end (on the pool's OnEnd goroutine), which may come
	// while a command is running. ended: the end ran, nothing more may.
	mu    sync.Mutex
	ended bool
}

// ServeWebSocket upgrades the request and serves the connection: after the
// 101, authentication (or session recovery), then commands until the end.
// It returns once the connection was handed to the writer pool.
func (s *Server) ServeWebSocket(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	hs, err := CheckUpgrade(r, s.Opts.OriginOK)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	key := info.LimitKey
	if key == "" {
		key = info.RemoteAddr
	}
	sid := cable.NewSID()
	sock := newSocket(sid, key, s.Metrics, s.Opts.MaxPending)
	c := sock.c
	if err := s.Registry.Add(c, s.Opts.MaxConnsPerIP); err != nil {
		status := http.StatusTooManyRequests
		if errors.Is(err, conn.ErrShuttingDown) {
			status = http.StatusServiceUnavailable
		}
		s.refuse(w, r, &HandshakeError{Status: status, Reason: err.Error()})
		return
	}
	if !s.Own(c) {
		s.Registry.Remove(c)
		s.refuse(w, r, &HandshakeError{Status: http.StatusServiceUnavailable, Reason: "configuration replaced"})
		return
	}
	cl := &client{srv: s, sock: sock, sess: cable.New(s.Cable, sock), ext: hs.Ext()}
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	if s.Cable.RPC != nil {
		cl.sess.Env = rpc.Env{URL: info.URL, Headers: s.Cable.EnvHeaders(r.Header, s.Opts.RPCHeaders, info.RemoteAddr, s.Opts.JWTParam)}
	}
	cl.sess.Token = s.token(r, hs)

	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.Log.Error("cannot take the connection over for a WebSocket", zap.Error(err))
		cl.end("hijack_failed")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	cl.nc = nc
	_, isTLS := nc.(*tls.Conn)
	cl.polled.Store(s.Writers.WatchesReads() && !isTLS)
	if brw != nil && brw.Reader.Buffered() > 0 {
		// Frames the client sent right behind its request.
		b, _ := brw.Reader.Peek(brw.Reader.Buffered())
		cl.reader.Feed(b)
	}
	cl.reader.MaxMessageSize = s.Opts.MaxMessage
	extra := http.Header{}
	extra.Set(protocol.HeaderAnyCableVersion, s.Opts.Version)
	if s.Opts.WriteTimeout > 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(s.Opts.WriteTimeout))
	}
	if _, err := nc.Write(AppendAcceptResponse(nil, &hs, extra)); err != nil {
		_ = nc.Close()
		cl.end("client_gone")
		return
	}
	_ = nc.SetDeadline(time.Time{})

	// Authenticate before any command is read: what the client sends
	// meanwhile waits in the socket, in order.
	if !cl.authenticate(r) {
		// The refusal and its close frame are queued; the pool writes them
		// and ends the connection.
		s.Writers.Adopt(c, nc, conn.TakeOver{WriteTimeout: s.Opts.WriteTimeout, OnEnd: func(reason string) { go cl.end(reason) }, OnReadable: func() {}})
		return
	}
	cl.opened = true
	if s.Metrics != nil {
		s.Metrics.ConnectionOpened()
	}
	if ce := s.Log.Check(zapcore.DebugLevel, "websocket connection opened"); ce != nil {
		ce.Write(zap.String("sid", sid), zap.String("subprotocol", hs.Subprotocol))
	}
	if cl.ext && cl.sess.Resumable() && s.Opts.SessionTTL > 0 {
		cl.sess.Save(cl.ctx, s.Opts.SessionTTL)
		cl.keepSaved()
	}
	watched := s.Writers.Adopt(c, nc, conn.TakeOver{
		PingInterval: s.Opts.PingInterval,
		WriteTimeout: s.Opts.WriteTimeout,
		SendBuffer:   s.Opts.SendBuffer,
		OnEnd:        func(reason string) { go cl.end(reason) },
		OnReadable:   cl.readable,
	})
	if !watched {
		// The close watch cannot see this socket (a listener wrapper
		// hides it): nothing would say when to read.
		cl.polled.Store(false)
	}
	if cl.polled.Load() {
		cl.readable() // what the client sent before the watch saw it
		return
	}
	// Where the pool cannot say when to read (TLS, whose records may wait
	// decrypted inside crypto/tls; systems without epoll; sockets it
	// cannot see), one goroutine
	// per connection reads, blocked while the client is quiet.
	go cl.readLoop()
}

// readIdle bounds how long a client may take to finish a message it
// started: a read only starts when something arrived.
const readIdle = 30 * time.Second

// readable runs (on the close watch's goroutine) when the client sent
// something or went away: one drain at a time runs, off that goroutine.
func (cl *client) readable() {
	if !cl.polled.Load() {
		return // the reader goroutine reads
	}
	cl.again.Store(true)
	if cl.reading.CompareAndSwap(false, true) {
		go cl.drain()
	}
}

// drain reads and runs every message the socket holds, then returns: an
// idle connection has no goroutine. A wake-up that comes while it runs is
// not lost: it loops until nothing arrived since its last look.
func (cl *client) drain() {
	for {
		cl.again.Store(false)
		for cl.reader.Buffered() || conn.HasInput(cl.nc) {
			_ = cl.nc.SetReadDeadline(time.Now().Add(readIdle))
			if !cl.readOne() {
				return // the connection is ending; reading stays claimed
			}
		}
		_ = cl.nc.SetReadDeadline(time.Time{})
		cl.reading.Store(false)
		if !cl.again.Load() || !cl.reading.CompareAndSwap(false, true) {
			return
		}
	}
}

// authenticate restores the session (ext, with a previous sid) or runs the
// session's authentication. On refusal it queues what the client is told
// and the close frame, and reports false.
func (cl *client) authenticate(r *http.Request) bool {
	s, sess, c := cl.srv, cl.sess, cl.sock.c
	if cl.ext && s.Opts.SessionTTL > 0 {
		prev := r.Header.Get(protocol.HeaderRestoreSid)
		if prev == "" {
			prev = r.URL.Query().Get("sid")
		}
		if prev != "" {
			if ids, ok := sess.Restore(cl.ctx, prev); ok {
				cl.sock.Reply(protocol.Reply{Type: protocol.TypeWelcome, Sid: c.SID(), Restored: true, RestoredIDs: ids})
				if s.Metrics != nil {
					s.Metrics.SubscriptionsAdded(sess.Streams())
				}
				return true
			}
			if ce := s.Log.Check(zapcore.DebugLevel, "session not found in cache"); ce != nil {
				ce.Write(zap.String("sid", c.SID()))
			}
		}
	}
	out := sess.Authenticate(cl.ctx)
	switch {
	case out.Kind == cable.OK:
		return true
	case out.Kind == cable.Unauthorized && out.Reason == cable.ReasonAppRefused:
		// The app's transmissions (its disconnect) are queued already.
		c.Close(closeFrame(protocol.CloseAuthFailed), "unauthorized")
	case out.Kind == cable.Unauthorized:
		reason := protocol.ReasonUnauthorized
		if out.Reason == protocol.ReasonTokenExpired {
			reason = protocol.ReasonTokenExpired
		}
		c.CloseWith(protocol.DisconnectReply(reason, false))
	default:
		// The app failed or is unreachable: no message, close 1011, and
		// Action Cable clients come back later by themselves.
		c.Close(closeFrame(protocol.CloseAuthError), "auth_error")
	}
	s.Log.Info("websocket connection refused", zap.String("sid", c.SID()), zap.String("reason", out.Reason), zap.String("remote", r.RemoteAddr))
	return false
}

// keepSaved refreshes the saved session every half TTL while it lives.
func (cl *client) keepSaved() {
	ttl := cl.srv.Opts.SessionTTL
	cl.keep = time.AfterFunc(ttl/2, func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		if cl.ended {
			return
		}
		cl.sess.Touch(cl.ctx, ttl)
		cl.keep.Reset(ttl / 2)
	})
}

// readLoop reads client messages until the client or the server ends the
// connection (the goroutine reader, see ServeWebSocket).
func (cl *client) readLoop() {
	for cl.readOne() {
	}
}

// readOne reads one client message and runs its command; false once the
// connection is ending. Commands run one at a time, in order.
func (cl *client) readOne() bool {
	c := cl.sock.c
	msg, err := cl.reader.ReadMessage(cl.nc, c.Enqueue)
	if err != nil {
		var ce *CloseError
		switch {
		case errors.As(err, &ce) && ce.Peer:
			// The client closes: echo its code and end.
			c.Close(AppendCloseFrame(nil, ce.Code, ""), "client_closed")
		case errors.As(err, &ce):
			c.Close(AppendCloseFrame(nil, ce.Code, ce.Reason), "protocol_error")
		default:
			c.ClientGone()
		}
		return false
	}
	if msg == nil {
		return true
	}
	cl.handle(msg)
	if cl.sess.CloseRequested() {
		c.Close(closeFrame(protocol.CloseCommandFailed), "command_disconnect")
		return false
	}
	return true
}

// handle runs one client message. Bad input is logged and skipped: unlike
// anycable-go, a malformed message does not stop the reading.
func (cl *client) handle(msg []byte) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.ended {
		return
	}
	s, sess := cl.srv, cl.sess
	cmd, err := protocol.DecodeCommand(msg)
	if err != nil {
		if ce := s.Log.Check(zapcore.DebugLevel, "websocket message ignored"); ce != nil {
			ce.Write(zap.String("sid", cl.sock.sid), zap.Error(err))
		}
		return
	}
	changed := false
	var out cable.Outcome
	switch cmd.Kind {
	case protocol.CommandNull:
		return
	case protocol.CommandSubscribe:
		out = cl.subscribe(cmd)
		changed = out.Kind == cable.OK
	case protocol.CommandUnsubscribe:
		before := sess.Streams()
		out = sess.Unsubscribe(cl.ctx, cmd.Identifier)
		if s.Metrics != nil && before > sess.Streams() {
			s.Metrics.SubscriptionsRemoved(before - sess.Streams())
		}
		changed = true
	case protocol.CommandMessage:
		before := sess.Streams()
		out = sess.Perform(cl.ctx, cmd.Identifier, cmd.Data)
		cl.countStreams(before)
		changed = true
	case protocol.CommandHistory:
		out = sess.History(cl.ctx, cmd.Identifier, cmd.History)
	case protocol.CommandPing:
		cl.sock.Reply(protocol.Reply{Type: protocol.TypePong})
	case protocol.CommandPong:
	default:
		out = cable.Outcome{Kind: cable.Invalid, Reason: "unknown command: " + cmd.Name}
	}
	if out.Kind != cable.OK {
		if ce := s.Log.Check(zapcore.DebugLevel, "websocket command failed"); ce != nil {
			ce.Write(zap.String("sid", cl.sock.sid), zap.String("command", cmd.Name), zap.String("reason", out.Reason))
		}
	}
	if changed && cl.ext && s.Opts.SessionTTL > 0 {
		sess.Save(cl.ctx, s.Opts.SessionTTL)
	}
}

// subscribe subscribes, joins the streams (with the history the command
// asks for, gap-free: live messages wait until it is out) and answers.
func (cl *client) subscribe(cmd protocol.Command) cable.Outcome {
	s, sess := cl.srv, cl.sess
	if sess.Subscribed(cmd.Identifier) {
		return cable.Outcome{Kind: cable.Invalid, Reason: "already subscribed to " + cmd.Identifier}
	}
	reject := func() {
		cl.sock.Reply(protocol.Reply{Type: protocol.TypeRejectSubscription, Identifier: cmd.Identifier})
	}
	before := sess.Streams()
	// The confirmation waits until the streams are joined.
	cl.sock.hold()
	defer cl.sock.release()
	streams, out := sess.Subscribe(cl.ctx, cmd.Identifier)
	if out.Kind != cable.OK {
		if out.Kind == cable.Invalid && !strings.HasPrefix(out.Reason, "rpc ") {
			reject() // a local stream refused (the app sends its own)
		}
		return out
	}
	if s.Opts.MaxStreams > 0 && before+len(streams) > s.Opts.MaxStreams {
		sess.Unsubscribe(cl.ctx, cmd.Identifier)
		cl.sock.discardHeld() // the confirmation must not go out
		reject()
		return cable.Outcome{Kind: cable.Full, Reason: "too many streams for one connection"}
	}
	var positions []protocol.StreamPosition
	var since int64
	asked := false
	if h := cmd.History; h != nil && h.Requested() {
		asked = true
		since = h.Since
		for stream, p := range h.Streams {
			positions = append(positions, protocol.StreamPosition{Stream: stream, Epoch: p.Epoch, Offset: p.Offset})
		}
	}
	j, out := sess.Join(cl.ctx, cmd.Identifier, streams, positions, since)
	if out.Kind != cable.OK {
		sess.Release(j)
		sess.Unsubscribe(cl.ctx, cmd.Identifier)
		cl.sock.discardHeld() // the confirmation must not go out
		reject()
		return out
	}
	j.Asked = asked
	cl.sock.release() // the confirmation, then the history, then live
	sess.WriteHistory(j)
	sess.Release(j)
	cl.countStreams(before)
	return cable.Done
}

func (cl *client) countStreams(before int) {
	m := cl.srv.Metrics
	if m == nil {
		return
	}
	if n := cl.sess.Streams(); n > before {
		m.SubscriptionsAdded(n - before)
	} else if n < before {
		m.SubscriptionsRemoved(before - n)
	}
}

// end releases what the connection held, keeps an ext session for
// recovery, and tells the app, exactly once, that it is gone.
func (cl *client) end(reason string) {
	s, sess, c := cl.srv, cl.sess, cl.sock.c
	c.Close(nil, reason)
	cl.cancel() // a command's RPC call in flight returns now
	if cl.nc != nil {
		_ = cl.nc.Close() // the reader returns
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.ended {
		return
	}
	cl.ended = true
	if cl.keep != nil {
		cl.keep.Stop()
	}
	sess.Leave()
	defer func() {
		s.Registry.Remove(c)
		s.Disown(c)
	}()
	if sess.KnownToApp() {
		s.Registry.Uncount(c)
	}
	if cl.opened && cl.ext && s.Opts.SessionTTL > 0 {
		// Recoverable for the TTL from now (its state was saved with
		// every change; a restore elsewhere took it for good).
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if reason == protocol.ReasonRemote {
			// The app ended this user's sessions: the sid must not bring
			// one back without a new connect.
			sess.Forget(ctx)
		} else {
			sess.Touch(ctx, s.Opts.SessionTTL)
		}
		cancel()
	}
	sess.End()
	if cl.opened && s.Metrics != nil {
		s.Metrics.SubscriptionsRemoved(sess.Streams())
		s.Metrics.ConnectionClosed(reason)
	}
	if ce := s.Log.Check(zapcore.DebugLevel, "websocket connection closed"); ce != nil {
		ce.Write(zap.String("sid", c.SID()), zap.String("reason", reason))
	}
}

// token is the JWT the client sent: header X-<param>, then the
// anycable-token subprotocol entry, then the query parameter.
func (s *Server) token(r *http.Request, hs Handshake) string {
	if s.Cable.JWT == nil || !s.Cable.JWT.Enabled() {
		return ""
	}
	if v := r.Header.Get("X-" + s.Opts.JWTParam); v != "" {
		return v
	}
	if hs.Token != "" {
		return hs.Token
	}
	return r.URL.Query().Get(s.Opts.JWTParam)
}

// refuse answers an upgrade that will not happen, as anycable-go does.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var he *HandshakeError
	status := http.StatusBadRequest
	if errors.As(err, &he) {
		status = he.Status
	}
	if s.Metrics != nil {
		s.Metrics.Refused(status)
	}
	if ce := s.Log.Check(zapcore.InfoLevel, "websocket upgrade refused"); ce != nil {
		ce.Write(zap.Int("status", status), zap.Error(err), zap.String("remote", r.RemoteAddr))
	}
	WriteRefusal(w, err)
}
