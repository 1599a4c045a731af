// Package audit keeps a hub's audit log: an append-only file of JSON lines in
// which every record carries the SHA-256 of the record before it. Editing,
// deleting, reordering or inserting a record breaks the chain, and a small
// head file (<log>.head, the last seq and hash) catches records cut off the
// end, which a chain alone cannot see. Verify reports the first break with
// the file and line, Export hands out the records of one case or one person
// for data-protection requests.
//
// The chain makes tampering evident, not impossible: someone who can write
// the data directory can rewrite the whole chain and the head file. Copying
// the head (Summary.Head) somewhere else from time to time narrows that gap.
//
// # Hash rule
//
// A record's canonical encoding is encoding/json's Marshal of Record with
// Hash empty: fields in declaration order (seq, time, type, outcome, reason,
// actor, kommune, case, subject, ip, detail, prev), empty optional fields
// left out, detail keys sorted, time in UTC as RFC 3339 with nanoseconds
// and trailing zeros dropped, no whitespace. Hash is the lower-case hex
// SHA-256 of that encoding. Prev is the Hash of the previous record, or
// Genesis for the first. A line in the file is the canonical encoding with
// `,"hash":"<Hash>"` inserted before the closing brace; Verify accepts a line
// only if it is byte for byte that, so even edits that keep the JSON meaning
// (spacing, key order, duplicate keys) are caught.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Genesis is the Prev of the first record, so every record has a 64-digit Prev.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxLine is the longest record line, newline included. Verify's read
// buffer grows to at most this size, so its memory use does not grow with
// the file; Append refuses larger events so Verify can read all it wrote.
const MaxLine = 1 << 20

// FileName is the log's name inside a hub's data directory, so that
// hubctl serve and hubctl audit verify agree on it.
const FileName = "audit.log"

// Outcome values.
const (
	Success = "success"
	Failure = "failure"
)

// ErrClosed is returned by Append on a closed Log.
var ErrClosed = errors.New("audit: log is closed")

// Event is what happened, as the caller describes it.
type Event struct {
	Type    string            `json:"type,omitempty"`    // e.g. "login", "drop.download"
	Outcome string            `json:"outcome,omitempty"` // Success or Failure
	Reason  string            `json:"reason,omitempty"`  // why it failed, or why it was allowed
	Actor   string            `json:"actor,omitempty"`   // user key, e.g. "851:sub" or "tid:oid"
	Kommune int               `json:"kommune,omitempty"` // the actor's kommunekode
	Case    string            `json:"case,omitempty"`    // case reference, for export per case
	Subject string            `json:"subject,omitempty"` // what was acted on: drop id, person id
	IP      string            `json:"ip,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
}

func (e Event) validate() error {
	if e.Type == "" {
		return errors.New("audit: event has no type")
	}
	if e.Outcome != Success && e.Outcome != Failure {
		return fmt.Errorf("audit: event %q has outcome %q, want %q or %q", e.Type, e.Outcome, Success, Failure)
	}
	return nil
}

// Record is one line of the log.
type Record struct {
	Seq  uint64    `json:"seq"`  // 1, 2, 3, … without gaps
	Time time.Time `json:"time"` // UTC
	Event
	Prev string `json:"prev"`           // Hash of the previous record, Genesis for the first
	Hash string `json:"hash,omitempty"` // see the package documentation
}

// canonical returns the encoding that the hash covers: r without its hash.
func canonical(r Record) ([]byte, error) {
	r.Hash = ""
	canon, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode record %d: %w", r.Seq, err)
	}
	return canon, nil
}

func hashOf(canon []byte) string {
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// withHash returns the line for a canonical encoding: the hash goes last.
func withHash(canon []byte, hash string) []byte {
	line := make([]byte, 0, len(canon)+len(hash)+12)
	line = append(line, canon[:len(canon)-1]...)
	line = append(line, `,"hash":"`...)
	line = append(line, hash...)
	return append(line, `"}`...)
}

// encode returns the record's line (with newline) and its hash; r.Hash is ignored.
func encode(r Record) (line []byte, hash string, err error) {
	canon, err := canonical(r)
	if err != nil {
		return nil, "", err
	}
	hash = hashOf(canon)
	return append(withHash(canon, hash), '\n'), hash, nil
}

