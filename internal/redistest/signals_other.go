//go:build !unix

package redistest

import "syscall"

// Without job-control signals a process cannot be frozen: Freeze and Thaw
// fail the test with os.Process.Signal's "not supported" error. (These
// tests need a redis-server binary, which is built for Unix.)
const (
	sigStop = syscall.Signal(-1)
	sigCont = syscall.Signal(-2)
)
