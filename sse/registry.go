package sse

import (
	"errors"
	"sync"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Registry tracks open connections so that the process can end them on exit
// and remote disconnect commands can find them. It outlives handler
// instances: it lives with the hub across config reloads.
type Registry struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	perIP map[string]int
	// closing is set once the process exits: new connections are refused.
	closing bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{conns: make(map[*Conn]struct{}), perIP: make(map[string]int)}
}

var (
	errShuttingDown = errors.New("server shutting down")
	errTooManyPerIP = errors.New("too many connections from this address")
)

// add registers a connection; maxPerIP > 0 limits open connections per
// client address.
func (r *Registry) add(c *Conn, maxPerIP int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return errShuttingDown
	}
	if maxPerIP > 0 && r.perIP[c.ip] >= maxPerIP {
		return errTooManyPerIP
	}
	r.conns[c] = struct{}{}
	r.perIP[c.ip]++
	return nil
}

func (r *Registry) remove(c *Conn) {
	r.mu.Lock()
	if _, ok := r.conns[c]; ok {
		delete(r.conns, c)
		if r.perIP[c.ip]--; r.perIP[c.ip] <= 0 {
			delete(r.perIP, c.ip)
		}
	}
	r.mu.Unlock()
}

// Len is the number of open connections.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

func (r *Registry) snapshot() []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Conn, 0, len(r.conns))
	for c := range r.conns {
		out = append(out, c)
	}
	return out
}

// Shutdown ends every open connection with disconnect server_restart and
// reconnect:true (raw connections simply end), refuses new ones, and waits
// up to wait for the connections to be gone: taken-over connections are
// written by the pool, which the process must not leave before they are.
func (r *Registry) Shutdown(wait time.Duration) {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	for _, c := range r.snapshot() {
		c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonServerRestart, Reconnect: true, ForceReconnect: true})
	}
	deadline := time.Now().Add(wait)
	for r.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// DisconnectIdentifiers ends every connection whose identifiers string equals
// ids (AnyCable ends only one of them), and returns how many it ended.
func (r *Registry) DisconnectIdentifiers(ids string, reconnect bool) int {
	n := 0
	for _, c := range r.snapshot() {
		if ids != "" && c.Identifiers() == ids {
			c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonRemote, Reconnect: reconnect, ForceReconnect: true})
			n++
		}
	}
	return n
}
