//go:build unix

package redistest

import "syscall"

// Freeze and Thaw stop and resume the process with job-control signals.
const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)
