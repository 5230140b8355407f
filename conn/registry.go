package conn

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
	// byIDs indexes connections by their identifiers string, for remote
	// disconnects: one command must not walk every connection.
	byIDs map[string]*idSet
	// closing is set once the process exits: new connections are refused.
	closing bool
	// empty, when set, is closed once the last connection is removed.
	empty chan struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{conns: make(map[*Conn]struct{}), perIP: make(map[string]int), byIDs: make(map[string]*idSet)}
}

var (
	ErrShuttingDown = errors.New("server shutting down")
	ErrTooManyPerIP = errors.New("too many connections from this address")
)

// Add registers a connection; maxPerIP > 0 limits open connections per
// client address.
func (r *Registry) Add(c *Conn, maxPerIP int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return ErrShuttingDown
	}
	if maxPerIP > 0 && r.perIP[c.ip] >= maxPerIP {
		return ErrTooManyPerIP
	}
	r.conns[c] = struct{}{}
	r.perIP[c.ip]++
	c.ipCounted = true
	c.mu.Lock()
	c.registry = r
	ids := c.identifiers
	c.mu.Unlock()
	r.indexLocked(c, ids)
	return nil
}

// reindex moves c from the index entry of its old identifiers to the new
// one; a connection that already left stays out.
func (r *Registry) reindex(c *Conn, old, ids string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[c]; !ok {
		return
	}
	r.unindexLocked(c, old)
	r.indexLocked(c, ids)
}

func (r *Registry) indexLocked(c *Conn, ids string) {
	if ids == "" {
		return
	}
	set := r.byIDs[ids]
	if set == nil {
		set = &idSet{}
		r.byIDs[ids] = set
	}
	set.add(c)
}

func (r *Registry) unindexLocked(c *Conn, ids string) {
	if set := r.byIDs[ids]; set != nil {
		if set.remove(c) == 0 {
			delete(r.byIDs, ids)
		}
	}
}

// idSet is the connections of one identifiers string: a user's few
// connections in a slice (most users have one: a map each would cost most
// of an idle connection's registry entry), a map past idSetList (an app
// whose identifiers are the same for every connection).
type idSet struct {
	list []*Conn
	set  map[*Conn]struct{}
}

const idSetList = 8

func (s *idSet) add(c *Conn) {
	if s.set != nil {
		s.set[c] = struct{}{}
		return
	}
	if len(s.list) < idSetList {
		s.list = append(s.list, c)
		return
	}
	s.set = make(map[*Conn]struct{}, 2*idSetList)
	for _, o := range s.list {
		s.set[o] = struct{}{}
	}
	s.set[c] = struct{}{}
	s.list = nil
}

// remove takes c out and returns how many are left.
func (s *idSet) remove(c *Conn) int {
	if s.set != nil {
		delete(s.set, c)
		return len(s.set)
	}
	for i, o := range s.list {
		if o == c {
			last := len(s.list) - 1
			s.list[i] = s.list[last]
			s.list[last] = nil
			s.list = s.list[:last]
			break
		}
	}
	return len(s.list)
}

func (s *idSet) all() []*Conn {
	if s == nil {
		return nil
	}
	if s.set == nil {
		return append([]*Conn(nil), s.list...)
	}
	out := make([]*Conn, 0, len(s.set))
	for c := range s.set {
		out = append(out, c)
	}
	return out
}

// HoldIP counts a request that is not a connection yet (a POST body being
// read) against its address's limit; ReleaseIP ends it.
func (r *Registry) HoldIP(ip string, maxPerIP int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if maxPerIP > 0 && r.perIP[ip] >= maxPerIP {
		return false
	}
	r.perIP[ip]++
	return true
}

func (r *Registry) ReleaseIP(ip string) {
	r.mu.Lock()
	if r.perIP[ip]--; r.perIP[ip] <= 0 {
		delete(r.perIP, ip)
	}
	r.mu.Unlock()
}

func (r *Registry) Remove(c *Conn) {
	r.mu.Lock()
	if _, ok := r.conns[c]; ok {
		delete(r.conns, c)
		r.unindexLocked(c, c.Identifiers())
		if len(r.conns) == 0 && r.empty != nil {
			close(r.empty)
			r.empty = nil
		}
		r.uncountLocked(c)
	}
	r.mu.Unlock()
}

// Uncount frees c's place in its address's max_connections_per_ip count
// once its stream is over, while it stays registered for the app's
// disconnect call: a client coming back is not refused meanwhile.
func (r *Registry) Uncount(c *Conn) {
	r.mu.Lock()
	r.uncountLocked(c)
	r.mu.Unlock()
}

func (r *Registry) uncountLocked(c *Conn) {
	if !c.ipCounted {
		return
	}
	c.ipCounted = false
	if r.perIP[c.ip]--; r.perIP[c.ip] <= 0 {
		delete(r.perIP, c.ip)
	}
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
	if wait <= 0 {
		return
	}
	// Woken by the last remove, not polled.
	r.mu.Lock()
	if len(r.conns) > 0 && r.empty == nil {
		r.empty = make(chan struct{})
	}
	empty := r.empty
	r.mu.Unlock()
	if empty == nil {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-empty:
	case <-t.C:
	}
}

// DisconnectIdentifiers ends every connection whose identifiers string equals
// ids (AnyCable ends only one of them), and returns how many it ended.
func (r *Registry) DisconnectIdentifiers(ids string, reconnect bool) int {
	if ids == "" {
		return 0
	}
	r.mu.Lock()
	conns := r.byIDs[ids].all()
	r.mu.Unlock()
	for _, c := range conns {
		c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonRemote, Reconnect: reconnect, ForceReconnect: true})
	}
	return len(conns)
}
