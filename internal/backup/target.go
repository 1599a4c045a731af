package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Target is where snapshots are kept: a directory or an S3-compatible
// bucket. The engine knows only this; dirtarget and s3target implement it
// and pass the same contract tests (targettest).
//
// Keys are slash-separated relative names ("blobs/ab/ab…age"). A Put is
// atomic: a reader sees the whole object or none, never a part of it.
type Target interface {
	// Put stores r under key, replacing any object there. size is the
	// number of bytes r yields, or -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object; a missing one is an error wrapping ErrNotExist.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object; a missing one is an error wrapping ErrNotExist.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for every object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes the object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// String names the target for messages and the status file, without
	// credentials.
	String() string
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// ErrNotExist is wrapped by the errors of Get and Stat for a missing object.
var ErrNotExist = fs.ErrNotExist

// CheckKey reports whether key is a name every target stores as it is:
// non-empty slash-separated segments of letters, digits and ".-_", no
// "." or ".." segment, no leading or trailing slash. Targets call it so
// that no key can name a file outside a directory target.
func CheckKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("backup: object key %q is empty or too long", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("backup: object key %q has an empty, '.' or '..' segment", key)
		}
		for _, c := range seg {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
				return fmt.Errorf("backup: object key %q has the character %q; only letters, digits, '.', '-', '_' and '/' are allowed", key, c)
			}
		}
	}
	return nil
}

// CheckPrefix is CheckKey for a List prefix, which may be empty or end in a slash.
func CheckPrefix(prefix string) error {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		if prefix == "" {
			return nil
		}
		return errors.New("backup: list prefix \"/\" is not allowed; use \"\" for all objects")
	}
	return CheckKey(p)
}
