package filedrop

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/store"
)

// StoreFile is the hub database's name in a data directory, as the hub
// opens it.
const StoreFile = "hub.db"

// PurgeDataDir runs one Sweep as of now on a hub's data directory while
// the hub is stopped: what `hubctl drops purge --data DIR` does. It opens
// the store, the audit log and the engine itself, so a running hub (which
// holds the audit log and the engine's lock) makes it fail with an error
// saying so; the hub's own sweeper does the same work on its schedule.
//
// opts.Policy must be a valid policy, but a purge does not depend on it:
// retention dates are fixed per drop when it is created. A purge neither
// encrypts nor decrypts, so a missing key file is not created (that would
// make a restored key look wrong); an in-memory key stands in.
func PurgeDataDir(ctx context.Context, dataDir string, opts Options, now time.Time) (SweepResult, error) {
	st, err := store.Open(filepath.Join(dataDir, StoreFile))
	if err != nil {
		return SweepResult{}, err
	}
	defer st.Close()
	log, err := audit.Open(filepath.Join(dataDir, audit.FileName))
	if err != nil {
		return SweepResult{}, err
	}
	defer log.Close()
	// A purge appends to the chain, so it checks it first, as a start does.
	if _, err := log.CheckAtStart(ctx); err != nil {
		return SweepResult{}, err
	}
	id, err := loadIdentity(filepath.Join(dataDir, filepath.FromSlash(KeyFile)))
	if errors.Is(err, fs.ErrNotExist) {
		id, err = age.GenerateX25519Identity()
	}
	if err != nil {
		return SweepResult{}, err
	}
	d, err := Open(ctx, st, log, dataDir, id, opts)
	if err != nil {
		return SweepResult{}, err
	}
	defer d.Close()
	return d.Sweep(ctx, now)
}
