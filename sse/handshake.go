package sse

import (
	"context"
	"net/http"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cableway/caddy-anycable-sse/cable"
	"github.com/cableway/caddy-anycable-sse/protocol"
)

// An SSE connection is one request: it authenticates, subscribes to every
// identifier it names, and joins their streams with the history it asked
// for, all before the first byte is written. The session logic (package
// cable) is shared with the other transports; the order and the answers
// here are SSE's.

// handshake authenticates, subscribes and queues the backlog. It returns
// the outcome of the first step that failed.
func (s *Server) handshake(ctx context.Context, sess *cable.Session, st *Stream, req *parsedRequest, requestID string) cable.Outcome {
	// Every subscription has at least one stream: refuse an oversized POST
	// before it costs the app one RPC per line.
	if s.Opts.MaxStreams > 0 && len(req.commands) > s.Opts.MaxStreams {
		return cable.Outcome{Kind: cable.Invalid, Reason: "too many streams for one connection"}
	}
	if out := sess.Authenticate(ctx); out.Kind != cable.OK {
		return out
	}

	type resolved struct {
		identifier string
		streams    []string
		history    *protocol.HistoryParams
	}
	var subs []resolved
	var known []string
	for _, cmd := range req.commands {
		streams, out := sess.Subscribe(ctx, cmd.identifier)
		if out.Kind != cable.OK {
			return out
		}
		subs = append(subs, resolved{identifier: cmd.identifier, streams: streams, history: cmd.history})
		known = append(known, streams...)
	}
	if s.Opts.MaxStreams > 0 && len(known) > s.Opts.MaxStreams {
		return cable.Outcome{Kind: cable.Invalid, Reason: "too many streams for one connection"}
	}
	st.multi = len(known) > 1
	var positions []protocol.StreamPosition
	if req.lastID != "" {
		var err error
		positions, err = protocol.ParseLastEventID(req.lastID, known)
		if err != nil {
			return cable.Outcome{Kind: cable.Invalid, Reason: "bad Last-Event-ID: " + err.Error()}
		}
	}

	// Join every stream before any history is written: a connection with
	// several streams must carry every stream's position in its first id,
	// and live messages are parked until all the history is out.
	var joined []*cable.Joined
	for _, sub := range subs {
		since := req.since
		subPositions := positions
		// A history request that names no stream of this subscription is
		// still answered with confirm_history, as AnyCable does.
		var asked bool
		if sub.history != nil {
			since = sub.history.Since
			subPositions = nil
			for stream, p := range sub.history.Streams {
				subPositions = append(subPositions, protocol.StreamPosition{Stream: stream, Epoch: p.Epoch, Offset: p.Offset})
			}
			asked = since > 0 || sub.history.Streams != nil
		} else {
			asked = since > 0 || len(subPositions) > 0
		}
		j, out := sess.Join(ctx, sub.identifier, sub.streams, subPositions, since)
		joined = append(joined, j)
		if out.Kind != cable.OK {
			sess.Release(joined...)
			return out
		}
		j.Asked = asked
	}
	if st.multi {
		for _, j := range joined {
			st.startPositions(j.Subs, j.Snaps, j.Starts)
		}
	}
	for _, j := range joined {
		sess.WriteHistory(j)
	}
	sess.Release(joined...)
	if sess.CloseRequested() {
		st.c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonUnauthorized, Reconnect: false, ForceReconnect: true})
	}
	if ce := s.Log.Check(zapcore.DebugLevel, "sse connection opened"); ce != nil {
		ce.Write(zap.String("sid", st.c.SID()), zap.String("request_id", requestID), zap.Strings("subscriptions", sess.Subscriptions()), zap.Strings("streams", known))
	}
	return cable.Done
}

// httpStatus is the status an SSE request is refused with.
func httpStatus(k cable.Kind) int {
	switch k {
	case cable.OK:
		return http.StatusOK
	case cable.Unauthorized:
		return http.StatusUnauthorized
	case cable.Full:
		return http.StatusTooManyRequests
	case cable.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}
