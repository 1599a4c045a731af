package backup

import (
	"slices"
	"sort"
	"testing"
	"time"
)

// keepSet over 60 daily snapshots (two a day): the newest of each of the
// last 7 days and of each of the last 4 ISO weeks.
func TestKeepSet(t *testing.T) {
	start := time.Date(2026, 10, 1, 2, 0, 0, 0, time.UTC) // a Thursday
	var snaps []Snapshot
	for d := range 60 {
		for _, h := range []int{0, 12} {
			tm := start.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			snaps = append(snaps, Snapshot{Name: tm.Format(nameLayout), Manifest: &Manifest{Name: tm.Format(nameLayout), Time: tm}})
		}
	}
	keep := keepSet(snaps, 7, 4)
	var got []string
	for n := range keep {
		got = append(got, n)
	}
	sort.Strings(got)
	// Newest: 2026-11-29 (Sunday) 14:00. Daily: the 14:00 ones of 11-23 … 11-29.
	// Weekly: the newest of weeks 48 (11-29, already daily), 47 (11-22),
	// 46 (11-15) and 45 (11-08), all Sundays at 14:00.
	want := []string{"20261108T140000Z", "20261115T140000Z", "20261122T140000Z", "20261123T140000Z", "20261124T140000Z",
		"20261125T140000Z", "20261126T140000Z", "20261127T140000Z", "20261128T140000Z", "20261129T140000Z"}
	if !slices.Equal(got, want) {
		t.Fatalf("keep = %v\nwant %v", got, want)
	}
	if k := keepSet(snaps, 0, 0); len(k) != 1 || !k["20261129T140000Z"] {
		t.Fatalf("keep 0/0 = %v, want the newest only", k)
	}
}
