package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// startLog opens the log at path and runs the start check, as the hub does.
func startLog(t *testing.T, path string) (*Log, Check, error) {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		return nil, Check{}, err
	}
	c, err := l.CheckAtStart(context.Background())
	if err != nil {
		l.Close()
		return nil, c, err
	}
	t.Cleanup(func() { l.Close() })
	return l, c, nil
}

// The middle of the log is damaged in each of the ways an operator or an
// attacker would damage it: the start check names the line and refuses;
// an acknowledgement lets the hub start, and the start records it.
func TestCheckAtStartRefusesBreaks(t *testing.T) {
	cases := map[string]struct {
		tamper func([]string) []string
		line   int // first line reported
		msg    string
	}{
		"byte changed": {func(l []string) []string {
			l[4] = strings.Replace(l[4], "user5", "user6", 1)
			return l
		}, 5, "hash mismatch"},
		"line deleted": {func(l []string) []string { return append(l[:4:4], l[5:]...) }, 5, "a record was deleted or moved"},
		"lines swapped": {func(l []string) []string {
			l[3], l[4] = l[4], l[3]
			return l
		}, 4, "a record was deleted or moved"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeLog(t, 9)
			writeLines(t, path, tc.tamper(readLines(t, path)))

			_, _, err := startLog(t, path)
			var be *BreakError
			if !errors.As(err, &be) {
				t.Fatalf("start on a damaged log: err = %v, want a *BreakError", err)
			}
			if be.Breaks[0].Line != tc.line || !strings.Contains(be.Breaks[0].Msg, tc.msg) {
				t.Errorf("first break %+v, want line %d with %q", be.Breaks[0], tc.line, tc.msg)
			}
			if !strings.Contains(err.Error(), "audit.log:"+itoa(tc.line)+":") || !strings.Contains(err.Error(), "hubctl audit acknowledge") {
				t.Errorf("the refusal does not name the line and the way out: %v", err)
			}
			before, _ := os.ReadFile(path)

			// Acknowledging needs a reason.
			if _, err := Acknowledge(path, "operator", " "); err == nil {
				t.Error("an acknowledgement without a reason was accepted")
			}
			acked, err := Acknowledge(path, "operator", "INC-4711: restored from tape, checked")
			if err != nil || len(acked) == 0 {
				t.Fatalf("Acknowledge = %v, %v", acked, err)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("Acknowledge changed the log itself")
			}

			l, c, err := startLog(t, path)
			if err != nil {
				t.Fatalf("start after the acknowledgement: %v", err)
			}
			if !c.OK() || len(c.Breaks) != len(acked) {
				t.Errorf("check after acknowledgement: %+v", c)
			}
			lines := readLines(t, path)
			last := lines[len(lines)-1]
			if !strings.Contains(last, `"type":"`+EventAcknowledged+`"`) || !strings.Contains(last, "INC-4711") {
				t.Errorf("the acknowledged start is not recorded in the chain: %s", last)
			}
			if _, err := l.Append(context.Background(), event(99)); err != nil {
				t.Fatal(err)
			}
			l.Close()

			// The next start checks from the checkpoint and records nothing again.
			l, c, err = startLog(t, path)
			if err != nil {
				t.Fatalf("second start: %v", err)
			}
			l.Close()
			if c.From == 0 || len(c.Breaks) != 0 {
				t.Errorf("second start checked from %d with breaks %v; want from the checkpoint, none", c.From, c.Breaks)
			}
			if n := strings.Count(strings.Join(readLines(t, path), ""), EventAcknowledged); n != 1 {
				t.Errorf("%d acknowledgement records, want 1", n)
			}

			// A full check still sees the acknowledged breaks, and accepts them.
			l, _ = Open(path)
			all, err := l.CheckAll()
			l.Close()
			if err != nil || len(all.Breaks) == 0 || !all.OK() {
				t.Errorf("CheckAll = %+v, %v; want the acknowledged breaks, OK", all, err)
			}
		})
	}
}

