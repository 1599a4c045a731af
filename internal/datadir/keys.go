package datadir

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/store"
)

// Audit event types of key handling at start.
const (
	EventKeyCreated = "hub.key_created" // a new data directory got its key
	EventKeyAdopted = "hub.key_adopted" // a key file the store did not know yet (hubctl before key records)
)

// Keys are the hub's private keys.
type Keys struct {
	Identity *age.X25519Identity // file-drop encryption
	Signing  ed25519.PrivateKey  // federation
}

// OpenKeys loads the hub's keys and checks them against the public keys
// the store recorded. A key is created only where nothing depends on it
// (no recorded key, no stored file, no blob); a created or adopted key is
// recorded in the audit log and then in the store. Run it after
// Preflight and after the store and the log are open.
func OpenKeys(ctx context.Context, inv Inventory, st *store.Store, log *audit.Log) (Keys, error) {
	var k Keys
	recorded, err := st.Keys(ctx)
	if err != nil {
		return k, err
	}
	mayCreate := map[string]bool{
		filedrop.KeyFile:          inv.StoreFiles == 0 && inv.Blob == "",
		federation.SigningKeyFile: inv.StoreDrops == 0,
	}
	for _, name := range keyFiles {
		path := filepath.Join(inv.Dir, filepath.FromSlash(name))
		_, statErr := os.Lstat(path)
		present := statErr == nil
		if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
			return k, statErr
		}
		rec, known := recorded[name]
		if !present && (known || !mayCreate[name]) {
			return k, &RefusalError{Dir: inv.Dir, Missing: "the key " + name + " is missing", Found: inv.holdings(),
				Fix: "Put the key file back from the backup (mode 0600): " + keyConsequence(name) + " " + restoreHint}
		}
		public, err := loadKey(inv.Dir, name, &k)
		if err != nil {
			return k, err
		}
		if known {
			if rec != public {
				return k, &RefusalError{Dir: inv.Dir, Missing: fmt.Sprintf("the key %s (public key %s) is not the one this hub's store was made with (%s)", name, short(public), short(rec)),
					Fix: "Put the hub's own key back from the backup, or point the hub at the data directory this key belongs to: " + keyConsequence(name)}
			}
			continue
		}
		ev := audit.Event{Type: EventKeyCreated, Outcome: audit.Success, Subject: name, Detail: map[string]string{"public": public}}
		if present {
			ev.Type = EventKeyAdopted
		}
		if _, err := log.Append(ctx, ev); err != nil {
			return k, err
		}
		if err := st.RecordKey(ctx, name, public); err != nil {
			return k, err
		}
	}
	return k, nil
}

// loadKey loads (or, when missing, creates) one key into k and returns its
// public half.
func loadKey(dir, name string, k *Keys) (string, error) {
	switch name {
	case filedrop.KeyFile:
		id, err := filedrop.LoadOrCreateIdentity(dir)
		if err != nil {
			return "", err
		}
		k.Identity = id
		return id.Recipient().String(), nil
	case federation.SigningKeyFile:
		sig, err := federation.LoadOrCreateSigningKey(dir)
		if err != nil {
			return "", err
		}
		k.Signing = sig
		return base64.StdEncoding.EncodeToString(sig.Public().(ed25519.PublicKey)), nil
	}
	return "", fmt.Errorf("datadir: unknown key %s", name)
}
