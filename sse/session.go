package sse

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/rpc"
)

// The handshake of one connection: authentication (JWT, noauth, the app's
// connect), subscriptions ($pubsub and Turbo locally, channels through the
// app), joining the streams with their history, and the end of the session
// (the app's disconnect, exactly once).

// session is one connection's handshake and authentication state: what the
// app knows about it (identifiers, cstate, istate) and its subscriptions.
type session struct {
	srv  *Server
	conn *Conn
	env  rpc.Env
	// requestID is the client's X-Request-ID, for log lines only: the sid
	// is always generated (see newSessionID).
	requestID string

	// rpcConnected: the app knows this connection (an RPC connect or
	// subscribe succeeded), so it gets exactly one disconnect call.
	rpcConnected bool
	// token is the JWT the client sent (header X-<param> or ?<param>=).
	token      string
	cstate     map[string]string
	istate     map[string]map[string]string
	subscribed []string
	registered bool
	// closeAfter ends the stream right after the backlog (the app asked to
	// disconnect while subscribing).
	closeAfter bool
	// unavailable names what could not serve the handshake for now
	// (causeRPC); the client is told to come back rather than refused.
	unavailable string
	// reserved is what the joined snapshots' history will take at least
	// (their data bytes), so that a request cannot hold more recovered
	// history than max_pending lets it write.
	reserved int
	// cut: a snapshot was trimmed to fit; ended: the replay stopped there
	// and the connection is ending. replayedAny: some history is queued.
	cut, ended, replayedAny bool
	// replayed holds the deliveries this handshake replays, so that the
	// registry's weak cache keeps them (and their frames) for the
	// subscriptions and the concurrent handshakes that replay them too.
	replayed []*pubsub.Delivery
}

// Causes of a deferred connection (200 + disconnect reconnect:true).
const (
	causeBroker = "broker"
	causeRPC    = "rpc"
)

// resolved is one confirmed subscription and its streams.
type resolved struct {
	identifier string
	streams    []string
	history    *protocol.HistoryParams
}

// handshake authenticates, subscribes and queues the backlog. It returns 200
// or the refusal status and reason.
func (ss *session) handshake(ctx context.Context, req *parsedRequest) (int, string) {
	s, c := ss.srv, ss.conn

	// Every subscription has at least one stream: refuse an oversized POST
	// before it costs the app one RPC per line.
	if s.Opts.MaxStreams > 0 && len(req.commands) > s.Opts.MaxStreams {
		return http.StatusBadRequest, "too many streams for one connection"
	}
	if status, reason := ss.authenticate(ctx); status != http.StatusOK {
		return status, reason
	}

	var subs []resolved
	for _, cmd := range req.commands {
		streams, status, reason := ss.subscribe(ctx, cmd.identifier)
		if status != http.StatusOK {
			return status, reason
		}
		ss.subscribed = append(ss.subscribed, cmd.identifier)
		subs = append(subs, resolved{identifier: cmd.identifier, streams: streams, history: cmd.history})
	}

	var known []string
	for _, sub := range subs {
		known = append(known, sub.streams...)
	}
	if s.Opts.MaxStreams > 0 && len(known) > s.Opts.MaxStreams {
		return http.StatusBadRequest, "too many streams for one connection"
	}
	c.multi = len(known) > 1
	var positions []protocol.StreamPosition
	if req.lastID != "" {
		var err error
		positions, err = protocol.ParseLastEventID(req.lastID, known)
		if err != nil {
			return http.StatusBadRequest, "bad Last-Event-ID: " + err.Error()
		}
	}

	// Join every stream before any history is written: a connection with
	// several streams must carry every stream's position in its first id,
	// and live messages are parked until all the history is out.
	var joined []joinedSub
	for _, sub := range subs {
		since := req.since
		var subPositions []protocol.StreamPosition
		// A history request that names no stream of this subscription is
		// still answered with confirm_history, as AnyCable does.
		requested := false
		if sub.history != nil {
			since = sub.history.Since
			for stream, p := range sub.history.Streams {
				subPositions = append(subPositions, protocol.StreamPosition{Stream: stream, Epoch: p.Epoch, Offset: p.Offset})
			}
			requested = since > 0 || sub.history.Streams != nil
		} else {
			subPositions = positions
			requested = since > 0 || len(subPositions) > 0
		}
		j, status, reason := ss.join(ctx, sub, subPositions, clampSince(since))
		if status != http.StatusOK {
			return status, reason
		}
		j.asked = requested
		joined = append(joined, j)
	}
	if c.multi {
		c.mu.Lock()
		for _, j := range joined {
			for i, sn := range j.snaps {
				c.setPositionLocked(j.subs[i].Stream, sn.Top.Epoch, j.starts[i])
			}
		}
		c.mu.Unlock()
	}
	for _, j := range joined {
		ss.writeHistory(j)
	}
	// The queue holds the frames it needs; the session must not keep the
	// replayed deliveries (and every form built on them) for its lifetime.
	ss.replayed = nil
	for _, j := range joined {
		for _, sub := range j.subs {
			sub.Release()
		}
	}
	if ss.closeAfter {
		c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonUnauthorized, Reconnect: false, ForceReconnect: true})
	}
	if ce := s.Log.Check(zapcore.DebugLevel, "sse connection opened"); ce != nil {
		ce.Write(zap.String("sid", c.sid), zap.String("request_id", ss.requestID), zap.Strings("subscriptions", ss.subscribed), zap.Strings("streams", known))
	}
	return http.StatusOK, ""
}

