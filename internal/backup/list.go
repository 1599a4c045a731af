package backup

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Snapshot is a snapshot found in a target.
type Snapshot struct {
	Name     string
	Manifest *Manifest // nil if incomplete or unreadable
	Err      error     // why Manifest is nil; nil for an incomplete snapshot
	Objects  int       // objects under its prefix, manifest included
	Newest   time.Time // newest object's time
}

// Complete reports whether the snapshot has a readable manifest.
func (s Snapshot) Complete() bool { return s.Manifest != nil }

// List returns the target's snapshots, oldest first. A snapshot whose
// manifest is missing (a backup that did not finish) or unreadable is
// listed with Manifest nil.
func List(ctx context.Context, tg Target) ([]Snapshot, error) {
	byName := map[string]*Snapshot{}
	hasManifest := map[string]bool{}
	err := tg.List(ctx, "snapshots/", func(o ObjectInfo) error {
		rest := strings.TrimPrefix(o.Key, "snapshots/")
		name, file, ok := strings.Cut(rest, "/")
		if !ok || !ValidName(name) {
			return nil
		}
		s := byName[name]
		if s == nil {
			s = &Snapshot{Name: name}
			byName[name] = s
		}
		s.Objects++
		if o.ModTime.After(s.Newest) {
			s.Newest = o.ModTime
		}
		if file == "manifest.json" {
			hasManifest[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for name, s := range byName {
		if hasManifest[name] {
			s.Manifest, s.Err = ReadManifest(ctx, tg, name)
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// maxManifest bounds what ReadManifest reads (a million blobs fit).
const maxManifest = 512 << 20

// ReadManifest fetches and parses a snapshot's manifest.
func ReadManifest(ctx context.Context, tg Target, name string) (*Manifest, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("backup: %q is not a snapshot name (like 20261201T120000Z); see hubctl backup list", name)
	}
	r, err := tg.Get(ctx, ManifestKey(name))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("backup: read %s: %w", ManifestKey(name), err)
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("backup: %s is larger than %d bytes", ManifestKey(name), maxManifest)
	}
	m, err := ParseManifest(ManifestKey(name), b)
	if err != nil {
		return nil, err
	}
	if m.Name != name {
		return nil, fmt.Errorf("backup: %s names snapshot %s: it was moved or edited", ManifestKey(name), m.Name)
	}
	return m, nil
}

// Pick chooses a complete snapshot: by name, else the newest taken at or
// before at (when not zero), else the newest.
func Pick(ctx context.Context, tg Target, name string, at time.Time) (*Manifest, error) {
	if name != "" {
		return ReadManifest(ctx, tg, name)
	}
	snaps, err := List(ctx, tg)
	if err != nil {
		return nil, err
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		m := snaps[i].Manifest
		if m != nil && (at.IsZero() || !m.Time.After(at)) {
			return m, nil
		}
	}
	if at.IsZero() {
		return nil, fmt.Errorf("backup: %s holds no complete snapshot", tg)
	}
	return nil, fmt.Errorf("backup: %s holds no complete snapshot taken at or before %s (hubctl backup list shows them)", tg, at.UTC().Format(time.RFC3339))
}
