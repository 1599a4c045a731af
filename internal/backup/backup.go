package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/filedrop"
)

// Options configure Backup.
type Options struct {
	// Recipients are the operators' age public keys (backup.recipients).
	Recipients []string
	Region     string // the hub's region id, recorded in the manifest
	Version    string // hubctl's version
	// BundleDir, when set, is the hub's bundle; its manifest.json is kept
	// with the snapshot.
	BundleDir string
	// Progress receives a line now and then on long operations; nil for none.
	Progress io.Writer
	Logger   *slog.Logger     // default slog.Default()
	Now      func() time.Time // default time.Now
	Workers  int              // blobs copied at once; default 4
}

// Result says what a backup did.
type Result struct {
	Manifest    *Manifest
	BlobsCopied int   // new blobs put into the target
	BlobsShared int   // blobs an earlier snapshot had already put
	BytesCopied int64 // of blobs and the snapshot's own objects
	Ended       int   // blobs gone during the backup (their drops ended)
	Took        time.Duration
}

// Backup takes a snapshot of the hub data directory dataDir into tg. The
// hub may be running: the store is copied through SQLite's VACUUM INTO in
// one read transaction (writers are not blocked in WAL mode), the audit
// log up to the head read right after it, then the blobs, which never
// change once committed.
func Backup(ctx context.Context, dataDir string, tg Target, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	recips, err := ParseRecipients(opts.Recipients)
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(dataDir, filedrop.StoreFile)
	if fi, err := os.Stat(dbPath); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s holds no hub database (%s): give the data directory of a hub (--data)", dataDir, filedrop.StoreFile)
	}
	name, err := freeName(ctx, tg, opts.Now().UTC())
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: Format, Name: name, Region: opts.Region, Version: opts.Version, Recipients: opts.Recipients, Blobs: []Blob{}}
	unlock, err := lockScratch(dataDir, opts.Logger)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A private scratch directory on the data directory's own file system:
	// the snapshot of the store holds case metadata in the clear.
	tmp, err := os.MkdirTemp(dataDir, ".backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: scratch directory in %s: %w", dataDir, err)
	}
	defer os.RemoveAll(tmp)

	live, err := openReadOnly(dbPath)
	if err != nil {
		return nil, err
	}
	defer live.Close()
	snapDB := filepath.Join(tmp, "hub.db")
	if _, err := live.ExecContext(ctx, `VACUUM INTO ?`, snapDB); err != nil {
		return nil, fmt.Errorf("backup: snapshot of %s (VACUUM INTO): %w", dbPath, err)
	}
	m.Time = opts.Now().UTC()
	refs, err := blobRefs(ctx, snapDB)
	if err != nil {
		return nil, err
	}
	p := newProgress(opts.Progress, "backup "+name)
	defer p.done()
	res := &Result{Manifest: m}

	// The audit log up to its head now: the records of everything the
	// store snapshot holds, and perhaps a few more.
	auditKey := SnapshotPrefix(name) + "audit.log.age"
	var sum audit.Summary
	obj, err := putEncrypted(ctx, tg, auditKey, recips, p, func(w io.Writer) error {
		var err error
		sum, err = audit.CopyToHead(filepath.Join(dataDir, audit.FileName), w)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("backup: audit log: %w", err)
	}
	m.Audit = AuditHead{Seq: sum.LastSeq, Hash: sum.Head}
	obj.Kind, obj.Path = KindAudit, audit.FileName
	m.Objects = append(m.Objects, obj)

	obj, err = putEncryptedFile(ctx, tg, SnapshotPrefix(name)+"hub.db.age", recips, p, snapDB)
	if err != nil {
		return nil, fmt.Errorf("backup: store: %w", err)
	}
	obj.Kind, obj.Path = KindStore, filedrop.StoreFile
	m.Objects = append(m.Objects, obj)

	keys, err := keyFiles(dataDir)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		obj, err := putEncryptedFile(ctx, tg, SnapshotPrefix(name)+k+".age", recips, p, filepath.Join(dataDir, filepath.FromSlash(k)))
		if err != nil {
			return nil, fmt.Errorf("backup: %s: %w", k, err)
		}
		obj.Kind, obj.Path = KindKey, k
		m.Objects = append(m.Objects, obj)
	}
	if opts.BundleDir != "" {
		obj, err := putPlainFile(ctx, tg, SnapshotPrefix(name)+"bundle-manifest.json", p, filepath.Join(opts.BundleDir, "manifest.json"))
		if err != nil {
			return nil, fmt.Errorf("backup: bundle manifest (--bundle %s): %w", opts.BundleDir, err)
		}
		obj.Kind = KindBundleManifest
		m.Objects = append(m.Objects, obj)
	}

	if testHookBeforeBlobs != nil {
		testHookBeforeBlobs()
	}
	if err := copyBlobs(ctx, tg, dataDir, live, refs, m, res, p, opts.Workers); err != nil {
		return nil, err
	}
	if key, err := federation.LoadSigningKey(dataDir); err == nil {
		if err := m.Sign(key); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else {
		opts.Logger.Warn("backup: the hub has no signing key (keys/federation.key); the manifest is unsigned")
	}
	b, err := m.encode()
	if err != nil {
		return nil, err
	}
	if err := tg.Put(ctx, ManifestKey(name), strings.NewReader(string(b)), int64(len(b))); err != nil {
		return nil, err
	}
	res.BytesCopied = p.bytes.Load()
	res.Took = time.Since(start)
	opts.Logger.Info("backup: snapshot written", "snapshot", name, "dest", tg.String(), "blobs", len(m.Blobs),
		"blobs_copied", res.BlobsCopied, "blobs_shared", res.BlobsShared, "ended", res.Ended,
		"bytes", res.BytesCopied, "audit_seq", m.Audit.Seq, "took", res.Took.Round(time.Millisecond).String())
	return res, nil
}

