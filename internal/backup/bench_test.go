package backup_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/backup/dirtarget"
	"github.com/hubkit/hubkit/internal/filedrop"
)

// benchBytes is HUBKIT_BENCH_BYTES, default 256 MiB: the drops' size.
func benchBytes(b *testing.B) int64 {
	if s := os.Getenv("HUBKIT_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("HUBKIT_BENCH_BYTES=%q is not a byte count", s)
		}
		return n
	}
	return 256 << 20
}

// benchHub is a hub with size bytes of drops in files of 8 MiB.
func benchHub(b *testing.B, size int64) *testHub {
	h := newTestHub(b)
	const file = 8 << 20
	for left := size; left > 0; left -= 4 * file {
		var sizes []int
		for i := 0; i < 4 && left-int64(i)*file > 0; i++ {
			sizes = append(sizes, int(min(file, left-int64(i)*file)))
		}
		h.addDrop(30, sizes...)
	}
	return h
}

func timeIt(fn func()) time.Duration { t := time.Now(); fn(); return time.Since(t) }

// BenchmarkBackup: a full backup of the drops against `cp -a` of the same
// data directory (goal ≤ 1.2×), then an incremental backup after one new
// drop (goal ≤ 2 s).
func BenchmarkBackup(b *testing.B) {
	size := benchBytes(b)
	h := benchHub(b, size)
	op := newOperator(b)
	opts := backup.Options{Recipients: []string{op.pub}, Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	var full, cp, incr time.Duration
	n := 0
	for b.Loop() {
		n++
		scratch := b.TempDir()
		cp += timeIt(func() {
			if out, err := exec.Command("cp", "-a", h.dir, filepath.Join(scratch, "copy")).CombinedOutput(); err != nil {
				b.Fatalf("cp -a: %v %s", err, out)
			}
		})
		os.RemoveAll(filepath.Join(scratch, "copy"))
		tg, err := dirtarget.Open(filepath.Join(scratch, "backups"))
		if err != nil {
			b.Fatal(err)
		}
		var first *backup.Result
		full += timeIt(func() {
			if first, err = backup.Backup(ctx, h.dir, tg, opts); err != nil {
				b.Fatal(err)
			}
		})
		if first.BlobsCopied != len(first.Manifest.Blobs) || first.BlobsCopied == 0 {
			b.Fatalf("the full backup copied %d of %d blobs", first.BlobsCopied, len(first.Manifest.Blobs))
		}
		b.StopTimer()
		h.addDrop(30, 8<<20)
		time.Sleep(time.Second) // a new snapshot name
		b.StartTimer()
		var res *backup.Result
		incr += timeIt(func() {
			if res, err = backup.Backup(ctx, h.dir, tg, opts); err != nil {
				b.Fatal(err)
			}
		})
		if res.BlobsCopied != 1 {
			b.Fatalf("the incremental backup copied %d blobs, want 1", res.BlobsCopied)
		}
		os.RemoveAll(scratch)
	}
	full, cp, incr = full/time.Duration(n), cp/time.Duration(n), incr/time.Duration(n)
	b.ReportMetric(full.Seconds(), "s/full")
	b.ReportMetric(cp.Seconds(), "s/cp-a")
	b.ReportMetric(full.Seconds()/cp.Seconds(), "full/cp-a")
	b.ReportMetric(incr.Seconds(), "s/incremental")
	fmt.Printf("backup of %d MiB: %v, cp -a %v: %.2f× (goal ≤ 1.2×); incremental after one 8 MiB drop: %v (goal ≤ 2 s)\n",
		size>>20, full.Round(time.Millisecond), cp.Round(time.Millisecond), full.Seconds()/cp.Seconds(), incr.Round(time.Millisecond))
}

// gapReader yields left zero bytes and records the longest time
// between two reads: how long the upload stood still.
type gapReader struct {
	left    int64
	last    time.Time
	longest time.Duration
	buf     [64 << 10]byte
}

func (g *gapReader) Read(p []byte) (int, error) {
	now := time.Now()
	if !g.last.IsZero() {
		g.longest = max(g.longest, now.Sub(g.last))
	}
	g.last = now
	if g.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf[:min(int64(len(g.buf)), g.left)])
	g.left -= int64(n)
	return n, nil
}

