//go:build unix

package filedrop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash tests run the engine in a child process (this test binary,
// re-executed as TestCrashHelper), kill it with SIGKILL, the way a power
// cut or the OOM killer ends a hub, and reopen the data directory here.
// The child reports each acknowledged step on stdout; whatever it
// acknowledged must have survived, and nothing half-done may be visible.

const (
	helperEnvMode = "HUBKIT_FILEDROP_CRASH_MODE" // "point:<name>" or "random"
	helperEnvDir  = "HUBKIT_FILEDROP_CRASH_DIR"
)

// crashPolicy gives room for several multi-megabyte files per drop.
func crashPolicy(o *Options) {
	o.Policy.MaxFileBytes = 8 << 20
	o.Policy.MaxFilesPerDrop = intp(3)
}

// TestCrashHelper is the child; run by itself it does nothing.
func TestCrashHelper(t *testing.T) {
	mode, dir := os.Getenv(helperEnvMode), os.Getenv(helperEnvDir)
	if mode == "" {
		return
	}
	e := newEnvAt(t, dir, crashPolicy)
	say := func(format string, args ...any) { fmt.Fprintf(os.Stdout, "CRASH "+format+"\n", args...) }
	if point, ok := strings.CutPrefix(mode, "point:"); ok {
		crashHelperAt(e, point, say)
	} else {
		crashHelperRandom(e, say)
	}
	say("done")
	// Reaching here means the crash point was never hit: the parent fails.
	os.Exit(3)
}

func killSelf() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func crashHelperAt(e *env, point string, say func(string, ...any)) {
	dr := e.mustCreate(spec())
	kept := data(1, 300_000)
	f := e.mustAdd(alice, dr.ID, "kept.bin", kept)
	say("drop %s", dr.ID)
	say("ack %s %s", f.ID, f.SHA256)
	arm := func() {
		e.d.crashAt = func(p string) {
			if p == point {
				killSelf()
			}
		}
	}
	switch point {
	case "ingest-synced", "ingest-renamed", "commit-before":
		arm()
		e.d.AddFile(ctx, alice, dr.ID, "lost.bin", -1, bytes.NewReader(data(2, 200_000)))
	case "chunk-synced":
		up, err := e.d.BeginUpload(ctx, alice, dr.ID, "resumed.bin", 300_000)
		if err != nil {
			e.t.Fatal(err)
		}
		say("upload %s", up)
		content := data(3, 300_000)
		if _, err := e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(content[:100_000])); err != nil {
			e.t.Fatal(err)
		}
		arm()
		e.d.WriteChunk(ctx, alice, up, 100_000, bytes.NewReader(content[100_000:200_000]))
	case "finish-renamed":
		up, err := e.d.BeginUpload(ctx, alice, dr.ID, "finished.bin", 300_000)
		if err != nil {
			e.t.Fatal(err)
		}
		say("upload %s", up)
		if _, err := e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(data(3, 300_000))); err != nil {
			e.t.Fatal(err)
		}
		arm()
		e.d.FinishUpload(ctx, alice, up)
	case "seal-before-commit":
		arm()
		e.d.Seal(ctx, alice, dr.ID)
	}
}

// runHelper starts the child and returns its acknowledgements once it has
// died; kill, if set, is called with each line and returns true to have
// the parent kill the child at that moment.
func runHelper(t *testing.T, dir, mode string, kill func(line string) bool) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnvMode+"="+mode, helperEnvDir+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "CRASH ")
		if !ok {
			continue
		}
		lines = append(lines, line)
		if !killed && kill != nil && kill(line) {
			cmd.Process.Kill()
			killed = true
		}
	}
	io.Copy(io.Discard, out)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die by SIGKILL (%v); its output:\n%s\n%s", err, strings.Join(lines, "\n"), stderr.String())
	}
	return lines
}

// field returns the words of the first line starting with key.
func field(lines []string, key string) []string {
	for _, l := range lines {
		if w := strings.Fields(l); len(w) > 0 && w[0] == key {
			return w[1:]
		}
	}
	return nil
}

// TestCrashAtEveryStep kills the process at each step between "bytes
// received" and "committed", and checks what a restart finds.
func TestCrashAtEveryStep(t *testing.T) {
	for _, point := range []string{"ingest-synced", "ingest-renamed", "commit-before", "chunk-synced", "finish-renamed", "seal-before-commit"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			lines := runHelper(t, dir, "point:"+point, nil)
			dropID, ack := field(lines, "drop")[0], field(lines, "ack")
			e := newEnvAt(t, dir, crashPolicy)

			// The acknowledged file is there, whole.
			b, f, err := e.download(alice, dropID, ack[0])
			if err != nil || f.SHA256 != ack[1] || sha(b) != ack[1] {
				t.Fatalf("acknowledged file after the crash: %v", err)
			}
			dr, err := e.d.Get(ctx, alice, dropID)
			if err != nil {
				t.Fatal(err)
			}
			if len(dr.Files) != 1 || dr.State != StateDraft {
				t.Fatalf("after the crash the drop is %s with %d files, want a draft with the acknowledged file only", dr.State, len(dr.Files))
			}
			if in, _ := e.d.Inbox(ctx, bob); len(in) != 0 {
				t.Fatalf("a drop became visible through a crash: %+v", in)
			}
			e.wantNoStrayBlobs()
			if _, err := e.log.Verify(); err != nil {
				t.Fatalf("audit log after SIGKILL: %v", err)
			}

			switch point {
			case "chunk-synced":
				// The interrupted chunk is discarded; the upload resumes from
				// the last recorded one.
				up := field(lines, "upload")[0]
				off, err := e.d.UploadOffset(ctx, alice, up)
				if err != nil || off != 100_000 {
					t.Fatalf("UploadOffset = %d, %v; want 100000", off, err)
				}
				content := data(3, 300_000)
				if _, err := e.d.WriteChunk(ctx, alice, up, off, bytes.NewReader(content[off:])); err != nil {
					t.Fatal(err)
				}
				f, err := e.d.FinishUpload(ctx, alice, up)
				if err != nil || f.SHA256 != sha(content) {
					t.Fatalf("FinishUpload after the crash = %+v, %v", f, err)
				}
			case "finish-renamed":
				// The renamed blob went back to being the upload's part; finishing again works.
				up := field(lines, "upload")[0]
				f, err := e.d.FinishUpload(ctx, alice, up)
				if err != nil || f.SHA256 != sha(data(3, 300_000)) {
					t.Fatalf("FinishUpload after the crash = %+v, %v", f, err)
				}
			case "seal-before-commit":
				e.mustSeal(alice, dropID)
			}
			e.wantNoStrayBlobs()
		})
	}
}

