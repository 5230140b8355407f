package conn

import (
	"sync"
	"time"
)

// pinger pings every taken-over connection with one interval from one
// goroutine and one timer, and notices clients that went away.
type pinger struct {
	w        *Pool
	interval time.Duration
	stop     chan struct{}
	mu       sync.Mutex
	conns    map[*Conn]struct{}
}

// addPing puts a connection on the pinger for its interval and returns it
// (nil when the pool is closed).
func (w *Pool) addPing(c *Conn, interval time.Duration) *pinger {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pingers[interval]
	if p == nil && !w.closed {
		p = &pinger{w: w, interval: interval, stop: make(chan struct{}), conns: make(map[*Conn]struct{})}
		w.pingers[interval] = p
		go p.run(w)
	}
	if p != nil {
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
	}
	return p
}

// remove takes a connection off its pinger; the last one retires the
// pinger (its goroutine and timer), so that reloads with changing
// ping_interval values do not pile pingers up. Adding and retiring both
// run under the pool's lock, so no connection joins a retired pinger.
func (p *pinger) remove(c *Conn) {
	w := p.w
	w.mu.Lock()
	defer w.mu.Unlock()
	p.mu.Lock()
	delete(p.conns, c)
	empty := len(p.conns) == 0
	p.mu.Unlock()
	if empty && !w.closed && w.pingers[p.interval] == p {
		delete(w.pingers, p.interval)
		close(p.stop)
	}
}

// pingerCount is the number of live pingers.
func (w *Pool) pingerCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pingers)
}

func (p *pinger) run(w *Pool) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	var batch []*Conn
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			batch = batch[:0]
			for c := range p.conns {
				batch = append(batch, c)
			}
			p.mu.Unlock()
			for _, c := range batch {
				// A connection with a reader learns of the client's end
				// from its reads; the peek would eat its input.
				if c.onReadable == nil && c.peerClosed() {
					c.closeQuietly("client_gone")
					continue
				}
				// Codecs share one frame per round between connections.
				c.Enqueue(c.codec.Ping(now))
			}
		}
	}
}
