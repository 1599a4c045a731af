package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify feeds arbitrary bytes as a log and its head file. Verify must
// never panic, and whatever it accepts must also export in full and open
// (appending after a reopen is TestReopenResumesChain; here it would make
// every valid input cost three fsyncs).
func FuzzVerify(f *testing.F) {
	path := writeLog(f, 3)
	log, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	head, err := os.ReadFile(headPath(path))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(log, head)
	f.Add([]byte{}, []byte{})
	f.Add(log[:len(log)-1], head)
	f.Add(append(log, log...), head)
	f.Add([]byte("\n\n"), []byte("{}"))
	f.Add([]byte(`{"seq":1}`+"\n"), []byte(`{"seq":1,"hash":"`+Genesis+`"}`))
	f.Fuzz(func(t *testing.T, log, head []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.log")
		if err := os.WriteFile(path, log, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(head) > 0 {
			if err := os.WriteFile(headPath(path), head, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Verify(path)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if n, err := Export(path, nil, &buf); err != nil || n != s.Records {
			t.Fatalf("Verify passed with %d records but Export = %d, %v", s.Records, n, err)
		}
		l, err := Open(path)
		if err != nil {
			t.Fatalf("Verify passed but Open failed: %v", err)
		}
		defer l.Close()
		if s2, err := l.Verify(); err != nil || s2 != s {
			t.Fatalf("Verify = %+v, opened log verifies as %+v, %v", s, s2, err)
		}
	})
}
