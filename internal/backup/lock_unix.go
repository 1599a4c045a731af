//go:build unix

package backup

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting, so a
// second backup of the same data directory fails at once. Closing f
// releases it.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
