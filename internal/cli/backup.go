package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/backup/dirtarget"
	"github.com/hubkit/hubkit/internal/backup/s3target"
	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/version"
)

func (a *app) backupCmd() *cobra.Command {
	var data, to, bundleDir, regionID string
	var prune bool
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Take an online snapshot of a hub's data directory, and list, verify and prune snapshots",
		Long: `backup snapshots a hub's data directory while the hub runs: the store (through
SQLite's VACUUM INTO, uploads go on), the audit log up to its head at that
moment, the keys, and the file-drop blobs the store references. Store, audit
log and keys are encrypted to backup.recipients (age public keys); blobs are
already encrypted to the hub's key and are copied once, shared by later
snapshots. --to is a directory or s3://BUCKET/PREFIX (backup.s3.*; the
credentials only from the configuration or HUBKIT_BACKUP_S3_* variables).

Every run writes <data>/backup-status.json (time, destination, snapshot,
ok or error). See docs/operations.md, "Backup and restore".`,
		Example: `  hubctl backup --data /var/lib/hubkit/nordjylland --to /mnt/backup/nordjylland
  hubctl backup --data /var/lib/hubkit/nordjylland --to s3://hubkit-backups/nordjylland --bundle /srv/hubkit/nordjylland/current`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if regionID == "" && bundleDir != "" {
				regionID = bundleRegion(bundleDir)
			}
			tg, err := a.openTarget(ctx, to, true)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, nil))
			settings, err := a.backupSettings(bundleDir)
			if err != nil {
				return err
			}
			res, err := backup.Backup(ctx, data, tg, backup.Options{Recipients: settings.Recipients, Region: regionID,
				Version: version.Version, BundleDir: bundleDir, Progress: a.stderr, Logger: logger})
			st := backup.Status{Time: time.Now().UTC(), Dest: tg.String(), OK: err == nil}
			if err != nil {
				st.Error = err.Error()
			} else {
				st.Snapshot = res.Manifest.Name
			}
			if _, serr := os.Stat(filepath.Join(data, filedrop.StoreFile)); serr == nil {
				if werr := backup.WriteStatus(data, st); werr != nil {
					err = errors.Join(err, werr)
				}
			}
			if err != nil {
				return err
			}
			m := res.Manifest
			fmt.Fprintf(a.stdout, "snapshot %s in %s: %d blobs (%d copied, %d shared), %d ended during the backup, audit up to record %d, %s written in %s\n",
				m.Name, tg, len(m.Blobs), res.BlobsCopied, res.BlobsShared, res.Ended, m.Audit.Seq,
				humanize.IBytes(uint64(res.BytesCopied)), res.Took.Round(time.Millisecond))
			if prune {
				return a.prune(ctx, to, settings)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the hub's data directory (holding hub.db, audit.log, keys/ and blobs/)")
	cmd.Flags().StringVar(&to, "to", "", "destination: a directory or s3://BUCKET/PREFIX")
	cmd.Flags().StringVar(&bundleDir, "bundle", "", "the hub's bundle directory: its manifest.json is kept with the snapshot, and its backup.json supplies backup.recipients and the retention when the configuration has none (optional)")
	cmd.Flags().BoolVar(&prune, "prune", false, "after the backup, prune the destination as hubctl backup prune does (the nightly timer does this)")
	cmd.Flags().StringVar(&regionID, "region", "", "the hub's region id, recorded in the manifest (default: the bundle's)")
	_ = cmd.MarkFlagRequired("data")
	_ = cmd.MarkFlagRequired("to")
	cmd.AddCommand(a.backupListCmd(), a.backupVerifyCmd(), a.backupPruneCmd())
	return cmd
}

func (a *app) backupListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list DEST",
		Short:   "List the snapshots in a backup destination",
		Example: "  hubctl backup list /mnt/backup/nordjylland",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tg, err := a.openTarget(cmd.Context(), args[0], false)
			if err != nil {
				return err
			}
			snaps, err := backup.List(cmd.Context(), tg)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "SNAPSHOT\tTIME (UTC)\tREGION\tBLOBS\tENDED\tAUDIT\tSTATE")
			for _, s := range snaps {
				switch m := s.Manifest; {
				case m != nil:
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\tcomplete\n", s.Name, m.Time.Format("2006-01-02 15:04:05"), orDash(m.Region), len(m.Blobs), len(m.Ended), m.Audit.Seq)
				case s.Err != nil:
					fmt.Fprintf(w, "%s\t\t\t\t\t\tUNREADABLE: %v\n", s.Name, s.Err)
				default:
					fmt.Fprintf(w, "%s\t\t\t\t\t\tincomplete (no manifest: the backup did not finish)\n", s.Name)
				}
			}
			return w.Flush()
		},
	}
}

