//go:build !unix

package filedrop

import "os"

// lockFile does nothing where flock is missing; hubs run on Linux.
func lockFile(f *os.File) error { return nil }
