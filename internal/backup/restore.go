package backup

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/store"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Policy is a valid file-drop policy for the purge of drops whose
	// blobs were pruned (filedrop.PurgeDataDir; the purge does not depend
	// on it, every drop's retention date is fixed).
	Policy   region.FileDropPolicy
	Progress io.Writer
	Now      func() time.Time
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Snapshot      string
	Blobs         int   // blobs restored
	Bytes         int64 // bytes fetched
	ExpiredPruned int   // blobs of drops past retention that prune had deleted
	Ended         int   // blobs gone during the backup
	Purge         filedrop.SweepResult
	Check         *CheckResult
}

// Restore writes snapshot m from tg into dataDir, which must be missing
// or empty, decrypting with id. Drops whose blobs are not in the backup
// because they expired (prune deleted them) or ended during the backup
// are then purged through the file drop's own purge, so the hub comes up
// consistent. Last, the restored directory is checked (Check).
func Restore(ctx context.Context, tg Target, m *Manifest, dataDir string, id age.Identity, opts RestoreOptions) (*RestoreResult, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := emptyDir(dataDir); err != nil {
		return nil, err
	}
	res := &RestoreResult{Snapshot: m.Name}
	p := newProgress(opts.Progress, "restore "+m.Name)
	defer p.done()
	if err := fetchState(ctx, tg, m, dataDir, id, p); err != nil {
		return nil, err
	}
	now := opts.Now()
	var ended []string
	p.total = len(m.Blobs)
	for _, b := range m.Blobs {
		err := fetchBlob(ctx, tg, b, dataDir, p)
		switch {
		case errors.Is(err, ErrNotExist) && !b.RetainUntil.After(now):
			res.ExpiredPruned++
		case err != nil:
			return nil, fmt.Errorf("%w (the restore in %s is incomplete: remove the directory before another try)", err, dataDir)
		default:
			res.Blobs++
		}
	}
	for _, e := range m.Ended {
		ended = append(ended, e.Drop)
	}
	res.Ended = len(m.Ended)
	if res.ExpiredPruned > 0 || res.Ended > 0 {
		pr, err := filedrop.PurgeDataDir(ctx, dataDir, filedrop.Options{Policy: opts.Policy}, now)
		if err != nil {
			return nil, fmt.Errorf("backup: purge the drops whose blobs are not in the backup: %w", err)
		}
		res.Purge = pr
		if err := withdrawEnded(ctx, dataDir, ended, opts.Policy); err != nil {
			return nil, err
		}
	}
	res.Bytes = p.bytes.Load()
	c, err := Check(ctx, dataDir, m)
	res.Check = c
	return res, err
}

// emptyDir refuses a data directory that holds anything; a missing one is
// created 0700.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return fmt.Errorf("backup: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("backup: %s is not empty (it holds %s…): restore only into an empty or missing directory; hubctl never overwrites a hub's data", dir, ents[0].Name())
	}
	return os.Chmod(dir, 0o700)
}

