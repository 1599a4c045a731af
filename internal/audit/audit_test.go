package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock returns a fake clock that ticks one second per call.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func event(i int) Event {
	return Event{
		Type:    "drop.download",
		Outcome: Success,
		Actor:   fmt.Sprintf("851:user%d", i),
		Kommune: 851,
		Case:    fmt.Sprintf("K-%d", i%3),
		Subject: fmt.Sprintf("drop-%d", i),
		IP:      "192.0.2.7",
		Detail:  map[string]string{"z": "last", "a": "<first & html>"},
	}
}

// writeLog creates a log with n records and returns its path.
func writeLog(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	l, err := Open(path, WithClock(clock()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 1; i <= n; i++ {
		if _, err := l.Append(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// copyLog copies a log and its head file into a new directory.
func copyLog(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	for _, p := range [][2]string{{path, dst}, {headPath(path), headPath(dst)}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")[:bytes.Count(b, []byte("\n"))]
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rehash re-encodes a line after f changed its record, as a careful forger would.
func rehash(t *testing.T, line string, f func(*Record)) string {
	t.Helper()
	r, err := decode([]byte(strings.TrimSuffix(line, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	f(&r)
	b, _, err := encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendAndVerify(t *testing.T) {
	path := writeLog(t, 5)
	s, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != 5 || s.LastSeq != 5 {
		t.Fatalf("summary %+v, want 5 records", s)
	}
	if s.First.Location() != time.UTC || !s.First.Equal(time.Date(2025, 3, 1, 8, 0, 1, 123456789, time.UTC)) {
		t.Errorf("first time %v", s.First)
	}
	lines := readLines(t, path)
	want := `{"seq":1,"time":"2025-03-01T08:00:01.123456789Z","type":"drop.download","outcome":"success","actor":"851:user1","kommune":851,"case":"K-1","subject":"drop-1","ip":"192.0.2.7","detail":{"a":"\u003cfirst \u0026 html\u003e","z":"last"},"prev":"` + Genesis + `","hash":"`
	if !strings.HasPrefix(lines[0], want) {
		t.Errorf("line 1 = %s\nwant prefix %s", lines[0], want)
	}
	if !strings.HasSuffix(lines[4], `"hash":"`+s.Head+`"}`+"\n") {
		t.Errorf("summary head %s is not the last record's hash", s.Head)
	}
	h, ok, err := readHead(headPath(path))
	if err != nil || !ok || h.Seq != 5 || h.Hash != s.Head {
		t.Errorf("head file = %+v %v %v", h, ok, err)
	}
}

func TestLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	now := time.Date(2025, 3, 1, 9, 0, 0, 123, time.UTC)
	l, err := Open(path, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	ev := event(1)
	base, _, _ := encode(Record{Seq: 1, Time: now, Event: ev, Prev: Genesis})
	ev.Detail["pad"] = strings.Repeat("x", MaxLine-len(base)-len(`,"pad":""`))
	r, err := l.Append(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if line, _, _ := encode(r); len(line) != MaxLine {
		t.Fatalf("test line is %d bytes, want exactly MaxLine", len(line))
	}
	if l, err = Open(path); err != nil { // reads the long tail record
		t.Fatal(err)
	}
	l.Close()
	if s, err := Verify(path); err != nil || s.Records != 1 {
		t.Fatalf("Verify = %+v, %v", s, err)
	}

	// One byte more is not a record.
	b, _ := os.ReadFile(path)
	writeLines(t, path, []string{" " + string(b)})
	_, err = Verify(path)
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Line != 1 || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Verify of an over-long line = %v", err)
	}
}

func TestFileModes(t *testing.T) {
	path := writeLog(t, 1)
	for p, want := range map[string]os.FileMode{
		filepath.Dir(path): 0o700,
		path:               0o600,
		headPath(path):     0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	// A loosened mode is tightened on the next open.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after reopen %v, want 0600", fi.Mode().Perm())
	}
}

func TestAppendRejectsBadEvents(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	for _, ev := range []Event{
		{Outcome: Success},
		{Type: "login"},
		{Type: "login", Outcome: "ok"},
		{Type: "login", Outcome: Failure, Detail: map[string]string{"x": strings.Repeat("a", MaxLine)}},
	} {
		if _, err := l.Append(ctx, ev); err == nil {
			t.Errorf("Append(%.60v) succeeded, want error", ev)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Append(cctx, event(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with canceled context: %v", err)
	}
	if s, err := l.Verify(); err != nil || s.Records != 0 {
		t.Errorf("after rejected appends: %+v, %v; want 0 records", s, err)
	}
	l.Close()
	if _, err := l.Append(ctx, event(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
}

func TestTampering(t *testing.T) {
	const n = 10
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string, lines []string) []string
		line   int    // 0: error about the file as a whole
		msg    string // substring of the error
	}{
		{
			name: "edit a field of a middle record",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[4] = strings.Replace(l[4], `"actor":"851:user5"`, `"actor":"851:user9"`, 1)
				return l
			},
			line: 5, msg: "hash mismatch: record was edited",
		},
		{
			name: "edit a middle record and fix its hash",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[4] = rehash(t, l[4], func(r *Record) { r.Outcome = Failure })
				return l
			},
			line: 6, msg: "prev does not match the hash of line 5",
		},
		{
			name: "reformat a record without changing its meaning",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[2] = strings.Replace(l[2], `"seq":3,`, `"seq": 3,`, 1)
				return l
			},
			line: 3, msg: "not in canonical form",
		},
		{
			name: "add an unknown field",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[2] = strings.Replace(l[2], `{"seq":3,`, `{"note":"x","seq":3,`, 1)
				return l
			},
			line: 3, msg: "not in canonical form",
		},
		{
			name: "delete a middle line",
			tamper: func(t *testing.T, _ string, l []string) []string {
				return append(l[:4:4], l[5:]...)
			},
			line: 5, msg: "seq 6 follows 4: a record was deleted",
		},
		{
			name: "delete the first line",
			tamper: func(t *testing.T, _ string, l []string) []string {
				return l[1:]
			},
			line: 1, msg: "first record has seq 2, want 1",
		},
		{
			name: "delete the last line",
			tamper: func(t *testing.T, _ string, l []string) []string {
				return l[:n-1]
			},
			msg: "last record is seq 9 but head says 10: records were removed from the end",
		},
		{
			name: "delete the last three lines",
			tamper: func(t *testing.T, _ string, l []string) []string {
				return l[:n-3]
			},
			msg: "last record is seq 7 but head says 10: records were removed from the end",
		},
		{
			name: "delete every line",
			tamper: func(t *testing.T, _ string, l []string) []string {
				return nil
			},
			msg: "last record is seq 0 but head says 10",
		},
		{
			name: "reorder two lines",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[3], l[4] = l[4], l[3]
				return l
			},
			line: 4, msg: "seq 5 follows 3",
		},
		{
			name: "duplicate a line",
			tamper: func(t *testing.T, _ string, l []string) []string {
				return append(l[:5:5], l[4:]...)
			},
			line: 6, msg: "seq 5 follows 5: records were reordered or duplicated",
		},
		{
			name: "append a forged line with a correct chain",
			tamper: func(t *testing.T, _ string, l []string) []string {
				last, _ := decode([]byte(strings.TrimSuffix(l[n-1], "\n")))
				forged := rehash(t, l[n-1], func(r *Record) {
					r.Seq, r.Prev, r.Actor = last.Seq+1, last.Hash, "851:mallory"
				})
				return append(l, forged)
			},
			msg: "last record is seq 11 but head says 10: records were added",
		},
		{
			name: "append a forged line with a made-up hash",
			tamper: func(t *testing.T, _ string, l []string) []string {
				forged := strings.Replace(l[n-1], `"seq":10,`, `"seq":11,`, 1)
				return append(l, forged)
			},
			line: 11, msg: "hash mismatch",
		},
		{
			name: "replace the last record and fix its hash",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[n-1] = rehash(t, l[n-1], func(r *Record) { r.Actor = "851:mallory" })
				return l
			},
			msg: "last record (seq 10) does not match the head hash",
		},
		{
			name: "corrupt JSON",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[2] = l[2][:40] + "\n"
				return l
			},
			line: 3, msg: "not a valid audit record",
		},
		{
			name: "empty line",
			tamper: func(t *testing.T, _ string, l []string) []string {
				return append(l[:3:3], append([]string{"\n"}, l[3:]...)...)
			},
			line: 4, msg: "not a valid audit record",
		},
		{
			name: "cut in the middle of the last line",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[n-1] = l[n-1][:30]
				return l
			},
			line: 10, msg: "the last line is incomplete",
		},
		{
			name: "time moved out of UTC",
			tamper: func(t *testing.T, _ string, l []string) []string {
				l[1] = rehash(t, l[1], func(r *Record) { r.Time = r.Time.In(time.FixedZone("X", 7200)) })
				return l
			},
			line: 2, msg: "time is not in UTC",
		},
		{
			name: "head file removed",
			tamper: func(t *testing.T, path string, l []string) []string {
				if err := os.Remove(headPath(path)); err != nil {
					t.Fatal(err)
				}
				return l
			},
			msg: ".head is missing",
		},
		{
			name: "head file garbage",
			tamper: func(t *testing.T, path string, l []string) []string {
				if err := os.WriteFile(headPath(path), []byte("{\"seq\":10}"), 0o600); err != nil {
					t.Fatal(err)
				}
				return l
			},
			msg: "want 64 hex digits",
		},
	}
	// Appends are fsync-bound: write the log once and give each case a copy.
	orig := writeLog(t, n)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := copyLog(t, orig)
			writeLines(t, path, tt.tamper(t, path, readLines(t, path)))
			_, err := Verify(path)
			if err == nil {
				t.Fatal("Verify passed a tampered log")
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			var ce *ChainError
			if errors.As(err, &ce) {
				if ce.Line != tt.line {
					t.Errorf("error at line %d, want %d: %v", ce.Line, tt.line, err)
				}
				prefix := path + ":"
				if tt.line > 0 {
					prefix = fmt.Sprintf("%s:%d: ", path, tt.line)
				}
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error %q does not start with %q", err, prefix)
				}
			} else if tt.line != 0 {
				t.Errorf("error %v is not a *ChainError", err)
			}
			// Export refuses too, and writes nothing.
			var buf bytes.Buffer
			if _, err := Export(path, nil, &buf); err == nil || buf.Len() > 0 {
				t.Errorf("Export on a tampered log: %v, wrote %d bytes", err, buf.Len())
			}
		})
	}
}

func TestOpenRefusesMissingHead(t *testing.T) {
	path := writeLog(t, 2)
	os.Remove(headPath(path))
	if _, err := Open(path); err == nil {
		t.Error("Open accepted a log without its head file")
	}
}

func TestEmptyLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Verify(path) // no head file: fine while there are no records
	if err != nil || s.Records != 0 || s.Head != Genesis {
		t.Fatalf("Verify(empty) = %+v, %v", s, err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if s, err := Verify(path); err != nil || s.Records != 0 {
		t.Fatalf("Verify(empty, opened) = %+v, %v", s, err)
	}
	if _, err := Verify(filepath.Join(dir, "missing.log")); err == nil {
		t.Error("Verify of a missing file succeeded")
	}
}

func TestConcurrentAppends(t *testing.T) {
	const workers, each = 8, 12
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(context.Background(), event(w*each+i)); err != nil {
					errs <- err
					return
				}
				if i == each/2 {
					// Checking while others append must not report a false break.
					if _, err := l.Verify(); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	l.Close()
	s, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != workers*each || s.LastSeq != workers*each {
		t.Errorf("got %d records (last seq %d), want %d", s.Records, s.LastSeq, workers*each)
	}
}

func TestReopenResumesChain(t *testing.T) {
	path := writeLog(t, 3)
	l, err := Open(path, WithClock(clock()))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := Verify(path)
	r, err := l.Append(context.Background(), event(4))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if r.Seq != 4 || r.Prev != before.Head {
		t.Errorf("record after reopen: seq %d prev %s, want seq 4 prev %s", r.Seq, r.Prev, before.Head)
	}
	s, err := Verify(path)
	if err != nil || s.Records != 4 || s.Head != r.Hash {
		t.Errorf("Verify = %+v, %v", s, err)
	}
}

func TestOpenRefusesBrokenTail(t *testing.T) {
	for name, tamper := range map[string]func([]string) []string{
		"last line removed": func(l []string) []string { return l[:len(l)-1] },
		"last line edited":  func(l []string) []string { l[len(l)-1] = strings.Replace(l[len(l)-1], "user3", "userX", 1); return l },
		"last line cut":     func(l []string) []string { l[len(l)-1] = l[len(l)-1][:20]; return l },
	} {
		t.Run(name, func(t *testing.T) {
			path := writeLog(t, 3)
			writeLines(t, path, tamper(readLines(t, path)))
			l, err := Open(path)
			if err == nil {
				l.Close()
				t.Fatal("Open accepted a log with a broken end")
			}
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *ChainError", err)
			}
		})
	}
}

// A hub that stops between writing a record and moving the head on leaves
// the log one record ahead; Open finishes the append.
func TestOpenRepairsInterruptedAppend(t *testing.T) {
	path := writeLog(t, 3)
	old, err := os.ReadFile(headPath(path))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), event(4)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := os.WriteFile(headPath(path), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(path); err == nil {
		t.Fatal("Verify accepted a stale head")
	}
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if s, err := Verify(path); err != nil || s.Records != 4 {
		t.Errorf("after repair: %+v, %v", s, err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l2, err := Open(path); err == nil {
		l2.Close()
		t.Fatal("second Open of the same log succeeded; two writers would fork the chain")
	}
}

func TestExport(t *testing.T) {
	path := writeLog(t, 9) // cases K-0, K-1, K-2 three times each
	var buf bytes.Buffer
	n, err := Export(path, func(r Record) bool { return r.Case == "K-1" }, &buf)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if n != 3 || len(lines) != 3 {
		t.Fatalf("exported %d records, %d lines; want 3", n, len(lines))
	}
	for _, line := range lines {
		r, err := decode([]byte(line))
		if err != nil || r.Case != "K-1" {
			t.Errorf("exported line %s: %v", line, err)
		}
	}
	// Per person: the actor or the subject.
	buf.Reset()
	n, err = Export(path, func(r Record) bool { return r.Actor == "851:user4" || r.Subject == "drop-4" }, &buf)
	if err != nil || n != 1 {
		t.Errorf("export per person = %d, %v; want 1", n, err)
	}
	buf.Reset()
	if n, err := Export(path, nil, &buf); err != nil || n != 9 {
		t.Errorf("export all = %d, %v; want 9", n, err)
	}

	// The open log exports while it is being appended to.
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(context.Background(), event(10)); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if n, err := l.Export(nil, &buf); err != nil || n != 10 {
		t.Errorf("Log.Export = %d, %v; want 10", n, err)
	}
}