// joinedSub is one subscription whose streams are joined (their live
// messages parked) with the history snapshot of each.
type joinedSub struct {
	identifier string
	subs       []*pubsub.Subscription
	snaps      []pubsub.Snapshot
	partial    []bool // the snapshot's messages were trimmed to fit
	// starts is where each stream's replay starts (the offset before its
	// first recovered message), taken before the budget trims: a stream
	// whose history was cut away is recorded there, not at its top, so
	// that a resume from the first id still replays it.
	starts []uint64
	asked  bool
}

// join joins every stream of one subscription at the position asked. The
// subscriptions park live messages until Release.
func (ss *session) join(ctx context.Context, sub resolved, positions []protocol.StreamPosition, since int64) (joinedSub, int, string) {
	s, c := ss.srv, ss.conn
	j := joinedSub{identifier: sub.identifier}
	for _, stream := range sub.streams {
		hreq := pubsub.HistoryRequest{Since: since}
		for _, p := range positions {
			if p.Stream == stream {
				hreq.From = &pubsub.Position{Epoch: p.Epoch, Offset: p.Offset}
			}
		}
		subscription, snap, err := s.Hub.Join(ctx, c, sub.identifier, stream, hreq)
		if errors.Is(err, pubsub.ErrHubFull) {
			// A cap of the server, not an outage: refused plainly (counted
			// in requests_refused_total by status), not deferred.
			return j, http.StatusTooManyRequests, "server stream or subscription limit reached"
		}
		if err != nil {
			s.Log.Warn("joining a stream failed", zap.String("sid", c.sid), zap.String("stream", stream), zap.Error(err))
			return j, http.StatusServiceUnavailable, "broker unavailable"
		}
		c.subs = append(c.subs, subscription)
		j.subs = append(j.subs, subscription)
		j.starts = append(j.starts, replayStart(snap, hreq.From))
		snap, partial := ss.budget(snap)
		j.snaps = append(j.snaps, snap)
		j.partial = append(j.partial, partial)
	}
	return j, http.StatusOK, ""
}

// replayStart is the position a stream's replay starts from, before any of
// its history is written: the offset before the first recovered message,
// else the client's own position in the same epoch, else the top.
func replayStart(snap pubsub.Snapshot, from *pubsub.Position) uint64 {
	if snap.Status == pubsub.Recovered {
		if len(snap.Messages) > 0 && snap.Messages[0].Offset > 0 {
			return snap.Messages[0].Offset - 1
		}
		if from != nil && from.Epoch == snap.Top.Epoch && from.Offset <= snap.Top.Offset {
			return from.Offset
		}
	}
	return snap.Top.Offset
}

