package pubsub

import (
	"sync"
	"sync/atomic"
)

// FrameKey names one encoding of a message. Form is chosen by the caller (for
// example GET, POST or raw framing); Identifier is empty when the form does
// not depend on the subscription's identifier.
type FrameKey struct {
	Form       uint8
	Identifier string
}

// inlineFrames is how many encodings a Delivery caches without allocating;
// a broadcast typically needs one to three.
const inlineFrames = 3

type frame struct {
	key   FrameKey
	bytes []byte
}

// Delivery is one message on its way to subscribers, with its encodings
// cached so that a broadcast is encoded once per form, never once per
// subscriber.
//
// The hub builds one Delivery per message and hands the same pointer to
// every subscriber of the stream; a subscriber may keep it (for example in a
// queue). Msg must be treated as read-only. Frame is safe for concurrent use:
// a joining subscription's Release may encode while the dispatcher does.
type Delivery struct {
	Msg Message

	// n is the number of entries of inline that are set. Entries below n are
	// never written again, so readers scan them without the lock.
	n      atomic.Int32
	mu     sync.Mutex // serialises builders
	inline [inlineFrames]frame
	// more holds the forms past the inline ones, by key: a POST connection
	// chooses its identifiers, and each is a form, so a scan would cost
	// O(identifiers) per lookup.
	more map[FrameKey][]byte // guarded by mu
}

// Frame returns the bytes cached under key, building them with build on
// first use. build runs at most once per key and delivery, under the
// delivery's lock: it must not call Frame on the same delivery. The returned
// bytes are shared by every subscriber and must not be modified.
func (d *Delivery) Frame(key FrameKey, build func(m *Message) []byte) []byte {
	n := int(d.n.Load())
	for i := 0; i < n; i++ {
		if d.inline[i].key == key {
			return d.inline[i].bytes
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Another builder may have added the key since the lock-free scan.
	n2 := int(d.n.Load())
	for i := n; i < n2; i++ {
		if d.inline[i].key == key {
			return d.inline[i].bytes
		}
	}
	if b, ok := d.more[key]; ok {
		return b
	}
	b := build(&d.Msg)
	if n2 < inlineFrames {
		d.inline[n2] = frame{key: key, bytes: b}
		d.n.Store(int32(n2 + 1)) // publishes the entry to lock-free readers
	} else {
		if d.more == nil {
			d.more = make(map[FrameKey][]byte)
		}
		d.more[key] = b
	}
	return b
}