// BenchmarkUploadStall: the longest a 64 MiB upload streaming into the
// engine stands still while a full backup runs, against the same upload
// without a backup (goal ≤ 100 ms).
func BenchmarkUploadStall(b *testing.B) {
	size := benchBytes(b)
	h := benchHub(b, size)
	op := newOperator(b)
	opts := backup.Options{Recipients: []string{op.pub}, Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	stall := func(during func()) time.Duration {
		var stop atomic.Bool
		var worst time.Duration
		var wg sync.WaitGroup
		wg.Go(func() {
			for !stop.Load() {
				d, err := h.drops.CreateDrop(ctx, sender, filedrop.DropSpec{CaseRef: "SAG-STALL", Purpose: filedrop.PurposeSection12c, Recipients: []string{recipient}})
				if err != nil {
					b.Error(err)
					return
				}
				g := &gapReader{left: 64 << 20}
				if _, err := h.drops.AddFile(ctx, sender, d.ID, "stor.bin", g.left, g); err != nil {
					b.Error(err)
					return
				}
				worst = max(worst, g.longest)
			}
		})
		during()
		stop.Store(true)
		wg.Wait()
		return worst
	}
	var with, without time.Duration
	for b.Loop() {
		tg, err := dirtarget.Open(filepath.Join(b.TempDir(), "backups"))
		if err != nil {
			b.Fatal(err)
		}
		var took time.Duration
		with = max(with, stall(func() {
			took = timeIt(func() {
				if _, err := backup.Backup(ctx, h.dir, tg, opts); err != nil {
					b.Fatal(err)
				}
			})
		}))
		without = max(without, stall(func() { time.Sleep(took) }))
	}
	b.ReportMetric(float64(with.Microseconds())/1000, "ms/stall-during-backup")
	b.ReportMetric(float64(without.Microseconds())/1000, "ms/stall-alone")
	fmt.Printf("longest stall of a streaming upload during a backup of %d MiB: %v, without a backup: %v (%.2f×; goal ≤ 100 ms)\n",
		size>>20, with.Round(time.Millisecond), without.Round(time.Millisecond), with.Seconds()/max(without.Seconds(), 1e-6))
}

// BenchmarkUploadPause: the longest a small upload (create, add a 256 KiB
// file, seal) takes while a full backup runs, against the longest without
// one (goal ≤ 100 ms).
func BenchmarkUploadPause(b *testing.B) {
	size := benchBytes(b)
	h := benchHub(b, size)
	op := newOperator(b)
	opts := backup.Options{Recipients: []string{op.pub}, Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	longest := func(during func()) (time.Duration, int) {
		var stop atomic.Bool
		var worst time.Duration
		count := 0
		var wg sync.WaitGroup
		wg.Go(func() {
			for !stop.Load() {
				if d := timeIt(func() { h.addDrop(30, 256<<10) }); d > worst {
					worst = d
				}
				count++
			}
		})
		during()
		stop.Store(true)
		wg.Wait()
		return worst, count
	}
	var with, without time.Duration
	var took time.Duration
	for b.Loop() {
		tg, err := dirtarget.Open(filepath.Join(b.TempDir(), "backups"))
		if err != nil {
			b.Fatal(err)
		}
		w, n := longest(func() {
			took = timeIt(func() {
				if _, err := backup.Backup(ctx, h.dir, tg, opts); err != nil {
					b.Fatal(err)
				}
			})
		})
		with = max(with, w)
		wo, _ := longest(func() { time.Sleep(took) })
		without = max(without, wo)
		b.Logf("%d uploads during a %v backup", n, took.Round(time.Millisecond))
	}
	b.ReportMetric(float64(with.Microseconds())/1000, "ms/longest-upload-during-backup")
	b.ReportMetric(float64(without.Microseconds())/1000, "ms/longest-upload-alone")
	fmt.Printf("longest small upload during a backup of %d MiB: %v, without a backup: %v (%.2f×); the backup's own delay %v (goal ≤ 100 ms)\n",
		size>>20, with.Round(time.Millisecond), without.Round(time.Millisecond), with.Seconds()/without.Seconds(), max(0, with-without).Round(time.Millisecond))
}