// A replay is bounded by max_pending from its first byte, like the live
// queue. History that does not fit is not refused: the connection replays
// the oldest messages that fit (at least one, so every attempt makes
// progress), then ends with disconnect reconnect:true, and the client
// resumes from the last event it got, on the next connection. A resume after
// a too_slow cut, whose missing history is larger than max_pending by
// definition, so stays lossless, while one request (many identifiers each
// asking for the whole history) costs at most max_pending. Answering
// reject_history instead would lose those messages; refusing the connection
// would stop EventSource for good.

// budget trims a snapshot to the messages whose data alone fits beside what
// the connection holds and the earlier snapshots reserved, and lets the
// rest go now rather than after every stream is joined. partial reports a
// trimmed snapshot (the connection then ends after its replay).
func (ss *session) budget(snap pubsub.Snapshot) (out pubsub.Snapshot, partial bool) {
	c := ss.conn
	if snap.Status != pubsub.Recovered || len(snap.Messages) == 0 || c.maxPending <= 0 {
		return snap, false
	}
	if ss.cut {
		snap.Messages = nil // never replayed: the connection ends first
		return snap, true
	}
	c.mu.Lock()
	room := c.maxPending - c.queued - ss.reserved
	c.mu.Unlock()
	k, least := 0, 0
	for k < len(snap.Messages) && (k == 0 || least+len(snap.Messages[k].Data) <= room) {
		least += len(snap.Messages[k].Data)
		k++
	}
	ss.reserved += least
	if k < len(snap.Messages) {
		ss.cut = true
		snap.Messages = snap.Messages[:k:k]
		return snap, true
	}
	return snap, false
}

// writeHistory queues a subscription's recovered messages, then
// confirm_history or reject_history. Once a replay was cut short, nothing
// more is written: the connection ends and the client resumes.
func (ss *session) writeHistory(j joinedSub) {
	s, c := ss.srv, ss.conn
	if ss.ended {
		return
	}
	rejected := false
	for i, snap := range j.snaps {
		switch snap.Status {
		case pubsub.Recovered:
			s.metrics().History("recovered")
			if len(snap.Messages) == 0 && !j.partial[i] {
				continue
			}
			ds := ss.deliveries(j.subs[i].Stream, snap.Messages)
			if n := c.replay(j.subs[i], ds, !ss.replayedAny); n < len(ds) || j.partial[i] {
				ss.endReplay(j.subs[i].Stream)
				return
			}
			ss.replayedAny = true
		case pubsub.NotRecovered:
			s.metrics().History("not_recovered")
			rejected = true
			if ce := s.Log.Check(zapcore.DebugLevel, "history not recovered"); ce != nil {
				ce.Write(zap.String("sid", c.sid), zap.String("stream", j.subs[i].Stream), zap.String("reason", snap.Reason))
			}
		}
	}
	if j.asked && !c.raw {
		t := protocol.TypeConfirmHistory
		if rejected {
			t = protocol.TypeRejectHistory
		}
		r := protocol.Reply{Type: t, Identifier: j.identifier}
		c.enqueue(AppendEvent(nil, t, r.AppendJSON(nil), "", 0))
	}
}

// endReplay ends a connection whose replay did not fit within max_pending,
// after what was queued: the client comes back at once and resumes from its
// last event.
func (ss *session) endReplay(stream string) {
	ss.ended = true
	ss.srv.metrics().History("partial")
	if ce := ss.srv.Log.Check(zapcore.DebugLevel, "history replay over max_pending; the client resumes on a new connection"); ce != nil {
		ce.Write(zap.String("sid", ss.conn.sid), zap.String("stream", stream))
	}
	ss.conn.closePartialReplay()
}

// deliveries wraps stored messages for replay through the registry's
// cache, so that the frames of one stored message are built once for every
// handshake replaying it at the same time (a crowd resuming after a
// restart), not once per connection.
func (ss *session) deliveries(stream string, msgs []pubsub.Message) []*pubsub.Delivery {
	out := make([]*pubsub.Delivery, len(msgs))
	for i := range msgs {
		out[i] = ss.srv.Registry.replayDelivery(stream, &msgs[i])
	}
	ss.replayed = append(ss.replayed, out...)
	return out
}

