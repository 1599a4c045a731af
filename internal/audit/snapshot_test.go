package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// CopyToHead copies exactly the records up to the head, while the log is
// open for appends; a record written after the head (an append in
// flight) is left out.
func TestCopyToHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, WithClock(clock()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 3 {
		if _, err := l.Append(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	sum, err := CopyToHead(path, &buf)
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(path)
	if sum.LastSeq != 3 || !bytes.Equal(buf.Bytes(), whole) {
		t.Fatalf("copied %d records, %d bytes; want 3 and the whole file (%d bytes)", sum.LastSeq, buf.Len(), len(whole))
	}
	// An append whose head update has not happened yet: keep the old head.
	oldHead, _ := os.ReadFile(headPath(path))
	if _, err := l.Append(context.Background(), event(3)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(headPath(path), oldHead, 0o600)
	buf.Reset()
	if sum, err = CopyToHead(path, &buf); err != nil || sum.LastSeq != 3 || !bytes.Equal(buf.Bytes(), whole) {
		t.Fatalf("with the head one behind: %v, %d records", err, sum.LastSeq)
	}
	os.Remove(headPath(path))
	if _, err := CopyToHead(path, &buf); err == nil {
		t.Fatal("a log without its head file was copied")
	}
}
