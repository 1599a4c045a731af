package filedrop

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/dustin/go-humanize"
)

// The performance goal: uploads and downloads stream a large file at a
// rate close to what the machine's slower bottleneck allows (disk write
// with fsync, or age encryption), with memory that does not grow with the
// file. Sizes are 256 MiB unless HUBKIT_BENCH_BYTES says otherwise (e.g.
// HUBKIT_BENCH_BYTES=1GiB):
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/filedrop
//
// BenchmarkUpload and BenchmarkDownload report x-baseline: their time per
// file divided by that of the slower of the two baselines, measured in the
// same run (1.0 would mean no cost beyond the bottleneck).

// benchBytes is the file size for the benchmarks.
func benchBytes(b testing.TB) int64 {
	if s := os.Getenv("HUBKIT_BENCH_BYTES"); s != "" {
		n, err := humanize.ParseBytes(s)
		if err != nil || n == 0 {
			b.Fatalf("HUBKIT_BENCH_BYTES=%q: %v", s, err)
		}
		return int64(n)
	}
	return 256 << 20
}

// source yields size bytes cheaply (a random 1 MiB block over and over),
// so the benchmarks measure the engine and not the data generator. It is
// a plain Reader, as a network body is.
type source struct {
	block []byte
	left  int64
	pos   int
}

var benchBlock = data(42, 1<<20)

func newSource(size int64) *source { return &source{block: benchBlock, left: size} }

func (s *source) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), s.left)], s.block[s.pos:])
	s.pos = (s.pos + n) % len(s.block)
	s.left -= int64(n)
	return n, nil
}

// sourceSHA is the SHA-256 of newSource(size)'s bytes.
func sourceSHA(size int64) string {
	h := sha256.New()
	io.CopyBuffer(h, newSource(size), make([]byte, 64<<10))
	return hex.EncodeToString(h.Sum(nil))
}

// baselines holds ns per file of the baseline benchmarks of this run.
var baselines struct {
	sync.Mutex
	raw, age float64
}