// A break found after an acknowledgement is not covered by it.
func TestAcknowledgementCoversOnlyItsBreaks(t *testing.T) {
	path := writeLog(t, 9)
	lines := readLines(t, path)
	lines[2] = strings.Replace(lines[2], "user3", "userX", 1)
	writeLines(t, path, lines)
	if _, err := Acknowledge(path, "operator", "INC-1"); err != nil {
		t.Fatal(err)
	}
	lines = readLines(t, path)
	lines[6] = strings.Replace(lines[6], "user7", "userY", 1)
	writeLines(t, path, lines)
	_, _, err := startLog(t, path)
	var be *BreakError
	if !errors.As(err, &be) || len(be.Breaks) != 1 || be.Breaks[0].Line != 7 {
		t.Fatalf("start = %v; want a refusal naming line 7 only", err)
	}
}

// Damage before the checkpoint is not re-read at start (that is what
// keeps start fast), but CheckAll, which the hub runs in the background,
// finds it.
func TestCheckpointAndCheckAll(t *testing.T) {
	path := writeLog(t, 6)
	l, c, err := startLog(t, path)
	if err != nil || c.From != 0 || c.Records != 6 {
		t.Fatalf("first start: %+v, %v", c, err)
	}
	l.Close()
	lines := readLines(t, path)
	lines[1] = strings.Replace(lines[1], "user2", "userZ", 1)
	writeLines(t, path, lines)
	l, c, err = startLog(t, path)
	if err != nil || c.From != 6 {
		t.Fatalf("start from the checkpoint: %+v, %v", c, err)
	}
	all, err := l.CheckAll()
	if err != nil || all.OK() || all.Unacknowledged[0].Line != 2 {
		t.Errorf("CheckAll = %+v, %v; want the break at line 2", all, err)
	}

	// A checkpoint that no longer matches the log is ignored: the check
	// starts from the top.
	l.Close()
	lines[1] = strings.Replace(lines[1], "userZ", "user2", 1)
	writeLines(t, path, lines)
	cp, err := readCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	cp.Hash = Genesis
	if err := writeCheckpoint(path, *cp); err != nil {
		t.Fatal(err)
	}
	_, c, err = startLog(t, path)
	if err != nil || c.From != 0 || c.Records != 6 {
		t.Errorf("start with a stale checkpoint: %+v, %v; want a check of all 6 records from the top", c, err)
	}
}

// A crash in the middle of writing a record leaves a torn last line; the
// head file proves the append never completed, so Open cuts it off,
// keeps it aside and says so.
func TestOpenRepairsTornTail(t *testing.T) {
	path := writeLog(t, 3)
	b, _ := os.ReadFile(path)
	torn := append(b, `{"seq":4,"time":"2025-03-01T08:00:05.123456789Z","type":"dro`...)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	l, _, err := startLog(t, path)
	if err != nil {
		t.Fatalf("start on a torn tail: %v", err)
	}
	if !strings.Contains(l.Repaired, "incomplete last line") {
		t.Errorf("Repaired = %q", l.Repaired)
	}
	if r, err := l.Append(context.Background(), event(4)); err != nil || r.Seq != 4 {
		t.Fatalf("append after repair: %+v, %v", r, err)
	}
	l.Close()
	if s, err := Verify(path); err != nil || s.Records != 4 {
		t.Errorf("after repair: %+v, %v", s, err)
	}
	matches, _ := fileGlob(path + ".torn-*")
	if len(matches) != 1 {
		t.Fatalf("torn bytes kept in %v, want one file", matches)
	}
	if kept, _ := os.ReadFile(matches[0]); string(kept) != string(torn[len(b):]) {
		t.Errorf("kept %q", kept)
	}

	// A torn line after a record the head does not name is not repaired:
	// that is a cut file, not an interrupted append.
	path = writeLog(t, 3)
	lines := readLines(t, path)
	writeLines(t, path, append(lines[:2:2], lines[2][:30]))
	if l, err := Open(path); err == nil {
		l.Close()
		t.Fatal("Open repaired a log whose last acknowledged record was cut")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func fileGlob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
