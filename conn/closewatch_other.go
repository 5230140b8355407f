//go:build !linux

package conn

import "go.uber.org/zap"

// closeWatch is Linux-only; elsewhere the pingers' peek notices clients that
// went away, one ping interval later at most.
type closeWatch struct{}

func newCloseWatch() *closeWatch       { return nil }
func (w *closeWatch) add(*Conn) bool   { return false }
func (w *closeWatch) remove(*Conn)     {}
func (w *closeWatch) watched() []*Conn { return nil }
func (w *closeWatch) close()           {}

func (w *closeWatch) setLogger(*zap.Logger) {}
func (w *closeWatch) failureCount() int64   { return 0 }