func rawDiskWrite(b testing.TB, dir string, size int64) {
	f, err := os.Create(filepath.Join(dir, "raw.bin"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyBuffer(f, newSource(size), make([]byte, 64<<10)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	os.Remove(f.Name())
}

func ageEncrypt(b testing.TB, to age.Recipient, size int64) {
	w, err := age.Encrypt(io.Discard, to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyBuffer(w, newSource(size), make([]byte, 64<<10)); err != nil {
		b.Fatal(err)
	}
	w.Close()
}

// BenchmarkRawDiskWrite is the disk baseline: write the file and fsync it.
func BenchmarkRawDiskWrite(b *testing.B) {
	size, dir := benchBytes(b), b.TempDir()
	b.SetBytes(size)
	for b.Loop() {
		rawDiskWrite(b, dir, size)
	}
	baselines.Lock()
	baselines.raw = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	baselines.Unlock()
}

// BenchmarkAgeEncrypt is the crypto baseline: age-encrypt in memory.
func BenchmarkAgeEncrypt(b *testing.B) {
	size := benchBytes(b)
	id, _ := age.GenerateX25519Identity()
	b.SetBytes(size)
	for b.Loop() {
		ageEncrypt(b, id.Recipient(), size)
	}
	baselines.Lock()
	baselines.age = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	baselines.Unlock()
}

// slowerBaseline returns the slower baseline's ns per file, measuring both
// once now if their benchmarks did not run before (e.g. -bench Upload).
func slowerBaseline(b *testing.B, size int64) float64 {
	baselines.Lock()
	defer baselines.Unlock()
	if baselines.raw == 0 {
		start := time.Now()
		rawDiskWrite(b, b.TempDir(), size)
		baselines.raw = float64(time.Since(start).Nanoseconds())
	}
	if baselines.age == 0 {
		id, _ := age.GenerateX25519Identity()
		start := time.Now()
		ageEncrypt(b, id.Recipient(), size)
		baselines.age = float64(time.Since(start).Nanoseconds())
	}
	return max(baselines.raw, baselines.age)
}

func benchEnv(b *testing.B, size int64) *env {
	return newEnv(b, func(o *Options) {
		o.Policy.MaxFileBytes = size
		o.Policy.MaxFilesPerDrop = intp(1000)
	})
}

// BenchmarkUpload stores one file per iteration through AddFile: stream,
// hash, encrypt, fsync, rename, commit.
func BenchmarkUpload(b *testing.B) {
	size := benchBytes(b)
	base := slowerBaseline(b, size)
	e := benchEnv(b, size)
	dr := e.mustCreate(spec())
	want := sourceSHA(size)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		f, err := e.d.AddFile(ctx, alice, dr.ID, "big.bin", size, newSource(size))
		if err != nil {
			b.Fatal(err)
		}
		if f.SHA256 != want {
			b.Fatalf("SHA-256 %s, want %s", f.SHA256, want)
		}
		b.StopTimer()
		e.d.removeBlob(f.ID) // keep the disk from filling over many iterations
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-baseline")
}

// BenchmarkDownload reads one stored file per iteration: decrypt, hash
// check, stream to io.Discard.
func BenchmarkDownload(b *testing.B) {
	size := benchBytes(b)
	base := slowerBaseline(b, size)
	e := benchEnv(b, size)
	dr := e.mustCreate(spec())
	f, err := e.d.AddFile(ctx, alice, dr.ID, "big.bin", size, newSource(size))
	if err != nil {
		b.Fatal(err)
	}
	e.mustSeal(alice, dr.ID)
	buf := make([]byte, 64<<10)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		rc, _, err := e.d.Open(ctx, bob, dr.ID, f.ID)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, rc, buf)
		rc.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-baseline")
}

// heapWatch samples HeapInuse until stopped and reports the peak.
type heapWatch struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

func watchHeap() *heapWatch {
	w := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > w.peak.Load() {
				w.peak.Store(ms.HeapInuse)
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *heapWatch) Peak() uint64 {
	close(w.stop)
	<-w.done
	return w.peak.Load()
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// memoryBound is how far the heap may grow while a 256 MiB file streams
// through. Holding the file, or an eighth of it, would blow past it; the
// engine's live buffers (age's 64 KiB chunks, the write-behind and
// read-ahead buffers, SQLite) take a few MiB, and the margin is for
// garbage awaiting collection on a busy machine.
const memoryBound = 32 << 20

// TestConstantMemory streams 256 MiB up through an io.Pipe (as an HTTP
// body arrives) and down again, and checks the heap stays within
// memoryBound of where it started. It asserts memory, not time.
func TestConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 512 MiB")
	}
	const size = 256 << 20
	e := newEnv(t, func(o *Options) { o.Policy.MaxFileBytes = size })
	dr := e.mustCreate(spec())
	want := sourceSHA(size)

	pr, pw := io.Pipe()
	go func() {
		_, err := io.CopyBuffer(pw, newSource(size), make([]byte, 32<<10))
		pw.CloseWithError(err)
	}()
	before := heapInuse()
	w := watchHeap()
	f, err := e.d.AddFile(ctx, alice, dr.ID, "big.bin", size, pr)
	peak := w.Peak()
	if err != nil || f.SHA256 != want {
		t.Fatalf("AddFile = %+v, %v", f, err)
	}
	t.Logf("upload: heap in use %s before, peak %s", humanize.IBytes(before), humanize.IBytes(peak))
	if peak > before+memoryBound {
		t.Errorf("upload of %s: heap grew by %s, more than %s", humanize.IBytes(size), humanize.IBytes(peak-before), humanize.IBytes(memoryBound))
	}
	e.mustSeal(alice, dr.ID)

	before = heapInuse()
	w = watchHeap()
	rc, _, err := e.d.Open(ctx, bob, dr.ID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(struct{ hash.Hash }{h}, rc, make([]byte, 32<<10))
	rc.Close()
	peak = w.Peak()
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	t.Logf("download: heap in use %s before, peak %s", humanize.IBytes(before), humanize.IBytes(peak))
	if peak > before+memoryBound {
		t.Errorf("download of %s: heap grew by %s, more than %s", humanize.IBytes(size), humanize.IBytes(peak-before), humanize.IBytes(memoryBound))
	}
}