// clampSince keeps a history_since far in the future (or in milliseconds)
// from overflowing when a broker turns it into milliseconds: it then asks
// for nothing, as AnyCable answers it.
func clampSince(since int64) int64 {
	const max = math.MaxInt64 / 1000
	if since > max {
		return max
	}
	return since
}

// authenticate runs connect: through the app when rpc_url is set, otherwise
// every connection is accepted with a server-generated welcome (public and
// signed streams need no app).
//
// The order is AnyCable's: a JWT when one is given (or required), then
// noauth, then the app. Without rpc_url, connections are accepted as with
// noauth.
func (ss *session) authenticate(ctx context.Context) (int, string) {
	s, c := ss.srv, ss.conn
	if s.Opts.EnforceJWT && (ss.token == "" || !s.Opts.JWT.Enabled()) {
		// Fail closed: no token, or (a config the module refuses anyway)
		// no key to check one with.
		return http.StatusUnauthorized, "token required"
	}
	if s.Opts.JWT.Enabled() {
		if ss.token != "" {
			ids, err := s.Opts.JWT.Verify(ss.token, time.Now())
			switch {
			case errors.Is(err, protocol.ErrTokenExpired):
				return http.StatusUnauthorized, "token_expired"
			case errors.Is(err, protocol.ErrTokenNoIdentifiers):
				return http.StatusBadRequest, "token has no string ext claim"
			case err != nil:
				return http.StatusUnauthorized, "invalid token"
			}
			ss.acceptLocally(ids)
			return http.StatusOK, ""
		}
	}
	if s.Opts.NoAuth || s.Opts.RPC == nil {
		ss.acceptLocally(`{"sid":"` + c.sid + `"}`)
		return http.StatusOK, ""
	}
	start := time.Now()
	res, err := s.Opts.RPC.Connect(ctx, c.sid, &rpc.ConnectRequest{Env: ss.env})
	s.metrics().RPC("connect", time.Since(start), err)
	if err != nil {
		if appMayHaveRun(ctx, err) {
			// The app may have accepted the connection (its connect
			// callback ran) without our seeing the answer: it gets its
			// disconnect call.
			ss.rpcConnected = true
		}
		s.Log.Warn("rpc connect failed", zap.String("sid", c.sid), zap.Error(err))
		if rpc.Unavailable(err) {
			// A deploy or an outage of the app: the client comes back.
			ss.unavailable = causeRPC
			return http.StatusServiceUnavailable, "rpc unavailable"
		}
		return http.StatusBadRequest, "rpc connect error"
	}
	switch res.Status {
	case rpc.StatusSuccess:
	case rpc.StatusFailure:
		return http.StatusUnauthorized, "unauthorized"
	default:
		return http.StatusBadRequest, "application error: " + res.ErrorMsg
	}
	ss.rpcConnected = true
	c.setIdentifiers(res.Identifiers)
	if res.Env != nil {
		ss.cstate = mergeState(ss.cstate, res.Env.CState)
	}
	for _, t := range res.Transmissions {
		ss.queueTransmission(t)
	}
	return http.StatusOK, ""
}

// acceptLocally authenticates without the app: the server writes the
// welcome, with the sid as AnyCable does.
func (ss *session) acceptLocally(identifiers string) {
	ss.conn.setIdentifiers(identifiers)
	ss.queueTyped(protocol.Reply{Type: protocol.TypeWelcome, Sid: ss.conn.sid})
}

