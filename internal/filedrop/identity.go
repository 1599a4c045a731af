package filedrop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/keyfile"
)

// KeyFile is where the hub's file-encryption identity lives, relative to
// the data directory. It is outside any bundle, so rendering, copying or
// publishing a bundle never carries it.
const KeyFile = "keys/filedrop.agekey"

// LoadOrCreateIdentity returns the hub's age identity from
// <dataDir>/keys/filedrop.agekey, creating it on first start.
//
// The file is created atomically and only if it is missing: the key is
// written to a temporary file, flushed, and hard-linked into place, which
// fails rather than overwrites if another process created the key in the
// meantime (that key then wins and is loaded). Overwriting would make
// every stored file unreadable, so nothing here ever replaces a key.
//
// A key file readable or writable by anyone but its owner (mode looser
// than 0600), a symlink, or a keys directory writable by others is
// refused: whoever can read the key can read every file ever dropped.
func LoadOrCreateIdentity(dataDir string) (*age.X25519Identity, error) {
	if dataDir == "" {
		return nil, errors.New("filedrop: no data directory given for the encryption key")
	}
	path := filepath.Join(dataDir, filepath.FromSlash(KeyFile))
	b, err := keyfile.LoadOrCreate(path, "encryption key", func(b []byte) error {
		_, err := parseIdentity(b)
		return err
	}, func() ([]byte, error) {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(nil, "# hubkit file-drop identity: every stored file is encrypted to it.\n"+
			"# Back it up separately from the data; never copy it into a bundle.\n"+
			"# created: %s\n# public key: %s\n%s\n",
			time.Now().UTC().Format(time.RFC3339), id.Recipient(), id), nil
	})
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	return parseIdentity(b)
}

// loadIdentity reads an existing key file.
func loadIdentity(path string) (*age.X25519Identity, error) {
	b, err := keyfile.Load(path, "encryption key", func(b []byte) error {
		_, err := parseIdentity(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return parseIdentity(b)
}

// parseIdentity reads an age key file: comment lines and exactly one
// AGE-SECRET-KEY-1 line, as age-keygen writes it.
func parseIdentity(b []byte) (*age.X25519Identity, error) {
	var id *age.X25519Identity
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if id != nil {
			return nil, fmt.Errorf("line %d: more than one key", n)
		}
		var err error
		if id, err = age.ParseX25519Identity(line); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if id == nil {
		return nil, errors.New("no AGE-SECRET-KEY-1 line")
	}
	return id, nil
}