// fetchState writes the store, the audit log (with its head from the
// manifest) and the keys of m into dir, checking every object's hash.
func fetchState(ctx context.Context, tg Target, m *Manifest, dir string, id age.Identity, p *progress) error {
	for _, o := range m.Objects {
		if o.Kind == KindBundleManifest {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(o.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := fetchDecrypted(ctx, tg, o, id, dst, p); err != nil {
			return err
		}
	}
	h := fmt.Sprintf(`{"seq":%d,"hash":%q}`+"\n", m.Audit.Seq, m.Audit.Hash)
	return writeFile(filepath.Join(dir, audit.FileName+".head"), strings.NewReader(h))
}

func fetchDecrypted(ctx context.Context, tg Target, o Object, id age.Identity, dst string, p *progress) error {
	r, err := tg.Get(ctx, o.Key)
	if err != nil {
		return fmt.Errorf("backup: %s: %w", o.Key, err)
	}
	defer r.Close()
	hr := newHashingReader(&countingReader{r: r, p: p}, o.SHA256, o.Key)
	plain, err := age.Decrypt(hr, id)
	if err != nil {
		return fmt.Errorf("backup: decrypt %s: %w (is --identity one of the backup.recipients?)", o.Key, err)
	}
	if err := writeFile(dst, plain); err != nil {
		return fmt.Errorf("backup: %s: %w", o.Key, err)
	}
	// Reading to the end checks the hash of the whole object.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return err
	}
	if hr.n != o.Size {
		return fmt.Errorf("backup: %s has %d bytes, the manifest says %d", o.Key, hr.n, o.Size)
	}
	p.object()
	return nil
}

func fetchBlob(ctx context.Context, tg Target, b Blob, dir string, p *progress) error {
	key := BlobKey(b.File)
	r, err := tg.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("backup: blob %s of drop %s: %w", b.File, b.Drop, err)
	}
	defer r.Close()
	dst := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := writeFile(dst, newHashingReader(&countingReader{r: r, p: p}, b.SHA256, key)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	p.object()
	return nil
}

// writeFile writes r to path (0600) through a temporary file and a
// rename, so a failed read leaves nothing at path.
func writeFile(path string, r io.Reader) error {
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := path + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// withdrawEnded ends the drops whose blobs the hub deleted during the
// backup and which are still live in the restored store (withdrawn then,
// not expired: the purge took the expired ones). They are withdrawn
// through the engine, as the only person who may (the sender, or for a
// link upload the link's owner), so the restored hub matches the live
// one; the audit log gets the withdrawal record again.
func withdrawEnded(ctx context.Context, dataDir string, drops []string, policy region.FileDropPolicy) error {
	if len(drops) == 0 {
		return nil
	}
	st, err := store.Open(filepath.Join(dataDir, filedrop.StoreFile))
	if err != nil {
		return err
	}
	defer st.Close()
	type who struct{ drop, actor string }
	var todo []who
	for _, d := range drops {
		var state, sender, link string
		err := st.DB().QueryRowContext(ctx, `SELECT state, sender_key, link_id FROM drops WHERE id = ?`, d).Scan(&state, &sender, &link)
		if errors.Is(err, sql.ErrNoRows) || err == nil && state != string(filedrop.StateDraft) && state != string(filedrop.StateSealed) {
			continue
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		actor := sender
		if link != "" {
			if err := st.DB().QueryRowContext(ctx, `SELECT owner_key FROM upload_links WHERE id = ?`, link).Scan(&actor); err != nil {
				return fmt.Errorf("backup: drop %s came through link %s, whose owner is unknown: %w", d, link, err)
			}
		}
		todo = append(todo, who{d, actor})
	}
	if len(todo) == 0 {
		return nil
	}
	log, err := audit.Open(filepath.Join(dataDir, audit.FileName))
	if err != nil {
		return err
	}
	defer log.Close()
	id, err := filedrop.LoadOrCreateIdentity(dataDir)
	if err != nil {
		return err
	}
	eng, err := filedrop.Open(ctx, st, log, dataDir, id, filedrop.Options{Policy: policy})
	if err != nil {
		return err
	}
	defer eng.Close()
	for _, w := range todo {
		if err := eng.Withdraw(ctx, filedrop.Actor{UserKey: w.actor}, w.drop); err != nil {
			return fmt.Errorf("backup: withdraw drop %s, which ended during the backup: %w", w.drop, err)
		}
	}
	return nil
}

// CheckResult is what Check found in a restored data directory.
type CheckResult struct {
	Drops        int // live drops
	Files        int // their files, each blob present with the recorded hash
	AuditRecords int
	Problems     []string
}

// Check verifies a restored data directory against its manifest: the
// audit chain verifies and ends at the manifest's head (or continues it),
// the keys are there (0600 in a 0700 directory) and the signing key is the
// one the manifest was signed with, and every file of every live drop has
// its blob with the hash the manifest recorded.
func Check(ctx context.Context, dataDir string, m *Manifest) (*CheckResult, error) {
	return check(ctx, dataDir, m, true)
}

// check is Check; without blobs it checks only that every file of a live
// drop is among the manifest's blobs (Verify has checked them in the target).
func check(ctx context.Context, dataDir string, m *Manifest, withBlobs bool) (*CheckResult, error) {
	c := &CheckResult{}
	bad := func(format string, args ...any) { c.Problems = append(c.Problems, fmt.Sprintf(format, args...)) }
	sum, err := audit.Verify(filepath.Join(dataDir, audit.FileName))
	if err != nil {
		bad("audit log: %v", err)
	} else if sum.LastSeq < m.Audit.Seq {
		bad("audit log ends at record %d, the snapshot's head is %d", sum.LastSeq, m.Audit.Seq)
	}
	c.AuditRecords = sum.Records
	checkKeys(dataDir, m, bad)
	blobs := map[string]Blob{}
	for _, b := range m.Blobs {
		blobs[b.File] = b
	}
	rows, err := liveFiles(ctx, filepath.Join(dataDir, filedrop.StoreFile))
	if err != nil {
		bad("store: %v", err)
	}
	drops := map[string]bool{}
	for _, r := range rows {
		drops[r.drop] = true
		c.Files++
		b, ok := blobs[r.file]
		if !ok {
			bad("file %s of drop %s is not in the snapshot's manifest", r.file, r.drop)
			continue
		}
		if !withBlobs {
			continue
		}
		got, err := fileSHA256(filepath.Join(dataDir, filepath.FromSlash(BlobKey(r.file))))
		if err != nil {
			bad("file %s of drop %s: %v", r.file, r.drop, err)
		} else if got != b.SHA256 {
			bad("file %s of drop %s: the blob's SHA-256 is %s, the manifest says %s", r.file, r.drop, got, b.SHA256)
		}
	}
	c.Drops = len(drops)
	if len(c.Problems) > 0 {
		return c, fmt.Errorf("backup: %s fails its check:\n  %s", dataDir, strings.Join(c.Problems, "\n  "))
	}
	return c, nil
}

func checkKeys(dataDir string, m *Manifest, bad func(string, ...any)) {
	keys := filepath.Join(dataDir, "keys")
	if fi, err := os.Stat(keys); err == nil && fi.Mode().Perm() != 0o700 {
		bad("%s has mode %v, want 0700", keys, fi.Mode().Perm())
	}
	for _, o := range m.Objects {
		if o.Kind != KindKey {
			continue
		}
		p := filepath.Join(dataDir, filepath.FromSlash(o.Path))
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			bad("key %s: %v", o.Path, err)
		case !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600:
			bad("key %s has mode %v, want a regular file 0600", o.Path, fi.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, filepath.FromSlash(filedrop.KeyFile))); err == nil {
		if _, err := filedrop.LoadOrCreateIdentity(dataDir); err != nil {
			bad("%v", err)
		}
	}
	if m.SigningKey != "" {
		k, err := federation.LoadSigningKey(dataDir)
		if err != nil {
			bad("the manifest is signed but the snapshot's signing key does not load: %v", err)
		} else if got := base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)); got != m.SigningKey {
			bad("the snapshot's signing key %s is not the key %s that signed its manifest", got, m.SigningKey)
		}
	}
}

// liveFiles lists the files of drops not yet purged.
func liveFiles(ctx context.Context, dbPath string) ([]blobRef, error) {
	if _, err := os.Stat(dbPath); err != nil {
		return nil, err
	}
	return blobRefs(ctx, dbPath)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hexSum(h.Sum(nil)), nil
}