func (a *app) backupVerifyCmd() *cobra.Command {
	var name, identity string
	cmd := &cobra.Command{
		Use:   "verify DEST",
		Short: "Check a snapshot's completeness and hashes (and, with --identity, its content)",
		Long: `verify reads every object of a snapshot (the newest, or --name) and checks it
against the manifest's size and SHA-256, and the manifest's signature by the
hub's key, without any private key. Blobs of drops past their retention date
that prune deleted are counted, not errors. With --identity (an operator's
age identity file) it also decrypts the store, audit log and keys: the audit
chain must verify up to the recorded head and every file the store
references must be among the snapshot's blobs. Exit status 1 on any problem.`,
		Example: `  hubctl backup verify /mnt/backup/nordjylland
  hubctl backup verify s3://hubkit-backups/nordjylland --name 20261201T020000Z --identity ~/.config/hubkit/operator.agekey`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var id age.Identity
			if identity != "" {
				var err error
				if id, err = loadIdentity(identity); err != nil {
					return err
				}
			}
			tg, err := a.openTarget(ctx, args[0], false)
			if err != nil {
				return err
			}
			m, err := backup.Pick(ctx, tg, name, time.Time{})
			if err != nil {
				return err
			}
			res, err := backup.Verify(ctx, tg, m, id, a.stderr, time.Now())
			if err != nil {
				fmt.Fprintln(a.stdout, "BROKEN:", err)
				return exitError{1}
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(a.stderr, "warning:", w)
			}
			fmt.Fprintf(a.stdout, "ok  snapshot %s: %d objects and %d blobs with their hashes (%s)", m.Name, res.Objects, res.Blobs, humanize.IBytes(uint64(res.Bytes)))
			if res.ExpiredPruned > 0 {
				fmt.Fprintf(a.stdout, ", %d blobs of expired drops pruned", res.ExpiredPruned)
			}
			if res.Decrypted {
				fmt.Fprintf(a.stdout, "; decrypted: %d audit records intact, %d drops with %d files all present", res.Check.AuditRecords, res.Check.Drops, res.Check.Files)
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the snapshot (default: the newest)")
	cmd.Flags().StringVar(&identity, "identity", "", "an operator's age identity file: also decrypt and check the content")
	return cmd
}

func (a *app) backupPruneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "prune DEST",
		Short: "Delete snapshots beyond backup.keep_daily/keep_weekly, unreferenced blobs and blobs past retention",
		Long: `prune keeps the newest snapshot and the newest of each of the last
backup.keep_daily days and backup.keep_weekly ISO weeks, and deletes the
others. It then deletes every blob no kept snapshot references, and every
blob of a drop past its retention date, even one a kept snapshot references:
a backup never keeps case files longer than the hub may. Restoring such a
snapshot purges those drops. Run it after every backup.`,
		Example: "  hubctl backup prune /mnt/backup/nordjylland",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings, err := a.backupSettings("")
			if err != nil {
				return err
			}
			return a.prune(cmd.Context(), args[0], settings)
		},
	}
}

// prune prunes a backup destination with the retention of settings.
func (a *app) prune(ctx context.Context, dest string, settings config.Backup) error {
	tg, err := a.openTarget(ctx, dest, false)
	if err != nil {
		return err
	}
	res, err := backup.Prune(ctx, tg, backup.PruneOptions{KeepDaily: settings.KeepDaily, KeepWeekly: settings.KeepWeekly,
		Logger: slog.New(slog.NewTextHandler(a.stderr, nil))})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %d snapshot(s) kept, %d deleted, %d incomplete removed; %d unreferenced blob(s) and %d blob(s) of expired drops deleted\n",
		tg, len(res.Kept), len(res.Deleted), len(res.Incomplete), res.Blobs, res.ExpiredBlobs)
	if len(res.Unreadable) > 0 {
		fmt.Fprintf(a.stdout, "warning: %d snapshot(s) with an unreadable manifest kept (%s); unreferenced blobs were not deleted; check them with hubctl backup verify\n",
			len(res.Unreadable), strings.Join(res.Unreadable, ", "))
	}
	return nil
}

// backupSettings are the configuration's backup settings; on a hub's
// host, where hubctl runs without the operators' configuration file, the
// bundle's backup.json (rendered from it) supplies the recipients and the
// retention instead.
func (a *app) backupSettings(bundleDir string) (config.Backup, error) {
	s := a.cfg.Backup
	if bundleDir == "" {
		return s, nil
	}
	b, ok, err := bundle.ReadBackupSettings(bundleDir)
	if err != nil || !ok {
		return s, err
	}
	if len(s.Recipients) == 0 {
		s.Recipients = b.Recipients
	}
	s.KeepDaily, s.KeepWeekly = b.KeepDaily, b.KeepWeekly
	return s, nil
}

