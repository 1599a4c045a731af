// Package datadir guards a hub's data directory at start. The directory
// holds the store (hub.db), the audit log, the hub's keys and the
// encrypted blobs, and each is useless or dangerous without the others: a
// hub started on blobs without their store would see no drops (and used
// to delete them as orphans), one started without its key could never
// decrypt them again, and one that created a new key would silently
// change who the hub is for the other regions' hubs.
//
// So a start first takes stock without changing anything (Inspect), and
// refuses, saying what is missing and how to restore it, unless the
// directory is either new (nothing in it) or whole. Keys are created only
// in a new directory, and the store records the public half of every key
// (OpenKeys), so a missing or swapped key file is found at the next start.
package datadir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/store"
)

// StoreState says what the store file is.
type StoreState int

const (
	StoreMissing StoreState = iota // no hub.db
	StoreEmpty                     // a file with no tables (or no bytes)
	StorePresent                   // a hub database
)

// Inventory is what a data directory holds, read without changing it.
type Inventory struct {
	Dir          string
	Store        StoreState
	StoreKeys    map[string]string // hub_keys: key file → public key
	StoreDrops   int64             // rows of drops
	StoreFiles   int64             // rows of drop_files
	AuditBytes   int64
	AuditRecords uint64   // as the head file says
	AuditHead    bool     // the head file exists
	Keys         []string // key files present, relative to Dir
	Blob         string   // a blob or part file found (relative), "" if none
}

// keyFiles are the hub's keys, relative to the data directory.
var keyFiles = []string{filedrop.KeyFile, federation.SigningKeyFile}

// Inspect takes stock of dir. A directory that does not exist is new.
func Inspect(dir string) (Inventory, error) {
	inv := Inventory{Dir: dir}
	if err := inv.inspectStore(); err != nil {
		return inv, err
	}
	logPath := filepath.Join(dir, audit.FileName)
	if fi, err := os.Stat(logPath); err == nil {
		inv.AuditBytes = fi.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return inv, err
	}
	seq, ok, err := audit.HeadSeq(logPath)
	if err != nil {
		return inv, err
	}
	inv.AuditRecords, inv.AuditHead = seq, ok
	for _, k := range keyFiles {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(k))); err == nil {
			inv.Keys = append(inv.Keys, k)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return inv, err
		}
	}
	inv.Blob, err = firstBlob(filepath.Join(dir, filedrop.BlobDir))
	return inv, err
}

