package sse

import "time"

// Metrics receives what the SSE side counts. The root package implements it
// on Caddy's Prometheus registry; nil-safe through noMetrics.
type Metrics interface {
	ConnectionOpened()
	ConnectionClosed(reason string)
	Refused(status int)
	SubscriptionsAdded(n int)
	SubscriptionsRemoved(n int)
	// Delivered counts messages written into client queues.
	Delivered(n int)
	SlowClientDropped()
	// History counts history requests by outcome: recovered, not_recovered.
	History(outcome string)
	RPC(method string, d time.Duration, err error)
	// Deferred counts connections answered 200 + disconnect reconnect:true
	// because a dependency is down, by cause: broker, rpc.
	Deferred(cause string)
}

type noMetrics struct{}

func (noMetrics) ConnectionOpened()                {}
func (noMetrics) ConnectionClosed(string)          {}
func (noMetrics) Refused(int)                      {}
func (noMetrics) SubscriptionsAdded(int)           {}
func (noMetrics) SubscriptionsRemoved(int)         {}
func (noMetrics) Delivered(int)                    {}
func (noMetrics) SlowClientDropped()               {}
func (noMetrics) History(string)                   {}
func (noMetrics) RPC(string, time.Duration, error) {}
func (noMetrics) Deferred(string)                  {}
