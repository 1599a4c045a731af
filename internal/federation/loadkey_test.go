package federation

import (
	"errors"
	"io/fs"
	"testing"
)

func TestLoadSigningKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSigningKey(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no key yet: %v, want ErrNotExist (and no key created)", err)
	}
	k, err := LoadOrCreateSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadSigningKey(dir)
	if err != nil || !got.Equal(k) {
		t.Fatalf("LoadSigningKey = %v, want the created key", err)
	}
}