// decode parses one line (without newline) and checks that it is canonical
// and that its hash is right. The error message says what a reader needs to know.
func decode(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, fmt.Errorf("not a valid audit record (%v): the line was corrupted or edited", err)
	}
	if r.Time.Location() != time.UTC {
		return r, errors.New("time is not in UTC: record was edited")
	}
	canon, err := canonical(r)
	if err != nil {
		return r, fmt.Errorf("cannot re-encode record (%v): record was edited", err)
	}
	if !bytes.Equal(withHash(canon, r.Hash), line) {
		return r, errors.New("record is not in canonical form: record was edited")
	}
	if hashOf(canon) != r.Hash {
		return r, errors.New("hash mismatch: record was edited")
	}
	return r, nil
}

// Option configures Open.
type Option func(*Log)

// WithClock sets the clock used for record times; tests use it to get fixed times.
func WithClock(now func() time.Time) Option {
	return func(l *Log) { l.now = now }
}

// Log is an open audit log. Its methods are safe for concurrent use. Only one
// Log may have a file open at a time (Open takes an exclusive lock), because
// two writers would fork the chain.
type Log struct {
	path string
	now  func() time.Time

	// Repaired, when not empty, says what Open repaired: a torn last line
	// that the head file proves was never a completed append. The caller
	// records it (EventRepaired) and logs it.
	Repaired string

	observer atomic.Pointer[func(Record)] // SetObserver

	mu   sync.Mutex
	f    *os.File
	seq  uint64
	hash string
	err  error // set when a write failed half-way: the log then refuses appends (fail closed)
}

// headPath is where the head of the log at path is kept.
func headPath(path string) string { return path + ".head" }