func (inv *Inventory) inspectStore() error {
	path := filepath.Join(inv.Dir, filedrop.StoreFile)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		inv.Store = StoreMissing
		return nil
	case err != nil:
		return err
	case fi.Size() == 0:
		inv.Store = StoreEmpty
		return nil
	}
	db, err := store.OpenReadOnly(path)
	if err != nil {
		return fmt.Errorf("%s cannot be read as the hub's database: %w (restore it from backup)", path, err)
	}
	defer db.Close()
	ctx := context.Background()
	tables := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return fmt.Errorf("%s cannot be read as the hub's database: %w (restore it from backup)", path, err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		tables[n] = true
	}
	rows.Close()
	if len(tables) == 0 {
		inv.Store = StoreEmpty
		return nil
	}
	inv.Store = StorePresent
	inv.StoreKeys = map[string]string{}
	if tables["hub_keys"] {
		r, err := db.QueryContext(ctx, `SELECT name, public FROM hub_keys`)
		if err != nil {
			return err
		}
		for r.Next() {
			var n, p string
			if err := r.Scan(&n, &p); err != nil {
				r.Close()
				return err
			}
			inv.StoreKeys[n] = p
		}
		r.Close()
	}
	for table, n := range map[string]*int64{"drops": &inv.StoreDrops, "drop_files": &inv.StoreFiles} {
		if tables[table] {
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// firstBlob finds one committed blob or part file below the blob
// directory, or "". It stops at the first, so start stays fast with
// millions of blobs.
func firstBlob(blobs string) (string, error) {
	dirs, err := os.ReadDir(blobs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		f, err := os.Open(filepath.Join(blobs, d.Name()))
		if err != nil {
			return "", err
		}
		for {
			names, err := f.Readdirnames(64)
			for _, n := range names {
				if strings.HasSuffix(n, ".age") || strings.HasSuffix(n, ".age.part") {
					f.Close()
					return filepath.Join(filedrop.BlobDir, d.Name(), n), nil
				}
			}
			if err != nil {
				break
			}
		}
		f.Close()
	}
	return "", nil
}

// New reports whether the directory holds nothing of a hub yet.
func (inv Inventory) New() bool {
	return inv.Store != StorePresent && inv.AuditBytes == 0 && !inv.AuditHead && len(inv.Keys) == 0 && inv.Blob == ""
}

// RefusalError is a start refused to protect the data. It says what is
// there, what is missing, and what to do.
type RefusalError struct {
	Dir     string
	Missing string   // what is missing or wrong
	Found   []string // what the directory holds that depends on it
	Fix     string
}

func (e *RefusalError) Error() string {
	msg := fmt.Sprintf("data directory %s: %s", e.Dir, e.Missing)
	if len(e.Found) > 0 {
		msg += ", but it holds " + strings.Join(e.Found, ", ")
	}
	return msg + ". The hub refuses to start so that nothing is lost or overwritten. " + e.Fix
}

const restoreHint = "Restore the data directory from the last backup into an empty directory " +
	"(hubctl restore --from BACKUP --data NEWDIR) and point the hub at it, or put the missing file back " +
	"from the same backup as the rest; see docs/operations.md, \"Backup and restore\"."

// Preflight takes stock of dir and refuses it unless it is new or whole
// (Inventory.Preflight).
func Preflight(dir string) error {
	inv, err := Inspect(dir)
	if err != nil {
		return err
	}
	return inv.Preflight()
}

// Preflight refuses a data directory that is neither new nor whole. Run it
// before anything opens (and so creates) the store, the log or a key.
func (inv Inventory) Preflight() error {
	if inv.New() {
		return nil
	}
	found := inv.holdings()
	switch inv.Store {
	case StoreMissing:
		return &RefusalError{Dir: inv.Dir, Missing: "the store " + filedrop.StoreFile + " is missing", Found: found, Fix: restoreHint}
	case StoreEmpty:
		return &RefusalError{Dir: inv.Dir, Missing: "the store " + filedrop.StoreFile + " is empty (no tables)", Found: found, Fix: restoreHint}
	}
	if inv.AuditBytes == 0 && (inv.AuditRecords > 0 || len(inv.StoreKeys) > 0 || inv.StoreDrops > 0) {
		what := "the audit log " + audit.FileName + " is missing or empty"
		if inv.AuditRecords > 0 {
			what += fmt.Sprintf(" although its head file names %d records", inv.AuditRecords)
		}
		return &RefusalError{Dir: inv.Dir, Missing: what, Found: found,
			Fix: "Put audit.log and audit.log.head back from the same backup as the store. " + restoreHint}
	}
	have := map[string]bool{}
	for _, k := range inv.Keys {
		have[k] = true
	}
	names := make([]string, 0, len(inv.StoreKeys))
	for k := range inv.StoreKeys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !have[k] {
			return &RefusalError{Dir: inv.Dir, Missing: "the key " + k + " is missing (the store records its public key " + short(inv.StoreKeys[k]) + ")",
				Found: found, Fix: "Put the key file back from the backup (mode 0600); never create a new one: " + keyConsequence(k) + " " + restoreHint}
		}
	}
	if _, ok := inv.StoreKeys[filedrop.KeyFile]; !ok && !have[filedrop.KeyFile] && (inv.StoreFiles > 0 || inv.Blob != "") {
		return &RefusalError{Dir: inv.Dir, Missing: "the encryption key " + filedrop.KeyFile + " is missing", Found: found,
			Fix: "Put the key file back from the backup (mode 0600): " + keyConsequence(filedrop.KeyFile) + " " + restoreHint}
	}
	return nil
}

func keyConsequence(k string) string {
	if k == filedrop.KeyFile {
		return "every stored file is encrypted to it and cannot be read with another."
	}
	return "the other regions' hubs know the hub by it."
}

// holdings describes what the directory holds, for a refusal.
func (inv Inventory) holdings() []string {
	var out []string
	if inv.Store == StorePresent && (inv.StoreDrops > 0 || inv.StoreFiles > 0) {
		out = append(out, fmt.Sprintf("a store with %d drops and %d files", inv.StoreDrops, inv.StoreFiles))
	}
	if inv.Blob != "" {
		out = append(out, "encrypted blobs (e.g. "+inv.Blob+")")
	}
	if len(inv.Keys) > 0 {
		out = append(out, "the keys "+strings.Join(inv.Keys, " and "))
	}
	if inv.AuditBytes > 0 {
		out = append(out, fmt.Sprintf("an audit log of %d records", inv.AuditRecords))
	}
	return out
}

func short(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}
