package pubsub

import "sync"

// watchSet counts the hubs watching each stream of a one-node broker
// (memory, file): a watched stream is never evicted. Its lock is a leaf:
// nothing else is locked while holding it.
type watchSet struct {
	mu sync.Mutex
	n  map[string]int
}

// Watch implements StreamWatcher: a watched stream is never evicted.
func (w *watchSet) Watch(stream string) {
	w.mu.Lock()
	if w.n == nil {
		w.n = make(map[string]int)
	}
	w.n[stream]++
	w.mu.Unlock()
}

// Unwatch implements StreamWatcher.
func (w *watchSet) Unwatch(stream string) {
	w.mu.Lock()
	if c := w.n[stream]; c <= 1 {
		delete(w.n, stream)
	} else {
		w.n[stream] = c - 1
	}
	w.mu.Unlock()
}

func (w *watchSet) watched(stream string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n[stream] > 0
}
