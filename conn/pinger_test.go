package conn

import (
	"testing"
	"time"
)

// A pinger lives while it has connections: the last one to leave retires
// it, so reloads that change ping_interval leave no pinger behind.
func TestPingersRetireWhenUnused(t *testing.T) {
	w := NewPool(1)
	a := newTestConn("a", 0)
	b := newTestConn("b", 0)
	c := newTestConn("c", 0)
	pa := w.addPing(a, time.Hour)
	pb := w.addPing(b, 2*time.Hour)
	if pc := w.addPing(c, time.Hour); pc != pa || w.pingerCount() != 2 {
		t.Fatalf("pingers %d", w.pingerCount())
	}
	pa.remove(a)
	if w.pingerCount() != 2 {
		t.Fatal("a pinger with a connection left was retired")
	}
	pa.remove(c)
	pb.remove(b)
	if n := w.pingerCount(); n != 0 {
		t.Fatalf("%d pingers left without connections", n)
	}
	select {
	case <-pa.stop:
	default:
		t.Fatal("the retired pinger's goroutine was not stopped")
	}
	// A new connection on a retired interval gets a new pinger.
	p := w.addPing(a, time.Hour)
	if p == pa || w.pingerCount() != 1 {
		t.Fatal("no fresh pinger after retirement")
	}
	p.remove(a)
	w.Close()
}
