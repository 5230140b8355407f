package conn

import (
	"sync"
	"time"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Owned is the set of connections one handler configuration opened, so
// that a reload with stream_close_delay can send them to the new one. The
// zero value is ready to use; transports' servers embed it.
type Owned struct {
	mu   sync.Mutex
	own  map[*Conn]struct{}
	gone bool // CloseAfter was called: new connections are refused too
}

// Own records c; false once CloseAfter was called (the configuration was
// replaced: the client belongs to the new one).
func (o *Owned) Own(c *Conn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.gone {
		return false
	}
	if o.own == nil {
		o.own = make(map[*Conn]struct{})
	}
	o.own[c] = struct{}{}
	return true
}

// Disown forgets c (it ended).
func (o *Owned) Disown(c *Conn) {
	o.mu.Lock()
	delete(o.own, c)
	o.mu.Unlock()
}

// CloseAfter ends, after delay, every connection owned, with disconnect
// server_restart reconnect:true: clients come back to the new
// configuration and resume from their last position.
func (o *Owned) CloseAfter(delay time.Duration) {
	time.AfterFunc(delay, func() {
		o.mu.Lock()
		o.gone = true
		conns := make([]*Conn, 0, len(o.own))
		for c := range o.own {
			conns = append(conns, c)
		}
		o.mu.Unlock()
		for _, c := range conns {
			c.CloseWith(protocol.Reply{Type: protocol.TypeDisconnect, Reason: protocol.ReasonServerRestart, Reconnect: true, ForceReconnect: true})
		}
	})
}
