package filedrop

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "keys", "filedrop.agekey")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("keys directory mode %v, want 0700", di.Mode().Perm())
	}
	again, err := LoadOrCreateIdentity(dir)
	if err != nil || again.String() != id.String() {
		t.Fatalf("second start loaded a different key (%v)", err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "# public key: "+id.Recipient().String()) {
		t.Errorf("key file does not name its public key:\n%s", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "keys", "*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// A readable key is refused, with the fix in the message.
	os.Chmod(path, 0o644)
	_, err = LoadOrCreateIdentity(dir)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), path) {
		t.Fatalf("mode 0644: %v; want a refusal naming the file and chmod 600", err)
	}
	os.Chmod(path, 0o600)

	// A damaged key is an error, never silently replaced.
	os.WriteFile(path, []byte("# nothing here\n"), 0o600)
	if _, err := LoadOrCreateIdentity(dir); err == nil || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("damaged key: %v", err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != "# nothing here\n" {
		t.Fatal("a damaged key was overwritten")
	}
}

func TestIdentityRefusesSymlinkAndOpenDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateIdentity(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "keys", "filedrop.agekey")
	os.Rename(path, path+".real")
	os.Symlink(path+".real", path)
	if _, err := LoadOrCreateIdentity(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlinked key: %v", err)
	}

	dir2 := t.TempDir()
	os.MkdirAll(filepath.Join(dir2, "keys"), 0o777)
	os.Chmod(filepath.Join(dir2, "keys"), 0o777)
	if _, err := LoadOrCreateIdentity(dir2); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("world-writable keys directory: %v", err)
	}
}

// TestIdentityCreatedOnce: hubs starting at the same moment agree on one key.
func TestIdentityCreatedOnce(t *testing.T) {
	dir := t.TempDir()
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			id, err := LoadOrCreateIdentity(dir)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = id.String()
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatal("concurrent first starts created different keys")
		}
	}
}
