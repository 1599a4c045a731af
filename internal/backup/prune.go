package backup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// PruneOptions configure Prune.
type PruneOptions struct {
	KeepDaily  int // newest snapshot of each of the last N days that have one
	KeepWeekly int // newest snapshot of each of the last M ISO weeks that have one
	// Grace protects objects younger than this that no manifest names yet:
	// a backup running at the same time puts its blobs before its manifest.
	// Default one hour; tests set a negative value for none.
	Grace    time.Duration
	Now      func() time.Time
	Progress io.Writer
	Logger   *slog.Logger
}

// PruneResult says what Prune did.
type PruneResult struct {
	Kept, Deleted []string // snapshot names
	Incomplete    []string // unfinished snapshots removed
	Blobs         int      // unreferenced blobs deleted
	ExpiredBlobs  int      // blobs of drops past their retention date deleted
	Unreadable    []string // snapshots whose manifest does not read: kept, and no unreferenced blob is deleted
}

// Prune keeps the newest snapshot plus KeepDaily daily and KeepWeekly
// weekly ones and deletes the rest (manifest first, so a half-deleted
// snapshot is merely incomplete). It then deletes every blob no kept
// snapshot references, and every blob of a drop past its retention date
// even if a kept snapshot references it: a backup never keeps case files
// longer than the hub may. A restore of such a snapshot purges those drops.
func Prune(ctx context.Context, tg Target, opts PruneOptions) (*PruneResult, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Grace == 0 {
		opts.Grace = time.Hour
	}
	if opts.KeepDaily < 0 || opts.KeepWeekly < 0 {
		return nil, fmt.Errorf("backup: keep_daily (%d) and keep_weekly (%d) must not be negative", opts.KeepDaily, opts.KeepWeekly)
	}
	now := opts.Now()
	snaps, err := List(ctx, tg)
	if err != nil {
		return nil, err
	}
	res := &PruneResult{}
	keep := keepSet(snaps, opts.KeepDaily, opts.KeepWeekly)
	referenced := map[string]bool{}
	expired := map[string]bool{}
	for _, s := range snaps {
		switch {
		case s.Err != nil:
			res.Unreadable = append(res.Unreadable, s.Name)
			opts.Logger.Warn("backup: prune keeps a snapshot whose manifest does not read", "snapshot", s.Name, "error", s.Err)
		case s.Manifest == nil:
			if now.Sub(s.Newest) > opts.Grace {
				if err := deletePrefix(ctx, tg, SnapshotPrefix(s.Name)); err != nil {
					return res, err
				}
				res.Incomplete = append(res.Incomplete, s.Name)
			}
		case keep[s.Name]:
			res.Kept = append(res.Kept, s.Name)
			for _, b := range s.Manifest.Blobs {
				if b.RetainUntil.After(now) {
					referenced[BlobKey(b.File)] = true
				} else {
					expired[BlobKey(b.File)] = true
				}
			}
		default:
			if err := tg.Delete(ctx, ManifestKey(s.Name)); err != nil {
				return res, err
			}
			if err := deletePrefix(ctx, tg, SnapshotPrefix(s.Name)); err != nil {
				return res, err
			}
			res.Deleted = append(res.Deleted, s.Name)
			for _, b := range s.Manifest.Blobs {
				if !b.RetainUntil.After(now) {
					expired[BlobKey(b.File)] = true
				}
			}
		}
	}
	var del []ObjectInfo
	err = tg.List(ctx, "blobs/", func(o ObjectInfo) error {
		switch {
		case referenced[o.Key]:
		case expired[o.Key]:
			del = append(del, o)
			res.ExpiredBlobs++
		case len(res.Unreadable) == 0 && now.Sub(o.ModTime) > opts.Grace:
			del = append(del, o)
			res.Blobs++
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, o := range del {
		if err := tg.Delete(ctx, o.Key); err != nil {
			return res, err
		}
	}
	opts.Logger.Info("backup: pruned", "dest", tg.String(), "kept", len(res.Kept), "deleted", len(res.Deleted),
		"incomplete", len(res.Incomplete), "blobs", res.Blobs, "expired_blobs", res.ExpiredBlobs)
	return res, nil
}

// keepSet picks the snapshots to keep among the complete ones.
func keepSet(snaps []Snapshot, daily, weekly int) map[string]bool {
	keep := map[string]bool{}
	days, weeks := map[string]bool{}, map[string]bool{}
	newest := true
	for i := len(snaps) - 1; i >= 0; i-- {
		m := snaps[i].Manifest
		if m == nil {
			continue
		}
		if newest {
			keep[m.Name], newest = true, false
		}
		day := m.Time.UTC().Format("2006-01-02")
		y, w := m.Time.UTC().ISOWeek()
		week := fmt.Sprintf("%d-W%02d", y, w)
		if !days[day] && len(days) < daily {
			days[day], keep[m.Name] = true, true
		}
		if !weeks[week] && len(weeks) < weekly {
			weeks[week], keep[m.Name] = true, true
		}
	}
	return keep
}

func deletePrefix(ctx context.Context, tg Target, prefix string) error {
	var keys []string
	if err := tg.List(ctx, prefix, func(o ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tg.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
