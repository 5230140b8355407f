// Package cable is the Action Cable session, independent of the transport
// that carries it: authentication (JWT, noauth, the app's connect over
// package rpc), subscription decisions ($pubsub public and signed streams,
// Turbo and CableReady streams locally, every other channel through the
// app), joining streams with their history and recovery, and the end of the
// session (the app's disconnect call, exactly once).
//
// A transport (sse, ws) parses its requests, drives a Session and
// implements Transport: how a reply, a transmission from the app and
// recovered history are framed and queued on its connection (package conn).
// It imports pubsub, protocol, rpc and conn; it knows nothing of HTTP
// framing or of Caddy.
package cable

import (
	"time"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/conn"
	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/rpc"
)

// Transport is how a session reaches its client.
type Transport interface {
	// Subscriber receives the hub's messages for the session's streams.
	pubsub.Subscriber
	// Conn is the connection's queue and writer.
	Conn() *conn.Conn
	// Reply queues a server-made message: welcome, confirmations, history
	// answers. A transport that carries data only (SSE raw) drops it.
	Reply(r protocol.Reply)
	// Transmit queues a message the app sent in an RPC answer.
	Transmit(msg string)
	// Replay queues recovered history of sub, as much of it as fits within
	// max_pending (the first delivery always when first is set, so that a
	// resume makes progress), and returns how many deliveries it took.
	Replay(sub *pubsub.Subscription, ds []*pubsub.Delivery, first bool) int
}

// Config is what sessions of one handler configuration share.
type Config struct {
	Hub *pubsub.Hub
	// Replays shares the deliveries of stored messages between concurrent
	// replays; it lives with the hub.
	Replays *Replays
	// RPC is the app; nil when no rpc_url is configured.
	RPC *rpc.Client
	// JWT verifies identification tokens locally (anycable-rails-jwt);
	// nil or disabled when no jwt secret is configured.
	JWT *protocol.JWTVerifier
	// EnforceJWT refuses connections without a token.
	EnforceJWT bool
	// NoAuth accepts every connection without asking the app.
	NoAuth bool
	// PublicStreams allows unsigned stream names.
	PublicStreams bool
	// Streams verifies $pubsub signed stream names; Turbo and CableReady
	// verify their channels' names locally when enabled.
	Streams    *protocol.Verifier
	Turbo      *protocol.Verifier
	CableReady *protocol.Verifier
	// MaxStreamName bounds stream names.
	MaxStreamName int
	Log           *zap.Logger
	Metrics       Metrics
}

// Metrics receives what sessions count. Nil-safe.
type Metrics interface {
	// History counts history requests by outcome: recovered,
	// not_recovered, partial.
	History(outcome string)
	RPC(method string, d time.Duration, err error)
}

type noMetrics struct{}

func (noMetrics) History(string)                   {}
func (noMetrics) RPC(string, time.Duration, error) {}

func (cfg *Config) metrics() Metrics {
	if cfg.Metrics == nil {
		return noMetrics{}
	}
	return cfg.Metrics
}

// Kind is how a session step ended.
type Kind uint8

const (
	// OK: done.
	OK Kind = iota
	// Unauthorized: the token or the app refused the connection.
	Unauthorized
	// Invalid: the client asked for something malformed or not allowed.
	Invalid
	// Rejected: the app rejected a subscription or failed a command.
	Rejected
	// Full: a cap of the server (streams, subscriptions) is reached.
	Full
	// Unavailable: the app or the broker cannot serve it now; the client
	// should come back (Outcome.Cause says which).
	Unavailable
)

// Causes of Unavailable.
const (
	CauseBroker = "broker"
	CauseRPC    = "rpc"
)

// Outcome is the result of a session step: its kind and a short reason
// for the client and the log.
type Outcome struct {
	Kind   Kind
	Reason string
	// Cause names what was unavailable (CauseRPC, CauseBroker).
	Cause string
}

// Done is the outcome of a step that succeeded.
var Done = Outcome{}

func fail(k Kind, reason string) Outcome { return Outcome{Kind: k, Reason: reason} }
