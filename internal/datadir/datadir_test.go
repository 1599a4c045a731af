package datadir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/store"
)

// hubDir makes a data directory as a first start leaves it: store, audit
// log, both keys recorded, one blob.
func hubDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	inv, err := Inspect(dir)
	if err != nil || !inv.New() || inv.Preflight() != nil {
		t.Fatalf("a new directory: %+v %v", inv, err)
	}
	st, err := store.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if _, err := OpenKeys(context.Background(), inv, st, log); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(dir, "blobs", "ab", "ab"+strings.Repeat("0", 30)+".age")
	os.MkdirAll(filepath.Dir(blob), 0o700)
	os.WriteFile(blob, []byte("x"), 0o600)
	return dir
}

func TestPreflight(t *testing.T) {
	cases := map[string]struct {
		damage func(dir string)
		want   string // "" = accepted
	}{
		"whole":         {func(string) {}, ""},
		"store missing": {func(d string) { rm(d, "hub.db", "hub.db-wal", "hub.db-shm") }, "the store hub.db is missing"},
		"store empty": {func(d string) {
			rm(d, "hub.db-wal", "hub.db-shm")
			os.WriteFile(filepath.Join(d, "hub.db"), nil, 0o600)
		}, "is empty"},
		"age key gone":   {func(d string) { rm(d, "keys/filedrop.agekey") }, "keys/filedrop.agekey is missing"},
		"sign key gone":  {func(d string) { rm(d, "keys/federation.key") }, "keys/federation.key is missing"},
		"audit log gone": {func(d string) { rm(d, "audit.log", "audit.log.head") }, "audit log audit.log is missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := hubDir(t)
			tc.damage(dir)
			err := Preflight(dir)
			var re *RefusalError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused a whole directory: %v", err)
			case tc.want != "" && (!errors.As(err, &re) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Preflight = %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
}

// A key that is there but is not the recorded one is refused by OpenKeys.
func TestOpenKeysRefusesSwappedKey(t *testing.T) {
	a, b := hubDir(t), hubDir(t)
	data, _ := os.ReadFile(filepath.Join(b, "keys", "filedrop.agekey"))
	os.WriteFile(filepath.Join(a, "keys", "filedrop.agekey"), data, 0o600)
	inv, err := Inspect(a)
	if err != nil || inv.Preflight() != nil {
		t.Fatalf("preflight of a directory with a swapped key: %v", err)
	}
	st, _ := store.Open(filepath.Join(a, "hub.db"))
	defer st.Close()
	log, _ := audit.Open(filepath.Join(a, audit.FileName))
	defer log.Close()
	if _, err := OpenKeys(context.Background(), inv, st, log); err == nil || !strings.Contains(err.Error(), "is not the one this hub's store was made with") {
		t.Fatalf("OpenKeys with another hub's key: %v", err)
	}
}

func rm(dir string, names ...string) {
	for _, n := range names {
		os.Remove(filepath.Join(dir, filepath.FromSlash(n)))
	}
}
