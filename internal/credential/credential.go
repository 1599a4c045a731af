// Package credential looks up the secrets a hub is given by name (a region
// file's `client_secret: { env: NAME }`): as a systemd credential where the
// hub runs as a systemd unit, else as an environment variable.
//
// A systemd credential (LoadCredential=NAME:/etc/hubkit/credentials/...)
// is a file below $CREDENTIALS_DIRECTORY that only the unit's user can
// read; unlike an environment variable it is not inherited by child
// processes and not visible in /proc/<pid>/environ. The SSH target's unit
// passes every secret that way (internal/deploy).
package credential

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DirEnv is the variable in which systemd names the unit's credentials directory.
const DirEnv = "CREDENTIALS_DIRECTORY"

// Lookup returns the secret called name: the credential file
// $CREDENTIALS_DIRECTORY/name when it exists (trailing line breaks
// trimmed), else the environment variable name. ok is false when neither
// holds a non-empty value; err is set only when a credential file exists
// but cannot be read.
func Lookup(name string) (value string, ok bool, err error) {
	if dir := os.Getenv(DirEnv); dir != "" && validName(name) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case err == nil:
			v := strings.TrimRight(string(b), "\r\n")
			return v, v != "", nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", false, fmt.Errorf("systemd credential %s: %w", name, err)
		}
	}
	v := os.Getenv(name)
	return v, v != "", nil
}

// validName keeps a name from leaving the credentials directory.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}
