package cable

import (
	"runtime"
	"sync"
	"weak"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// Replays shares one Delivery per stored message between the handshakes
// replaying it at the same time (a crowd resuming after a restart), so that
// each frame form of it is built once, not once per connection. It holds
// them weakly: an entry lives as long as some replay uses it.
type Replays struct {
	m sync.Map // replayKey -> weak.Pointer[pubsub.Delivery]
}

// replayKey names one stored message of the broker.
type replayKey struct {
	stream, epoch string
	offset        uint64
}

// NewReplays returns an empty cache.
func NewReplays() *Replays { return &Replays{} }

// delivery returns the Delivery that replays of m share, making one if no
// replay holds it now. An entry is removed when its Delivery is collected.
func (r *Replays) delivery(stream string, m *pubsub.Message) *pubsub.Delivery {
	k := replayKey{stream: stream, epoch: m.Epoch, offset: m.Offset}
	if v, ok := r.m.Load(k); ok {
		if d := v.(weak.Pointer[pubsub.Delivery]).Value(); d != nil {
			return d
		}
	}
	d := &pubsub.Delivery{Msg: *m}
	wp := weak.Make(d)
	r.m.Store(k, wp)
	runtime.AddCleanup(d, func(k replayKey) { r.m.CompareAndDelete(k, wp) }, k)
	return d
}
