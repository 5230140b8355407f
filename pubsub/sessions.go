package pubsub

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SessionCache keeps the state of disconnected WebSocket sessions for a
// while, so that a client reconnecting with its old sid gets its
// identifiers, connection and channel states and subscriptions back
// without an RPC connect (AnyCable's session recovery). The state is opaque
// bytes that the transport encodes; the cache only stores, expires and
// hands them over once.
//
// With the Redis broker the cache is shared by every node, so a session
// can be restored on another node than the one it was on.
type SessionCache interface {
	// Put stores state under sid for ttl, replacing any entry. It refuses
	// state longer than MaxSessionState, an empty sid or one longer than
	// MaxSessionID, and a ttl below one millisecond (ErrSessionInvalid).
	Put(ctx context.Context, sid string, state []byte, ttl time.Duration) error
	// Refresh replaces the state and expiry of an existing entry and
	// reports whether there was one; like Touch, it never recreates an
	// entry that was taken or expired (a connection whose session was
	// restored elsewhere must not make it restorable again).
	Refresh(ctx context.Context, sid string, state []byte, ttl time.Duration) (found bool, err error)
	// Touch moves the expiry of an existing entry to now+ttl and reports
	// whether there was one. It never recreates an entry that was taken or
	// expired: found is false then.
	Touch(ctx context.Context, sid string, ttl time.Duration) (found bool, err error)
	// Take returns the entry and deletes it in one atomic step: of several
	// concurrent Takes of one sid, on any node, exactly one gets it. (AnyCable
	// leaves the entry in place, so one session can be restored twice.)
	Take(ctx context.Context, sid string) (state []byte, ok bool, err error)
}

// SessionBroker is an optional Broker extension: a broker that keeps a
// session cache. The memory, file and Redis brokers implement it.
type SessionBroker interface {
	Sessions() SessionCache
}

// Sessions returns the broker's session cache, or nil when the broker has
// none.
func (h *Hub) Sessions() SessionCache {
	if sb, ok := h.b.(SessionBroker); ok {
		return sb.Sessions()
	}
	return nil
}

// DefaultSessionTTL is AnyCable's --sessions_ttl default: how long a
// disconnected session stays restorable.
const DefaultSessionTTL = 300 * time.Second

// Bounds of a session entry. A session state holds identifiers, states and
// subscriptions: a few KiB at most for any sensible application.
const (
	MaxSessionState = 64 << 10
	MaxSessionID    = 255
)

// ErrSessionInvalid is returned by Put for an entry outside the bounds.
var ErrSessionInvalid = errors.New("pubsub: invalid session entry")

// checkSessionPut validates the arguments of Put.
func checkSessionPut(sid string, state []byte, ttl time.Duration) error {
	switch {
	case sid == "" || len(sid) > MaxSessionID:
		return fmt.Errorf("%w: sid of %d bytes (1..%d)", ErrSessionInvalid, len(sid), MaxSessionID)
	case len(state) > MaxSessionState:
		return fmt.Errorf("%w: state of %d bytes, more than %d", ErrSessionInvalid, len(state), MaxSessionState)
	}
	return checkSessionTTL(ttl)
}

func checkSessionTTL(ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: ttl %v below 1ms", ErrSessionInvalid, ttl)
	}
	return nil
}

// validSID reports whether sid could name an entry; Touch and Take answer
// "not found" for any other without asking the store.
func validSID(sid string) bool { return sid != "" && len(sid) <= MaxSessionID }

// ttlMillis is ttl in whole milliseconds, rounded up (the unit of Redis PX
// and of the stored expiry).
func ttlMillis(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}
