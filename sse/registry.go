package sse

import (
	"sync"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Registry tracks open connections so that the process can end them on exit
// and remote disconnect commands can find them. It outlives handler
// instances: it lives with the hub across config reloads.
type Registry struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	// closing is set once the process exits: new connections are refused.
	closing bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{conns: make(map[*Conn]struct{})}
}

func (r *Registry) add(c *Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Registry) remove(c *Conn) {
	r.mu.Lock()
	delete(r.conns, c)
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
// reconnect:true (raw connections simply end), and refuses new ones.
func (r *Registry) Shutdown() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	for _, c := range r.snapshot() {
		c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonServerRestart, Reconnect: true, ForceReconnect: true})
	}
}

// DisconnectIdentifiers ends every connection whose identifiers string equals
// ids (AnyCable ends only one of them), and returns how many it ended.
func (r *Registry) DisconnectIdentifiers(ids string, reconnect bool) int {
	n := 0
	for _, c := range r.snapshot() {
		if c.identifiers == ids && ids != "" {
			c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonRemote, Reconnect: reconnect, ForceReconnect: true})
			n++
		}
	}
	return n
}
