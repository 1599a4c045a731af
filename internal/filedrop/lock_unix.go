//go:build unix

package filedrop

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting. Closing f
// (or the process dying) releases it.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
