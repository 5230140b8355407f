// Package pubsub is the hub and its brokers: streams, numbered messages,
// history, the recovery decision and the fan-out to subscribers.
//
// It knows nothing about HTTP, SSE framing or Caddy: a connection is a
// Subscriber, and the bytes it writes are built by the caller and cached on a
// Delivery, so that one broadcast is encoded once per output form and never
// once per subscriber.
//
// The brokers also keep the session cache of WebSocket session recovery
// (SessionCache, reached through Hub.Sessions): one node's memory, the
// file store, or Redis shared by every node.
package pubsub

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Publication is a broadcast as a publisher sent it, before a broker numbers it.
type Publication struct {
	Stream string
	// Data is the broadcast's data string, untouched.
	Data string
	// Transient messages are neither stored nor numbered (Offset 0, no id).
	Transient bool
	// ExcludeSocket is the sid of a connection that must not receive it.
	ExcludeSocket string
	// BroadcastType, when set, makes the message a typed event.
	BroadcastType string
}

// Message is a publication after a broker placed it in its stream.
type Message struct {
	Publication
	// Epoch names the life of the stream's offset counter: whenever offsets
	// could restart, the epoch changes. Never contains '/'.
	Epoch string
	// Offset is dense from 1 within an epoch; 0 for transient messages.
	Offset uint64
	// Time is when the broker stored the message, in Unix milliseconds.
	Time int64
}

// Position is a place in a stream: the last offset seen in an epoch.
type Position struct {
	Epoch  string
	Offset uint64
}

// HistoryRequest is what a joining subscriber asks of one stream.
type HistoryRequest struct {
	// From resumes after this position (Last-Event-ID). Wins over Since.
	From *Position
	// Since asks for every retained message stored at or after this Unix
	// time in seconds. 0 or negative means no request.
	Since int64
}

// Requested reports whether the request asks for any history at all.
func (r HistoryRequest) Requested() bool { return r.From != nil || r.Since > 0 }

// RecoveryStatus is the outcome of a history request.
type RecoveryStatus int

const (
	// NoHistory: nothing was asked.
	NoHistory RecoveryStatus = iota
	// Recovered: Messages hold everything after the asked position (or since
	// the asked time) up to Top.
	Recovered
	// NotRecovered: the position cannot be served (epoch changed, trimmed,
	// expired, ahead of the top, ...). Reason says which.
	NotRecovered
)

func (s RecoveryStatus) String() string {
	switch s {
	case Recovered:
		return "recovered"
	case NotRecovered:
		return "not_recovered"
	default:
		return "none"
	}
}

// Snapshot is a stream's state read in one step with the history asked for.
type Snapshot struct {
	// Top is the stream's current epoch and highest offset (0 when empty).
	Top Position
	// Messages are the recovered messages in offset order (Recovered only).
	Messages []Message
	Status   RecoveryStatus
	// Reason explains NotRecovered, for logs ("epoch mismatch", "trimmed", ...).
	Reason string
}

// ErrUnavailable is returned when the broker's backing store cannot be reached.
var ErrUnavailable = errors.New("broker unavailable")

// Broker numbers publications, keeps history and brings every numbered
// message to the hub of every node exactly once, in offset order per stream.
type Broker interface {
	// Start hands the broker the function that receives every numbered
	// message (from any node). It is called once, before any Publish.
	Start(deliver func(Message)) error
	// Publish numbers and stores a publication and arranges its delivery.
	// It returns the message as numbered.
	Publish(ctx context.Context, pub Publication) (Message, error)
	// Snapshot reads the stream's top and the history the request asks for,
	// applying the recovery decision. It never creates a message.
	Snapshot(ctx context.Context, stream string, req HistoryRequest) (Snapshot, error)
	// Close stops background work and releases resources.
	Close() error
}

// Subscriber is one client connection as the hub sees it. The hub calls its
// methods while holding the subscription's lock, in offset order per
// subscription, so they must not block: enqueue and return.
type Subscriber interface {
	// Deliver hands over one message for one of the subscriber's
	// subscriptions. The subscriber encodes it through d.Frame so that the
	// bytes are built once per form and shared by all subscribers.
	Deliver(s *Subscription, d *Delivery)
	// Reset says that the stream of s jumped (its epoch changed, or a gap
	// could not be filled). The subscriber tells its client (reject_history)
	// or ends the connection so that the client resumes.
	Reset(s *Subscription, reason string)
	// SocketID is the connection's sid, matched against exclude_socket.
	SocketID() string
}

// historyLimits are a broker's retention settings, changed live on reload.
type historyLimits struct {
	limit atomic.Int64 // messages per stream
	ttl   atomic.Int64 // nanoseconds
}

// SetLimits changes the history limit and TTL (0 or negative means the
// default). They apply to later publishes and reads; with a shared broker,
// every node should use the same values.
func (h *historyLimits) SetLimits(limit int, ttl time.Duration) {
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	if ttl <= 0 {
		ttl = DefaultHistoryTTL
	}
	h.limit.Store(int64(limit))
	h.ttl.Store(int64(ttl))
}

func (h *historyLimits) limits() (int, time.Duration) {
	return int(h.limit.Load()), time.Duration(h.ttl.Load())
}
