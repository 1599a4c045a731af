package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ChainError says where and how the chain is broken. Line is 1-based, or 0
// when the problem is with the file as a whole (its end, its head file).
type ChainError struct {
	Path string // the log file
	Line int
	Seq  uint64 // seq of the record at Line, if it could be read
	Msg  string
}

func (e *ChainError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Summary describes a log that verified.
type Summary struct {
	Records     int
	LastSeq     uint64
	First, Last time.Time // times of the first and last record; zero if there are none
	Head        string    // hash of the last record, Genesis if there are none
}

// head is the content of the head file.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// HeadSeq returns the seq the head file of the log at path names; ok is
// false when there is no head file. It reads nothing else.
func HeadSeq(path string) (seq uint64, ok bool, err error) {
	h, ok, err := readHead(headPath(path))
	return h.Seq, ok, err
}

// readHead reads the head file; ok is false if it does not exist.
func readHead(path string) (h head, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return head{}, false, nil
	}
	if err != nil {
		return head{}, false, fmt.Errorf("audit: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return head{}, false, fmt.Errorf("audit: head file %s is not valid (%v): it was edited or damaged", path, err)
	}
	if raw, err := hex.DecodeString(h.Hash); err != nil || len(raw) != 32 {
		return head{}, false, fmt.Errorf("audit: head file %s has hash %q, want 64 hex digits: it was edited or damaged", path, h.Hash)
	}
	return h, true, nil
}

// writeHead replaces the head file atomically: write a temporary file, flush
// it, rename it over the old one, flush the directory. A crash leaves the old
// head or the new one, never a mix.
func writeHead(path string, h head) error {
	b, _ := json.Marshal(h)
	if err := replaceFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("audit: write head: %w", err)
	}
	return nil
}

// replaceFile writes b to path atomically, mode 0600.
func replaceFile(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// checkHead compares the end of the log with its head file.
func checkHead(path string, h head, ok bool, lastSeq uint64, lastHash string) error {
	fail := func(format string, args ...any) error {
		return &ChainError{Path: path, Seq: lastSeq, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case !ok && lastSeq == 0:
		return nil
	case !ok:
		return fail("head file %s is missing, so removal of records from the end cannot be ruled out: restore it from the same backup as the log", headPath(path))
	case h.Seq > lastSeq:
		return fail("last record is seq %d but head says %d: records were removed from the end", lastSeq, h.Seq)
	case h.Seq < lastSeq:
		return fail("last record is seq %d but head says %d: records were added after the last append (forged, or the hub stopped during an append, which opening the log repairs)", lastSeq, h.Seq)
	case h.Hash != lastHash:
		return fail("last record (seq %d) does not match the head hash: the last record was replaced", lastSeq)
	}
	return nil
}

// Verify reads the whole log at path and checks every record's hash, that
// seq goes up by one and that each prev names the record before, then that
// the head file agrees with the last record. The first problem comes back as
// a *ChainError. Memory use is bounded by MaxLine, whatever the file size.
//
// Run it on a log no process is appending to (hubctl audit verify with the
// hub stopped), or use (*Log).Verify inside the hub: an append in flight can
// otherwise look like a torn last line or a stale head.
func Verify(path string) (Summary, error) {
	return scan(path, nil, nil)
}

// Export verifies the log at path and then writes the records for which
// match returns true (all records if match is nil) to w, as the JSON lines
// they are stored as, hashes included, so a recipient can check each line.
// It returns how many records it wrote. Nothing is written if the chain is
// broken.
func Export(path string, match func(Record) bool, w io.Writer) (int, error) {
	s, err := Verify(path)
	if err != nil {
		return 0, err
	}
	return export(path, head{Seq: s.LastSeq, Hash: s.Head}, match, w)
}

// export writes the matching records among the first h.Seq, which were verified before.
func export(path string, h head, match func(Record) bool, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	_, err := scan(path, &h, func(r Record, line []byte) error {
		if match != nil && !match(r) {
			return nil
		}
		n++
		_, err := bw.Write(line)
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

// splitLines is bufio.ScanLines keeping the newline, so that a last line
// without one can be told apart: it is a torn write or a cut file.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// scan reads and checks the log. With upTo nil it reads to the end and
// compares with the head file; otherwise it stops after record upTo.Seq and
// compares with upTo, which lets an open Log check what it has written while
// appends continue. fn, if not nil, sees every good record with its line.
func scan(path string, upTo *head, fn func(Record, []byte) error) (Summary, error) {
	s := Summary{Head: Genesis}
	f, err := os.Open(path)
	if err != nil {
		return s, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	sc.Split(splitLines)
	fail := func(line int, seq uint64, format string, args ...any) error {
		return &ChainError{Path: path, Line: line, Seq: seq, Msg: fmt.Sprintf(format, args...)}
	}
	lineNo := 0
	for upTo == nil || s.LastSeq < upTo.Seq {
		if !sc.Scan() {
			if errors.Is(sc.Err(), bufio.ErrTooLong) {
				return s, fail(lineNo+1, 0, "line is longer than %d bytes: not an audit record", MaxLine)
			}
			if sc.Err() != nil {
				return s, fmt.Errorf("audit: read %s: %w", path, sc.Err())
			}
			break
		}
		lineNo++
		line := sc.Bytes()
		r, msg := checkLine(line, lineNo, s.LastSeq, s.Head)
		if msg != "" {
			return s, fail(lineNo, r.Seq, "%s", msg)
		}
		if fn != nil {
			if err := fn(r, line); err != nil {
				return s, fmt.Errorf("audit: %w", err)
			}
		}
		if s.Records == 0 {
			s.First = r.Time
		}
		s.Records++
		s.LastSeq, s.Last, s.Head = r.Seq, r.Time, r.Hash
	}
	if upTo != nil {
		// The open log knows its own end; records beyond it are appends in flight.
		return s, checkHead(path, *upTo, true, s.LastSeq, s.Head)
	}
	h, ok, err := readHead(headPath(path))
	if err != nil {
		return s, err
	}
	return s, checkHead(path, h, ok, s.LastSeq, s.Head)
}

// checkLine checks one line (with its newline) of the log against the
// record before it (prevSeq 0 and Genesis for the first). msg is empty for
// a good record and otherwise says what is wrong; r is what could be read.
func checkLine(line []byte, lineNo int, prevSeq uint64, prevHash string) (r Record, msg string) {
	if line[len(line)-1] != '\n' {
		return Record{}, "the last line is incomplete: the hub stopped while writing it, or the file was cut"
	}
	r, err := decode(line[:len(line)-1])
	if err != nil {
		return r, err.Error()
	}
	switch {
	case r.Seq == prevSeq+1:
	case prevSeq == 0:
		return r, fmt.Sprintf("first record has seq %d, want 1: records were removed from the start", r.Seq)
	case r.Seq > prevSeq:
		return r, fmt.Sprintf("seq %d follows %d: a record was deleted or moved", r.Seq, prevSeq)
	default:
		return r, fmt.Sprintf("seq %d follows %d: records were reordered or duplicated", r.Seq, prevSeq)
	}
	if r.Prev != prevHash {
		if lineNo == 1 {
			return r, "prev of the first record is not the genesis value: records were removed from the start"
		}
		return r, fmt.Sprintf("prev does not match the hash of line %d: a record was replaced", lineNo-1)
	}
	return r, ""
}
