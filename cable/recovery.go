package cable

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Session recovery (AnyCable's extended protocol): a session's state is
// kept in the broker's session cache (memory, file, or Redis for a fleet)
// while it lives and for a while after it ends, so that a client coming
// back with its old sid gets its identifiers, state and subscriptions
// again without asking the app. Unlike AnyCable, a restore takes the entry:
// a session is restored once, and the connection it came from stops
// saving it (it was superseded).

// savedSession is what the cache keeps of a session.
type savedSession struct {
	Identifiers string                       `json:"ids"`
	CState      map[string]string            `json:"cstate,omitempty"`
	IState      map[string]map[string]string `json:"istate,omitempty"`
	Subs        []savedSub                   `json:"subs,omitempty"`
	// KnownToApp: the app has seen the session (it gets a disconnect
	// call when the restored session ends).
	KnownToApp bool `json:"rpc,omitempty"`
}

type savedSub struct {
	Identifier string   `json:"id"`
	Streams    []string `json:"streams,omitempty"`
}

// Resumable reports whether the broker keeps sessions.
func (s *Session) Resumable() bool { return s.cfg.Hub.Sessions() != nil }

// Save writes the session to the cache for ttl: after authentication and
// after every change. A session that was restored elsewhere is not written
// again.
func (s *Session) Save(ctx context.Context, ttl time.Duration) {
	cache := s.cfg.Hub.Sessions()
	if cache == nil || s.superseded || ttl <= 0 {
		return
	}
	saved := savedSession{
		Identifiers: s.t.Conn().Identifiers(),
		CState:      s.cstate,
		IState:      s.istate,
		KnownToApp:  s.rpcConnected,
	}
	for _, id := range s.subscribed {
		sub := savedSub{Identifier: id}
		for _, ps := range s.subs {
			if ps.Identifier == id {
				sub.Streams = append(sub.Streams, ps.Stream)
			}
		}
		saved.Subs = append(saved.Subs, sub)
	}
	b, err := json.Marshal(saved)
	switch {
	case err != nil:
	case s.saved:
		// Only over the entry this session wrote: a restore on another
		// connection (or node) may have taken it, and must stay the only
		// one.
		var found bool
		if found, err = cache.Refresh(ctx, s.SID(), b, ttl); err == nil && !found {
			s.superseded = true
		}
	default:
		err = cache.Put(ctx, s.SID(), b, ttl)
		s.saved = err == nil
	}
	if err != nil {
		s.cfg.Log.Warn("saving the session for recovery failed", zap.String("sid", s.SID()), zap.Error(err))
	}
}

// Touch extends the saved session's life. When the entry is gone (taken
// by a restore), the session stops saving itself.
func (s *Session) Touch(ctx context.Context, ttl time.Duration) {
	cache := s.cfg.Hub.Sessions()
	if cache == nil || s.superseded {
		return
	}
	found, err := cache.Touch(ctx, s.SID(), ttl)
	if err != nil {
		s.cfg.Log.Warn("extending the saved session failed", zap.String("sid", s.SID()), zap.Error(err))
		return
	}
	if !found {
		s.superseded = true
	}
}

// Restore takes the session saved under oldSID and makes it this one's:
// identifiers, state, subscriptions (their streams joined live; the client
// asks for what it missed with history commands). It returns the restored
// identifiers; ok is false when there is nothing to restore (the caller
// then authenticates as usual).
func (s *Session) Restore(ctx context.Context, oldSID string) (ids []string, ok bool) {
	cache := s.cfg.Hub.Sessions()
	if cache == nil || oldSID == "" {
		return nil, false
	}
	b, found, err := cache.Take(ctx, oldSID)
	if err != nil {
		s.cfg.Log.Warn("reading a saved session failed", zap.String("sid", s.SID()), zap.Error(err))
		return nil, false
	}
	if !found {
		return nil, false
	}
	var saved savedSession
	if err := json.Unmarshal(b, &saved); err != nil {
		s.cfg.Log.Warn("a saved session is unreadable", zap.String("sid", s.SID()), zap.Error(err))
		return nil, false
	}
	s.t.Conn().SetIdentifiers(saved.Identifiers)
	s.cstate, s.istate, s.rpcConnected = saved.CState, saved.IState, saved.KnownToApp
	ids = []string{}
	var parked []*pubsub.Subscription
	for _, sub := range saved.Subs {
		j, out := s.Join(ctx, sub.Identifier, sub.Streams, nil, 0)
		if out.Kind != OK {
			// The identifier is left out: the client sees it was not
			// restored and subscribes again.
			s.Release(j)
			s.leaveStreams(sub.Identifier, nil)
			continue
		}
		parked = append(parked, j.Subs...)
		s.subscribed = append(s.subscribed, sub.Identifier)
		ids = append(ids, sub.Identifier)
	}
	s.replay = replayState{}
	if len(parked) > 0 {
		// Live messages of the restored subscriptions wait for the
		// client's history command (see History), so that it gets what it
		// missed before what came after; a client that asks for no
		// history gets them after RestoreHistoryWait.
		time.AfterFunc(RestoreHistoryWait, func() {
			for _, sub := range parked {
				sub.Release()
			}
		})
	}
	return ids, true
}

// RestoreHistoryWait is how long the live messages of a restored
// session's subscriptions wait for the client's history command (which
// @anycable/core sends right after the restored welcome) before they are
// delivered anyway. Within it, a subscription's history and its live
// messages arrive in order; AnyCable delivers live messages at once, so a
// client that asks for history a moment later gets the older messages
// after newer ones.
var RestoreHistoryWait = 2 * time.Second

// releaseRestored lets the live messages of identifier's restored streams
// through (after the history just queued). Subscriptions not parked are
// unaffected.
func (s *Session) releaseRestored(identifier string) {
	for _, sub := range s.subs {
		if sub.Identifier == identifier {
			sub.Release()
		}
	}
}

// Forget drops the saved session: the app disconnected the user (a
// logout, a ban), so the sid must not bring the session back without a
// new connect.
func (s *Session) Forget(ctx context.Context) {
	cache := s.cfg.Hub.Sessions()
	if cache == nil || !s.saved || s.superseded {
		return
	}
	s.superseded = true
	if _, _, err := cache.Take(ctx, s.SID()); err != nil {
		s.cfg.Log.Warn("dropping the saved session failed", zap.String("sid", s.SID()), zap.Error(err))
	}
}