// Open opens the log at path, creating it (mode 0600, directory 0700) if it
// is missing. It resumes the chain from the last record, after checking that
// record's hash and that it agrees with the head file. If the log is one
// record ahead of the head and chained to it, the hub stopped between the two
// writes of an Append; Open then brings the head up to date.
func Open(path string, opts ...Option) (*Log, error) {
	l := &Log{path: path, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := l.open(f); err != nil {
		f.Close()
		return nil, err
	}
	l.f = f
	return l, nil
}

func (l *Log) open(f *os.File) error {
	if err := lockFile(f); err != nil {
		return fmt.Errorf("audit: %s is already open (another hub process, or opened twice): %w", l.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// The log names people and cases: keep it private even if someone loosened it.
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("audit: %s has mode %v and cannot be made 0600: %w", l.path, fi.Mode().Perm(), err)
		}
	}
	size := fi.Size()
	if size, err = l.repairTornTail(f, size); err != nil {
		return err
	}
	last, ok, err := readTail(f, size)
	if err != nil {
		return &ChainError{Path: l.path, Seq: last.Seq, Msg: "last record: " + err.Error()}
	}
	h, hok, err := readHead(headPath(l.path))
	if err != nil {
		return err
	}
	l.seq, l.hash = 0, Genesis
	if ok {
		l.seq, l.hash = last.Seq, last.Hash
	}
	switch {
	case !hok && !ok:
		return writeHead(headPath(l.path), head{Seq: 0, Hash: Genesis})
	case hok && ok && h.Seq+1 == last.Seq && h.Hash == last.Prev:
		return writeHead(headPath(l.path), head{Seq: l.seq, Hash: l.hash})
	}
	if err := checkHead(l.path, h, hok, l.seq, l.hash); err != nil {
		return err
	}
	return nil
}

// repairTornTail cuts off an incomplete last line when the head file proves
// it: Append writes the line, flushes it and only then moves the head on, so
// a torn line after the record the head names is an append that never
// returned, and no caller was told it was recorded. The torn bytes are kept
// beside the log (<log>.torn-<time>), not deleted. Anything else is left
// for readTail to report. It returns the log's size afterwards.
func (l *Log) repairTornTail(f *os.File, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	n := min(size, MaxLine+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return size, fmt.Errorf("audit: %w", err)
	}
	if buf[n-1] == '\n' {
		return size, nil
	}
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 && n < size {
		return size, nil
	}
	keep := size - n + int64(i+1) // bytes up to and including the last newline
	h, hok, err := readHead(headPath(l.path))
	if err != nil || !hok {
		return size, nil
	}
	if keep == 0 {
		if h.Seq != 0 {
			return size, nil
		}
	} else {
		j := bytes.LastIndexByte(buf[:i], '\n')
		if j < 0 && keep > int64(i+1) {
			return size, nil
		}
		r, err := decode(buf[j+1 : i])
		if err != nil || r.Seq != h.Seq || r.Hash != h.Hash {
			return size, nil
		}
	}
	torn := buf[i+1:]
	aside := fmt.Sprintf("%s.torn-%d", l.path, time.Now().UnixNano())
	if err := replaceFile(aside, torn); err != nil {
		return size, fmt.Errorf("audit: keep the torn last line aside: %w", err)
	}
	if err := f.Truncate(keep); err != nil {
		return size, fmt.Errorf("audit: cut the torn last line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return size, fmt.Errorf("audit: %w", err)
	}
	l.Repaired = fmt.Sprintf("cut an incomplete last line of %d bytes (an append the hub never completed; kept as %s)", len(torn), filepath.Base(aside))
	return keep, nil
}

// readTail returns the last record of a log of the given size, checking its hash.
func readTail(f *os.File, size int64) (Record, bool, error) {
	if size == 0 {
		return Record{}, false, nil
	}
	n := min(size, MaxLine+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return Record{}, false, err
	}
	if buf[n-1] != '\n' {
		return Record{}, false, errors.New("the last line is incomplete (the hub stopped while writing it, or the file was cut): move the log aside and check it with Verify")
	}
	buf = buf[:n-1]
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 && n < size {
		return Record{}, false, fmt.Errorf("the last line is longer than %d bytes", MaxLine)
	}
	r, err := decode(buf[i+1:])
	return r, err == nil, err
}

// Append writes ev as the next record, flushes it to disk and then moves the
// head file on. It returns the record as written. An error means the event is
// not (reliably) recorded, so the caller should refuse the action it describes.
func (l *Log) Append(ctx context.Context, ev Event) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if err := ev.validate(); err != nil {
		return Record{}, err
	}
	ev.Detail = maps.Clone(ev.Detail)

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return Record{}, ErrClosed
	}
	if l.err != nil {
		return Record{}, fmt.Errorf("audit: %s refuses appends after an earlier write error; restart the hub: %w", l.path, l.err)
	}
	r := Record{Seq: l.seq + 1, Time: l.now().UTC(), Event: ev, Prev: l.hash}
	line, hash, err := encode(r)
	if err != nil {
		return Record{}, err
	}
	if len(line) > MaxLine {
		return Record{}, fmt.Errorf("audit: event %q is %d bytes encoded, more than the limit of %d; shorten its detail", ev.Type, len(line), MaxLine)
	}
	if _, err := l.f.Write(line); err != nil {
		l.err = err
		return Record{}, fmt.Errorf("audit: write %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		l.err = err
		return Record{}, fmt.Errorf("audit: sync %s: %w", l.path, err)
	}
	l.seq, l.hash = r.Seq, hash
	r.Hash = hash
	if err := writeHead(headPath(l.path), head{Seq: r.Seq, Hash: hash}); err != nil {
		l.err = err
		return Record{}, err
	}
	if f := l.observer.Load(); f != nil {
		(*f)(r)
	}
	return r, nil
}

// SetObserver makes f see every record once it is on disk (the hub's
// metrics count what the audit log says happened). f runs inside Append,
// under the log's lock: it must be quick and must not append. nil stops it.
func (l *Log) SetObserver(f func(Record)) {
	if f == nil {
		l.observer.Store(nil)
		return
	}
	l.observer.Store(&f)
}

// Close closes the log. Appends after Close return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Path returns the log's file name.
func (l *Log) Path() string { return l.path }

// snapshot returns the head as this process last wrote it. Records up to it
// are complete on disk, so they can be read while appends go on.
func (l *Log) snapshot() head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return head{Seq: l.seq, Hash: l.hash}
}

// Verify checks the open log up to the last completed append. Unlike the
// package-level Verify it is safe while other goroutines append.
func (l *Log) Verify() (Summary, error) {
	h := l.snapshot()
	return scan(l.path, &h, nil)
}

// Export is the package-level Export for an open log, safe while other
// goroutines append; records appended after the call starts are not included.
func (l *Log) Export(match func(Record) bool, w io.Writer) (int, error) {
	h := l.snapshot()
	if _, err := scan(l.path, &h, nil); err != nil {
		return 0, err
	}
	return export(l.path, h, match, w)
}