func (a *app) restoreCmd() *cobra.Command {
	var from, data, name, at, identity string
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore a snapshot into an empty data directory and check it",
		Long: `restore writes a snapshot (the newest, --name, or the newest taken at or before
--at) into an empty or missing data directory, decrypting with --identity
(an operator's age identity file); it refuses a directory that holds
anything. Drops whose blobs are not in the backup (past retention and
pruned, or ended while the backup ran) are then purged through the file
drop's own purge. Last it checks the result: every live drop's blob with
its recorded hash, the audit chain, the keys 0600 in a 0700 directory. Then
start the hub on the directory.`,
		Example: `  hubctl restore --from /mnt/backup/nordjylland --data /var/lib/hubkit/nordjylland --identity operator.agekey
  hubctl restore --from s3://hubkit-backups/nordjylland --data /var/lib/hubkit/nordjylland --at 2026-12-01T12:00 --identity operator.agekey`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if name != "" && at != "" {
				return errors.New("give --name or --at, not both")
			}
			var when time.Time
			if at != "" {
				var err error
				if when, err = parseAt(at); err != nil {
					return err
				}
			}
			id, err := loadIdentity(identity)
			if err != nil {
				return err
			}
			tg, err := a.openTarget(ctx, from, false)
			if err != nil {
				return err
			}
			m, err := backup.Pick(ctx, tg, name, when)
			if err != nil {
				return err
			}
			pol, err := purgePolicy(a.cfg.Defaults)
			if err != nil {
				return err
			}
			res, err := backup.Restore(ctx, tg, m, data, id, backup.RestoreOptions{Policy: pol, Progress: a.stderr})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored snapshot %s (taken %s) into %s: %d blobs, %s\n", m.Name, m.Time.Format(time.RFC3339), data, res.Blobs, humanize.IBytes(uint64(res.Bytes)))
			if res.ExpiredPruned > 0 || res.Ended > 0 {
				fmt.Fprintf(a.stdout, "%d blob(s) of drops past retention were pruned from the backup and %d ended during it: %d drop(s) purged\n",
					res.ExpiredPruned, res.Ended, res.Purge.Purged)
			}
			fmt.Fprintf(a.stdout, "check ok: %d drops with %d files present with their hashes, %d audit records intact, keys 0600 in keys/ 0700\n",
				res.Check.Drops, res.Check.Files, res.Check.AuditRecords)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the backup destination: a directory or s3://BUCKET/PREFIX")
	cmd.Flags().StringVar(&data, "data", "", "the data directory to restore into (empty or missing)")
	cmd.Flags().StringVar(&name, "name", "", "the snapshot (see hubctl backup list)")
	cmd.Flags().StringVar(&at, "at", "", "restore the newest snapshot taken at or before this time (UTC unless a zone is given), e.g. 2026-12-01T12:00")
	cmd.Flags().StringVar(&identity, "identity", "", "an operator's age identity file (the private key of one of backup.recipients)")
	for _, f := range []string{"from", "data", "identity"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// openTarget opens a destination; only a backup creates a missing directory.
func (a *app) openTarget(ctx context.Context, dest string, create bool) (backup.Target, error) {
	if dest == "" {
		return nil, errors.New("no backup destination: give a directory or s3://BUCKET/PREFIX")
	}
	if strings.HasPrefix(dest, "s3://") {
		s := a.cfg.Backup.S3
		return s3target.Open(ctx, dest, s3target.Config{Endpoint: s.Endpoint, Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Insecure: s.Insecure})
	}
	if strings.Contains(dest, "://") {
		return nil, fmt.Errorf("backup destination %q: only directories and s3:// are supported", dest)
	}
	if !create {
		if fi, err := os.Stat(dest); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("backup destination %s is not a directory", dest)
		}
	}
	return dirtarget.Open(dest)
}

// loadIdentity reads an operator's age identity file (age-keygen's format).
func loadIdentity(path string) (age.Identity, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--identity %s does not exist: give the age identity file (from age-keygen) of one of backup.recipients", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("--identity %s: %v", path, err)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("--identity %s holds %d identities; give a file with one", path, len(ids))
	}
	return ids[0], nil
}

// parseAt reads --at: RFC 3339, or a date with an optional time (UTC).
func parseAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			if layout == "2006-01-02" {
				t = t.Add(24*time.Hour - time.Nanosecond) // the whole day
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q is not a time like 2026-12-01T12:00 (UTC) or 2026-12-01T13:00:00+01:00", s)
}

// bundleRegion is the region a bundle's manifest.json names, or "".
func bundleRegion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return ""
	}
	var m struct {
		Region string `json:"region"`
	}
	json.Unmarshal(b, &m)
	return m.Region
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