// subscribe resolves one identifier to its streams: $pubsub (public or
// signed) and Turbo streams locally, anything else through the app.
func (ss *session) subscribe(ctx context.Context, identifier string) ([]string, int, string) {
	s := ss.srv
	for _, done := range ss.subscribed {
		if done == identifier {
			return nil, http.StatusBadRequest, "already subscribed: " + identifier
		}
	}
	info, isJSON := protocol.ParseIdentifier(identifier)
	local := isJSON && (info.Channel == protocol.ChannelPubSub ||
		(info.Channel == protocol.ChannelTurbo && s.Opts.Turbo.Enabled()) ||
		(info.Channel == protocol.ChannelCableReady && s.Opts.CableReady.Enabled()))
	if !local {
		return ss.subscribeRPC(ctx, identifier)
	}
	var stream string
	switch {
	case info.Channel == protocol.ChannelCableReady:
		// CableReady::Stream carries its signed name under "identifier".
		name, err := s.Opts.CableReady.Verify(info.CableReadyIdentifier)
		if err != nil {
			return nil, http.StatusBadRequest, "signed stream rejected: " + err.Error()
		}
		stream = name
	case info.SignedStreamName != "":
		v := s.Opts.Streams
		if info.Channel == protocol.ChannelTurbo {
			v = s.Opts.Turbo
		}
		if v == nil || !v.Enabled() {
			return nil, http.StatusBadRequest, "signed streams need streams_secrets (or secret)"
		}
		name, err := v.Verify(info.SignedStreamName)
		if err != nil {
			return nil, http.StatusBadRequest, "signed stream rejected: " + err.Error()
		}
		stream = name
	case info.Channel == protocol.ChannelPubSub && info.StreamName != "":
		if !s.Opts.PublicStreams {
			return nil, http.StatusBadRequest, "public streams are disabled"
		}
		stream = info.StreamName
	default:
		return nil, http.StatusBadRequest, "no stream in identifier"
	}
	if err := protocol.ValidStreamName(stream, s.Opts.MaxStreamName); err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	ss.queueTyped(protocol.Reply{Type: protocol.TypeConfirmSubscription, Identifier: identifier})
	return []string{stream}, http.StatusOK, ""
}

func (ss *session) subscribeRPC(ctx context.Context, identifier string) ([]string, int, string) {
	s, c := ss.srv, ss.conn
	if s.Opts.RPC == nil {
		return nil, http.StatusBadRequest, errNoRPC.Error()
	}
	env := ss.env
	env.CState = ss.cstate
	start := time.Now()
	res, err := s.Opts.RPC.Command(ctx, c.sid, &rpc.CommandRequest{
		Command:               "subscribe",
		Identifier:            identifier,
		ConnectionIdentifiers: c.Identifiers(),
		Env:                   env,
	})
	s.metrics().RPC("command", time.Since(start), err)
	if err != nil {
		if appMayHaveRun(ctx, err) {
			// The client left, or the answer came too late, while the app
			// was subscribing: its subscribed callback may have run, so
			// the disconnect call names this channel too (its
			// unsubscribed then runs).
			ss.rpcConnected = true
			ss.subscribed = append(ss.subscribed, identifier)
		}
		s.Log.Warn("rpc subscribe failed", zap.String("sid", c.sid), zap.Error(err))
		if rpc.Unavailable(err) {
			ss.unavailable = causeRPC
			return nil, http.StatusServiceUnavailable, "rpc unavailable"
		}
		return nil, http.StatusBadRequest, "rpc subscribe error"
	}
	// Any answer means the app has seen the connection: it gets a
	// disconnect call at the end, and its state updates count, whatever
	// the status (as AnyCable does).
	ss.rpcConnected = true
	if res.Env != nil {
		ss.cstate = mergeState(ss.cstate, res.Env.CState)
	}
	switch res.Status {
	case rpc.StatusSuccess:
	case rpc.StatusFailure:
		return nil, http.StatusBadRequest, "subscription rejected"
	default:
		return nil, http.StatusBadRequest, "application error: " + res.ErrorMsg
	}
	if res.Env != nil && res.Env.IState != nil {
		if ss.istate == nil {
			ss.istate = make(map[string]map[string]string)
		}
		ss.istate[identifier] = mergeState(ss.istate[identifier], res.Env.IState)
	}
	for _, t := range res.Transmissions {
		ss.queueTransmission(t)
	}
	// AnyCable applies stop_streams / stopped_streams before streams; at
	// subscribe time there is nothing earlier to stop, so every stream the
	// app names is followed ("stop_all_streams; stream_for user" included).
	var streams []string
	for _, st := range res.Streams {
		if err := protocol.ValidStreamName(st, s.Opts.MaxStreamName); err != nil {
			s.Log.Warn("app returned an invalid stream name", zap.String("sid", c.sid), zap.Error(err))
			return nil, http.StatusBadRequest, "invalid stream from app"
		}
		if !contains(streams, st) {
			streams = append(streams, st)
		}
	}
	if res.Disconnect {
		ss.closeAfter = true
	}
	return streams, http.StatusOK, ""
}