// lockFileName is held by a running backup of the data directory.
const lockFileName = ".backup.lock"

// lockScratch makes the backup the only one of dataDir, and removes the
// scratch directories a killed backup left behind (they hold a plain copy
// of the store, so they must not linger).
func lockScratch(dataDir string, logger *slog.Logger) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dataDir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("backup: another backup of %s is running (%s is locked): %w", dataDir, lockFileName, err)
	}
	stale, _ := filepath.Glob(filepath.Join(dataDir, ".backup-*"))
	for _, d := range stale {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			logger.Warn("backup: removing the scratch directory of an interrupted backup", "dir", d)
			if err := os.RemoveAll(d); err != nil {
				f.Close()
				return nil, fmt.Errorf("backup: remove %s: %w", d, err)
			}
		}
	}
	return func() { f.Close() }, nil
}

// ParseRecipients parses age public keys, and refuses none.
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	if len(keys) == 0 {
		return nil, errors.New("no backup recipient: set backup.recipients in the configuration (or HUBKIT_BACKUP_RECIPIENTS) to the operators' age public keys (age1…, from age-keygen); a backup is encrypted to them")
	}
	var rs []age.Recipient
	for i, k := range keys {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("backup.recipients[%d] %q is not an age public key (age1…): %v", i, k, err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// freeName is the snapshot name for t, with a suffix if a snapshot of the
// same second exists.
func freeName(ctx context.Context, tg Target, t time.Time) (string, error) {
	base := t.Format(nameLayout)
	for i := 0; i < 100; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		found := false
		if err := tg.List(ctx, SnapshotPrefix(name), func(ObjectInfo) error { found = true; return errStop }); err != nil && !errors.Is(err, errStop) {
			return "", err
		}
		if !found {
			return name, nil
		}
	}
	return "", fmt.Errorf("backup: 100 snapshots named %s* already", base)
}

var errStop = errors.New("stop")

// testHookBeforeBlobs runs between the store snapshot and the blob copy (tests).
var testHookBeforeBlobs func()

// openReadOnly opens a store to read: it never migrates, and waits for a
// busy writer. Only SELECT and VACUUM INTO (which writes its own new file,
// and which query_only would refuse) run on it.
func openReadOnly(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{"_pragma": {"busy_timeout(5000)"}}
	db, err := sql.Open("sqlite", "file:"+abs+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("backup: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	return db, nil
}

type blobRef struct {
	file, drop  string
	retainUntil time.Time
}

// blobRefs lists the files the snapshot's store references.
func blobRefs(ctx context.Context, snapDB string) ([]blobRef, error) {
	db, err := openReadOnly(snapDB)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('drops', 'drop_files')`).Scan(&n); err != nil {
		return nil, fmt.Errorf("backup: read the store snapshot: %w", err)
	}
	if n < 2 {
		return nil, nil // a hub without a file drop
	}
	rows, err := db.QueryContext(ctx, `SELECT f.id, f.drop_id, d.retain_until FROM drop_files f JOIN drops d ON d.id = f.drop_id
		WHERE d.purged_at = 0 ORDER BY f.id`)
	if err != nil {
		return nil, fmt.Errorf("backup: read the store snapshot: %w", err)
	}
	defer rows.Close()
	var refs []blobRef
	for rows.Next() {
		var r blobRef
		var until int64
		if err := rows.Scan(&r.file, &r.drop, &until); err != nil {
			return nil, fmt.Errorf("backup: read the store snapshot: %w", err)
		}
		if !idRe.MatchString(r.file) || !idRe.MatchString(r.drop) {
			return nil, fmt.Errorf("backup: the store names a file %q of drop %q that is not a file-drop id", r.file, r.drop)
		}
		r.retainUntil = time.Unix(0, until).UTC()
		refs = append(refs, r)
	}
	return refs, rows.Err()
}

// keyFiles lists keys/ (regular files, not temporary ones), as slash paths.
func keyFiles(dataDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dataDir, "keys"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var keys []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.Contains(e.Name(), ".tmp-") && pathRe.MatchString("keys/"+e.Name()) {
			keys = append(keys, "keys/"+e.Name())
		}
	}
	return keys, nil
}

// copyBlobs puts every referenced blob the target lacks; blobs already
// there from an earlier snapshot are shared. A blob gone from the data
// directory is looked up in the live store: if its drop ended meanwhile it
// is recorded as ended, otherwise the backup fails (the hub lost a file).
func copyBlobs(ctx context.Context, tg Target, dataDir string, live *sql.DB, refs []blobRef, m *Manifest, res *Result, p *progress, workers int) error {
	have := map[string]int64{}
	if err := tg.List(ctx, "blobs/", func(o ObjectInfo) error { have[o.Key] = o.Size; return nil }); err != nil {
		return err
	}
	known := knownBlobs(ctx, tg)
	p.total = len(refs)
	type outcome struct {
		blob   *Blob
		ended  *Ended
		shared bool
		err    error
	}
	out := make([]outcome, len(refs))
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(refs) || ctx.Err() != nil {
					return
				}
				r := refs[i]
				b, shared, err := copyBlob(ctx, tg, dataDir, r, have, known, p)
				if errors.Is(err, fs.ErrNotExist) {
					var reason string
					if reason, err = endedReason(ctx, live, r); err == nil {
						out[i].ended = &Ended{File: r.file, Drop: r.drop, Reason: reason}
					}
				}
				out[i].blob, out[i].shared, out[i].err = b, shared, err
				if err != nil {
					cancel()
				}
				p.object()
			}
		})
	}
	wg.Wait()
	for _, o := range out {
		switch {
		case o.err != nil:
			return o.err
		case o.ended != nil:
			m.Ended = append(m.Ended, *o.ended)
			res.Ended++
		case o.blob != nil:
			m.Blobs = append(m.Blobs, *o.blob)
			if o.shared {
				res.BlobsShared++
			} else {
				res.BlobsCopied++
			}
		}
	}
	return ctx.Err()
}

func copyBlob(ctx context.Context, tg Target, dataDir string, r blobRef, have map[string]int64, known map[string]Blob, p *progress) (*Blob, bool, error) {
	key := BlobKey(r.file)
	path := filepath.Join(dataDir, filedrop.BlobDir, r.file[:2], r.file+".age")
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err // fs.ErrNotExist: the caller asks the live store
	}
	defer f.Close() // once open, a blob deleted meanwhile still reads whole
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	b := &Blob{File: r.file, Drop: r.drop, Size: fi.Size(), RetainUntil: r.retainUntil}
	if size, ok := have[key]; ok && size == fi.Size() {
		if k, ok := known[r.file]; ok && k.Size == fi.Size() {
			b.SHA256 = k.SHA256
			return b, true, nil
		}
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(f, h), p: p}
	if err := tg.Put(ctx, key, cr, fi.Size()); err != nil {
		return nil, false, fmt.Errorf("backup: blob %s: %w", r.file, err)
	}
	b.SHA256 = hexSum(h.Sum(nil))
	return b, false, nil
}

// knownBlobs are the blobs (with their hashes) of the newest readable
// snapshot: a blob already in the target is shared only if a manifest
// vouches for its hash; otherwise it is copied again.
func knownBlobs(ctx context.Context, tg Target) map[string]Blob {
	known := map[string]Blob{}
	snaps, _ := List(ctx, tg)
	for i := len(snaps) - 1; i >= 0; i-- {
		if snaps[i].Manifest != nil {
			for _, b := range snaps[i].Manifest.Blobs {
				known[b.File] = b
			}
			break
		}
	}
	return known
}

// endedReason asks the live store about a file whose blob is gone.
func endedReason(ctx context.Context, live *sql.DB, r blobRef) (string, error) {
	var state string
	var purged int64
	err := live.QueryRowContext(ctx, `SELECT d.state, d.purged_at FROM drops d WHERE d.id = ?`, r.drop).Scan(&state, &purged)
	if errors.Is(err, sql.ErrNoRows) {
		return "the drop is gone from the live store", nil
	}
	if err != nil {
		return "", fmt.Errorf("backup: blob %s is gone; asking the live store: %w", r.file, err)
	}
	if state != string(filedrop.StateDraft) && state != string(filedrop.StateSealed) || purged != 0 {
		return "the drop ended during the backup (" + state + ")", nil
	}
	var n int
	if err := live.QueryRowContext(ctx, `SELECT count(*) FROM drop_files WHERE id = ?`, r.file).Scan(&n); err == nil && n == 0 {
		return "the file is gone from the live store", nil
	}
	return "", fmt.Errorf("backup: blob %s of the live drop %s is missing from %s: the data directory lost a file; check the disk and restore the file from an earlier snapshot (hubctl backup list)",
		r.file, r.drop, filepath.Join(filedrop.BlobDir, r.file[:2], r.file+".age"))
}

// putEncrypted streams what write writes, age-encrypted to recips, into
// tg under key, hashing the ciphertext on the way.
func putEncrypted(ctx context.Context, tg Target, key string, recips []age.Recipient, p *progress, write func(io.Writer) error) (Object, error) {
	pr, pw := io.Pipe()
	go func() {
		enc, err := age.Encrypt(pw, recips...)
		if err == nil {
			err = write(enc)
			if cerr := enc.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
	}()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(pr, h), p: p}
	err := tg.Put(ctx, key, cr, -1)
	pr.CloseWithError(errors.New("backup: upload ended")) // stops the writer if Put gave up early
	if err != nil {
		return Object{}, err
	}
	p.object()
	return Object{Key: key, Size: cr.n, SHA256: hexSum(h.Sum(nil))}, nil
}

func putEncryptedFile(ctx context.Context, tg Target, key string, recips []age.Recipient, p *progress, path string) (Object, error) {
	return putEncrypted(ctx, tg, key, recips, p, func(w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
}

func putPlainFile(ctx context.Context, tg Target, key string, p *progress, path string) (Object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Object{}, err
	}
	if !json.Valid(b) {
		return Object{}, fmt.Errorf("%s is not JSON", path)
	}
	if err := tg.Put(ctx, key, strings.NewReader(string(b)), int64(len(b))); err != nil {
		return Object{}, err
	}
	sum := sha256.Sum256(b)
	p.add(int64(len(b)))
	p.object()
	return Object{Key: key, Size: int64(len(b)), SHA256: hexSum(sum[:])}, nil
}

type countingReader struct {
	r io.Reader
	n int64
	p *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.p.add(int64(n))
	return n, err
}

// hashingReader checks, at EOF, that what was read has the expected hash.
type hashingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want string
	what string
}

func newHashingReader(r io.Reader, want, what string) *hashingReader {
	return &hashingReader{r: r, h: sha256.New(), want: want, what: what}
}

func (c *hashingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	if err == io.EOF {
		if got := hexSum(c.h.Sum(nil)); got != c.want {
			return n, fmt.Errorf("%s: SHA-256 is %s, the manifest says %s: the object was changed or damaged", c.what, got, c.want)
		}
	}
	return n, err
}

// progress prints "<what>: N/M objects, X MiB" at most once a second.
type progress struct {
	w       io.Writer
	what    string
	total   int
	objects atomic.Int64
	bytes   atomic.Int64
	mu      sync.Mutex
	last    time.Time
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, last: time.Now()}
}

func (p *progress) add(n int64) { p.bytes.Add(n); p.tick(false) }
func (p *progress) object()     { p.objects.Add(1); p.tick(false) }
func (p *progress) done()       { p.tick(true) }

func (p *progress) tick(force bool) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	total := ""
	if p.total > 0 {
		total = fmt.Sprintf(" (%d blobs referenced)", p.total)
	}
	fmt.Fprintf(p.w, "%s: %d objects, %.1f MiB%s\n", p.what, p.objects.Load(), float64(p.bytes.Load())/(1<<20), total)
}
