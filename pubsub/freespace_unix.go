//go:build unix

package pubsub

import "syscall"

// freeBytes is the space an unprivileged writer may still use on the
// filesystem holding path. The Statfs_t field types differ between the
// Unixes (FreeBSD's Bavail is signed and may be negative when root's reserve
// is in use), hence the explicit conversions.
func freeBytes(path string) (uint64, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return 0, err
	}
	avail := int64(fs.Bavail)
	if avail < 0 {
		avail = 0
	}
	return uint64(avail) * uint64(fs.Bsize), nil
}