// appMayHaveRun says whether a failed RPC call may still have run in the
// app: the client left while it was in flight, or its answer did not come
// within rpc_timeout (the client is then deferred, and comes back).
func appMayHaveRun(ctx context.Context, err error) bool {
	var re *rpc.Error
	return ctx.Err() != nil || (errors.As(err, &re) && re.Kind == rpc.KindTimeout)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mergeState merges an app's state update: an empty value deletes the key.
func mergeState(dst, upd map[string]string) map[string]string {
	if len(upd) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]string, len(upd))
	}
	for k, v := range upd {
		if v == "" {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// queueTyped queues a server-generated typed message (suppressed in raw mode).
func (ss *session) queueTyped(r protocol.Reply) {
	if ss.conn.raw {
		return
	}
	ss.conn.enqueue(AppendEvent(nil, r.Type, r.AppendJSON(nil), "", 0))
}

// queueTransmission queues a message the app sent: typed ones as events,
// data ones in the connection's data format. Anything that is not a JSON
// object is dropped, as AnyCable does.
func (ss *session) queueTransmission(t string) {
	r, ok := protocol.ParseTransmission(t)
	if !ok {
		ss.srv.Log.Warn("dropping a transmission that is not a JSON object", zap.String("sid", ss.conn.sid))
		return
	}
	if r.Type != "" {
		ss.queueTyped(r)
		return
	}
	var payload []byte
	if ss.conn.mode == ModeGET {
		if r.HasMessage {
			payload = r.Message.AppendUnwrapped(nil)
		} else {
			payload = []byte("null") // what AnyCable writes for a data message without one
		}
	} else {
		payload = r.AppendJSON(nil)
	}
	ss.conn.enqueue(AppendEvent(nil, "", payload, "", 0))
}

// end releases everything the connection held and tells the app, exactly
// once, that a connection it accepted is gone.
func (ss *session) end() {
	s, c := ss.srv, ss.conn
	c.mu.Lock()
	c.closeLocked(nil, "ended")
	c.mu.Unlock()
	for _, sub := range c.subs {
		s.Hub.Leave(sub)
	}
	// Leave the registry last: process exit waits for it to empty, and
	// the app's disconnect call must be made by then.
	defer func() {
		if ss.registered {
			s.Registry.remove(c)
			s.disown(c)
		}
	}()
	if !ss.rpcConnected {
		return
	}
	if ss.registered {
		// The stream is over: its address may open another one while
		// the app is told (the registry entry stays until then).
		s.Registry.uncount(c)
	}
	env := ss.env
	env.CState = ss.cstate
	if len(ss.istate) > 0 {
		env.IState = make(map[string]string, len(ss.istate))
		for id, st := range ss.istate {
			b, _ := json.Marshal(st)
			env.IState[id] = string(b)
		}
	}
	// The request context is gone by now; the disconnect call gets its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subs := ss.subscribed
	if subs == nil {
		subs = []string{}
	}
	start := time.Now()
	_, err := s.Opts.RPC.Disconnect(ctx, c.sid, &rpc.DisconnectRequest{Identifiers: c.Identifiers(), Subscriptions: subs, Env: env})
	s.metrics().RPC("disconnect", time.Since(start), err)
	if err != nil {
		s.Log.Warn("rpc disconnect failed", zap.String("sid", c.sid), zap.Error(err))
	}
}
