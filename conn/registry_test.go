package conn

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func newIPConn(sid, ip string) *Conn {
	return New(sid, ip, NoMetrics{}, lineCodec{}, 0)
}

func isDone(c *Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// Shutdown tells every connection server_restart (reconnect:true), refuses
// new ones, and returns once the last connection is removed, long before
// its wait is over.
func TestRegistryShutdownWaitsForTheLastRemove(t *testing.T) {
	r := NewRegistry()
	a, b := newTestConn("a", 0), newTestConn("b", 0)
	for _, c := range []*Conn{a, b} {
		if err := r.Add(c, 0); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		r.Shutdown(time.Hour)
		close(done)
	}()
	eventually(t, "Shutdown did not close every connection", func() bool { return isDone(a) && isDone(b) })
	for _, c := range []*Conn{a, b} {
		if got := joined(c.FinalBytes()); got != "disconnect server_restart true\n" {
			t.Fatalf("%s was sent %q", c.SID(), got)
		}
	}
	if err := r.Add(newTestConn("late", 0), 0); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("Add during shutdown: %v", err)
	}
	r.Remove(a)
	select {
	case <-done:
		t.Fatal("Shutdown returned while a connection was still open")
	default:
	}
	r.Remove(b)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return after the last connection left")
	}
	if n := r.Len(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

// A connection that never leaves holds Shutdown only for its wait.
func TestRegistryShutdownTimesOut(t *testing.T) {
	r := NewRegistry()
	c := newTestConn("stuck", 0)
	if err := r.Add(c, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		r.Shutdown(10 * time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not give up on a connection that never left")
	}
	if !isDone(c) || r.Len() != 1 {
		t.Fatalf("closed %v, %d registered", isDone(c), r.Len())
	}
}

// An empty registry shuts down at once, whatever the wait.
func TestRegistryShutdownEmpty(t *testing.T) {
	r := NewRegistry()
	done := make(chan struct{})
	go func() {
		r.Shutdown(time.Hour)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown of an empty registry waited")
	}
	if err := r.Add(newTestConn("a", 0), 0); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("Add after shutdown: %v", err)
	}
}

// A remote disconnect ends every connection with the identifiers given and
// no other; identifiers set before or after Add, or changed, are indexed,
// and a removed connection is forgotten.
func TestRegistryDisconnectIdentifiers(t *testing.T) {
	r := NewRegistry()
	a, b, c, d := newTestConn("a", 0), newTestConn("b", 0), newTestConn("c", 0), newTestConn("d", 0)
	a.SetIdentifiers(`{"user":1}`) // before Add
	for _, x := range []*Conn{a, b, c, d} {
		if err := r.Add(x, 0); err != nil {
			t.Fatal(err)
		}
	}
	b.SetIdentifiers(`{"user":1}`) // after Add
	c.SetIdentifiers(`{"user":2}`)
	// d has none.

	if n := r.DisconnectIdentifiers(`{"user":1}`, false); n != 2 {
		t.Fatalf("ended %d connections, want 2", n)
	}
	for _, x := range []*Conn{a, b} {
		if got := joined(x.FinalBytes()); got != "disconnect remote false\n" {
			t.Fatalf("%s was sent %q", x.SID(), got)
		}
	}
	if isDone(c) || isDone(d) {
		t.Fatal("a connection with other identifiers was ended")
	}
	if n := r.DisconnectIdentifiers("", true); n != 0 || isDone(d) {
		t.Fatalf("empty identifiers ended %d connections", n)
	}
	if n := r.DisconnectIdentifiers(`{"user":3}`, true); n != 0 {
		t.Fatalf("unknown identifiers ended %d connections", n)
	}

	// c changes identity: it is found under the new one only.
	c.SetIdentifiers(`{"user":3}`)
	if n := r.DisconnectIdentifiers(`{"user":2}`, true); n != 0 || isDone(c) {
		t.Fatalf("the old identifiers still reach c (%d)", n)
	}
	if n := r.DisconnectIdentifiers(`{"user":3}`, true); n != 1 || !isDone(c) {
		t.Fatalf("the new identifiers ended %d connections", n)
	}
	if got := joined(c.FinalBytes()); got != "disconnect remote true\n" {
		t.Fatalf("c was sent %q", got)
	}

	// Removed connections are forgotten, and stay so when their
	// identifiers change afterwards.
	r.Remove(a)
	r.Remove(b)
	b.SetIdentifiers(`{"user":4}`)
	if n := r.DisconnectIdentifiers(`{"user":1}`, true); n != 0 {
		t.Fatalf("removed connections ended again (%d)", n)
	}
	if n := r.DisconnectIdentifiers(`{"user":4}`, true); n != 0 {
		t.Fatalf("a removed connection was indexed again (%d)", n)
	}
}

// max_connections_per_ip counts open connections and held requests per
// address; Uncount frees a connection's place while it stays registered,
// and its removal then does not free it twice.
func TestRegistryPerAddressLimit(t *testing.T) {
	r := NewRegistry()
	const ip, limit = "10.0.0.1", 2
	add := func(sid, addr string, max int) (*Conn, error) {
		c := newIPConn(sid, addr)
		return c, r.Add(c, max)
	}
	a1, _ := add("a1", ip, limit)
	if _, err := add("a2", ip, limit); err != nil {
		t.Fatal(err)
	}
	if _, err := add("a3", ip, limit); !errors.Is(err, ErrTooManyPerIP) {
		t.Fatalf("third connection from one address: %v", err)
	}
	if _, err := add("b1", "10.0.0.2", limit); err != nil {
		t.Fatalf("another address was refused: %v", err)
	}
	// Added without a limit, it still counts against its address.
	u, err := add("u", ip, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.HoldIP(ip, limit) {
		t.Fatal("a request was held over the limit")
	}

	// Removing a connection frees its place, once: a2 and u still count.
	r.Remove(a1)
	r.Remove(a1)
	if _, err := add("a4", ip, limit); !errors.Is(err, ErrTooManyPerIP) {
		t.Fatalf("a removal freed two places: %v", err)
	}

	// Uncount frees u's place while u stays registered; a held request
	// (a POST body being read) takes it until released.
	r.Uncount(u)
	if !r.HoldIP(ip, limit) {
		t.Fatal("Uncount did not free the place")
	}
	if _, err := add("a5", ip, limit); !errors.Is(err, ErrTooManyPerIP) {
		t.Fatalf("a held request did not count: %v", err)
	}
	r.ReleaseIP(ip)
	if _, err := add("a6", ip, limit); err != nil {
		t.Fatalf("the released place was refused: %v", err)
	}
	if n := r.Len(); n != 4 { // a2, b1, u, a6
		t.Fatalf("%d registered, want 4", n)
	}
	// Removing the uncounted u frees nothing more.
	r.Remove(u)
	if _, err := add("a7", ip, limit); !errors.Is(err, ErrTooManyPerIP) {
		t.Fatalf("u was uncounted again on removal: %v", err)
	}
}

// Many connections with one identifiers string (an app that names nobody)
// move the index from a list to a map and stay exact through removals.
func TestRegistryManyConnectionsShareIdentifiers(t *testing.T) {
	r := NewRegistry()
	var cs []*Conn
	for i := 0; i < 3*idSetList; i++ {
		c := newTestConn(fmt.Sprint("c", i), 0)
		c.SetIdentifiers("{}")
		if err := r.Add(c, 0); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for _, c := range cs[:2*idSetList+3] {
		r.Remove(c)
	}
	if n := r.DisconnectIdentifiers("{}", true); n != idSetList-3 {
		t.Fatalf("disconnected %d, want %d", n, idSetList-3)
	}
	for _, c := range cs[2*idSetList+3:] {
		if c.EndReason() != "remote" {
			t.Fatalf("%s not disconnected", c.SID())
		}
		r.Remove(c)
	}
	if len(r.byIDs) != 0 {
		t.Fatalf("index left: %d entries", len(r.byIDs))
	}
}
