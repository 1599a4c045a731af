// Package keyfile keeps a hub's private keys on its host: created once at
// first start, mode 0600 in a 0700 directory, never replaced. A hub key
// that is lost or swapped makes stored data unreadable or lets someone
// else speak for the hub, so everything here fails rather than guesses.
package keyfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreate returns the content of the key file at path, creating it
// with generate's content if it is missing. what names the key in errors
// ("encryption key"); parse checks the content of an existing file.
//
// The file is created atomically and only if it is missing: the content
// is written to a temporary file, flushed, and hard-linked into place,
// which fails rather than overwrites if another process created the key
// meanwhile (that key then wins and is loaded).
//
// A key file readable or writable by anyone but its owner, a symlink, or
// a key directory writable by others is refused.
func LoadOrCreate(path, what string, parse func([]byte) error, generate func() ([]byte, error)) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if di.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("key directory %s has mode %v, writable by others who could replace the %s; run: chmod 700 %s", dir, di.Mode().Perm(), what, dir)
	}
	b, err := Load(path, what, parse)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	content, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", what, err)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	tmp := path + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	defer os.Remove(tmp)
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	// Link, unlike rename, fails if the name exists: a key another process
	// created meanwhile is kept, and loaded below.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Load(path, what, parse)
		}
		return nil, fmt.Errorf("install %s: %w", what, err)
	}
	os.Remove(tmp)
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return nil, fmt.Errorf("flush key directory: %w", err)
	}
	return content, nil
}

// Load reads an existing key file with LoadOrCreate's checks; a missing
// file is an error wrapping fs.ErrNotExist.
func Load(path, what string, parse func([]byte) error) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file (%v); it must be a plain file with mode 0600", what, path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %v and must be readable by the hub alone; run: chmod 600 %s", what, path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if err := parse(b); err != nil {
		return nil, fmt.Errorf("%s %s: %w (restore it from backup; never replace it with a new one)", what, path, err)
	}
	return b, nil
}
