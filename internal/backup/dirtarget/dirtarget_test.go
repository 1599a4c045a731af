package dirtarget

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/backup/targettest"
)

func TestContract(t *testing.T) {
	targettest.Run(t, func(t *testing.T) backup.Target {
		d, err := Open(filepath.Join(t.TempDir(), "backups"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// Objects hold encrypted case data: files 0600, directories 0700.
func TestModes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "b")
	n := 0
	targettest.Run(t, func(t *testing.T) backup.Target {
		n++
		d, err := Open(filepath.Join(root, strconv.Itoa(n)))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
}