// TestCrashAtRandom kills a child that uploads (single-shot and chunked)
// and seals without pause, at a random moment, three times over on the
// same data directory. After each restart every acknowledged file must be
// whole, every acknowledged seal delivered, every delivered drop complete,
// and nothing else on disk.
func TestCrashAtRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a child process three times")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	type ackd struct{ drop, file, name string }
	var acks []ackd
	sealed := map[string]bool{}
	for round := range 3 {
		target := 4 + rng.IntN(6)
		n := 0
		lines := runHelper(t, dir, "random", func(line string) bool {
			if strings.HasPrefix(line, "ack ") {
				n++
			}
			if n >= target {
				time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
				return true
			}
			return false
		})
		for _, l := range lines {
			w := strings.Fields(l)
			switch w[0] {
			case "ack":
				acks = append(acks, ackd{w[1], w[2], w[3]})
			case "sealed":
				sealed[w[1]] = true
			}
		}
		t.Logf("round %d: killed after %d acknowledgements", round, n)

		e := newEnvAt(t, dir, crashPolicy)
		for _, a := range acks {
			dr, err := e.d.Get(ctx, alice, a.drop)
			if err != nil {
				t.Fatalf("drop %s of an acknowledged file: %v", a.drop, err)
			}
			found := false
			for _, f := range dr.Files {
				if f.ID == a.file {
					found = true
					if f.SHA256 != expectedSHA(t, a.name) {
						t.Fatalf("acknowledged %s has SHA-256 %s, want %s", a.name, f.SHA256, expectedSHA(t, a.name))
					}
				}
			}
			if !found {
				t.Fatalf("acknowledged file %s (%s) is missing after the crash", a.file, a.name)
			}
		}
		inbox, err := e.d.Inbox(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		delivered := map[string]bool{}
		for _, dr := range inbox {
			delivered[dr.ID] = true
			if len(dr.Files) != 3 {
				t.Fatalf("delivered drop %s has %d files, want all 3", dr.ID, len(dr.Files))
			}
			for _, f := range dr.Files {
				b, _, err := e.download(bob, dr.ID, f.ID)
				if err != nil || sha(b) != expectedSHA(t, f.Name) {
					t.Fatalf("delivered file %s: %v", f.Name, err)
				}
			}
		}
		for id := range sealed {
			if !delivered[id] {
				t.Fatalf("drop %s was acknowledged as sealed but is not delivered", id)
			}
		}
		e.wantNoStrayBlobs()
		if _, err := e.log.Verify(); err != nil {
			t.Fatalf("audit log: %v", err)
		}
		e.close()
	}
}

// crashHelperRandom uploads until killed. File names carry the seed and
// size of their content, so the parent can check any file it finds.
func crashHelperRandom(e *env, say func(string, ...any)) {
	seed := uint64(time.Now().UnixNano())
	for i := 0; ; i++ {
		dr := e.mustCreate(spec())
		for j := range 3 {
			seed++
			size := 1<<20 + int(seed%(3<<20))
			name := fmt.Sprintf("f-%d-%d.bin", seed, size)
			content := data(seed, size)
			var f *File
			if (i+j)%2 == 0 {
				f = e.mustAdd(alice, dr.ID, name, content)
			} else {
				up, err := e.d.BeginUpload(ctx, alice, dr.ID, name, int64(size))
				if err != nil {
					e.t.Fatal(err)
				}
				for off := 0; off < size; off += 256 << 10 {
					end := min(off+256<<10, size)
					if _, err := e.d.WriteChunk(ctx, alice, up, int64(off), bytes.NewReader(content[off:end])); err != nil {
						e.t.Fatal(err)
					}
				}
				if f, err = e.d.FinishUpload(ctx, alice, up); err != nil {
					e.t.Fatal(err)
				}
			}
			say("ack %s %s %s", dr.ID, f.ID, name)
		}
		e.mustSeal(alice, dr.ID)
		say("sealed %s", dr.ID)
	}
}

// expectedSHA recomputes the SHA-256 of a file named by crashHelperRandom.
func expectedSHA(t *testing.T, name string) string {
	t.Helper()
	var seed uint64
	var size int
	if _, err := fmt.Sscanf(name, "f-%d-%d.bin", &seed, &size); err != nil {
		t.Fatalf("file name %q: %v", name, err)
	}
	return sha(data(seed, size))
}
