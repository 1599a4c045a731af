package filedrop

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
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
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filedrop: create key directory: %w", err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	if di.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("filedrop: key directory %s has mode %v, writable by others who could replace the key; run: chmod 700 %s", dir, di.Mode().Perm(), dir)
	}
	id, err := loadIdentity(path)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return createIdentity(path)
}

func loadIdentity(path string) (*age.X25519Identity, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("filedrop: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("filedrop: encryption key %s is not a regular file (%v); it must be a plain file with mode 0600", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("filedrop: encryption key %s has mode %v: anyone who can read it can read every stored file; run: chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("filedrop: read encryption key: %w", err)
	}
	id, err := parseIdentity(b)
	if err != nil {
		return nil, fmt.Errorf("filedrop: encryption key %s: %w (restore it from backup; without it the stored files cannot be read)", path, err)
	}
	return id, nil
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

func createIdentity(path string) (*age.X25519Identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("filedrop: generate encryption key: %w", err)
	}
	content := fmt.Sprintf("# hubkit file-drop identity: every stored file is encrypted to it.\n"+
		"# Back it up separately from the data; never copy it into a bundle.\n"+
		"# created: %s\n# public key: %s\n%s\n",
		time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("filedrop: random: %w", err)
	}
	tmp := path + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filedrop: create encryption key: %w", err)
	}
	defer os.Remove(tmp)
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return nil, fmt.Errorf("filedrop: write encryption key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("filedrop: write encryption key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("filedrop: write encryption key: %w", err)
	}
	// Link, unlike rename, fails if the name exists: a key another process
	// created meanwhile is kept, and loaded below.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadIdentity(path)
		}
		return nil, fmt.Errorf("filedrop: install encryption key: %w", err)
	}
	os.Remove(tmp)
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return id, nil
}
