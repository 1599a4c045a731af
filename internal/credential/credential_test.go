package credential

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "FROM_CRED"), []byte("cred-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "BOTH"), []byte("cred-wins"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "UNREADABLE"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(DirEnv, dir)
	t.Setenv("BOTH", "env-loses")
	t.Setenv("FROM_ENV", "env-value")
	t.Setenv("EMPTY", "")

	for _, c := range []struct {
		name, want string
		ok, err    bool
	}{
		{"FROM_CRED", "cred-value", true, false},
		{"BOTH", "cred-wins", true, false},
		{"FROM_ENV", "env-value", true, false},
		{"EMPTY", "", false, false},
		{"MISSING", "", false, false},
		{"UNREADABLE", "", false, true}, // a directory: exists, cannot be read as a file
		{"../FROM_CRED", "", false, false},
	} {
		v, ok, err := Lookup(c.name)
		if v != c.want || ok != c.ok || (err != nil) != c.err {
			t.Errorf("Lookup(%q) = %q, %v, %v; want %q, %v, error %v", c.name, v, ok, err, c.want, c.ok, c.err)
		}
	}
}

func TestLookupWithoutCredentialsDirectory(t *testing.T) {
	t.Setenv(DirEnv, "")
	t.Setenv("ONLY_ENV", "v")
	if v, ok, err := Lookup("ONLY_ENV"); v != "v" || !ok || err != nil {
		t.Fatalf("Lookup = %q, %v, %v", v, ok, err)
	}
}
