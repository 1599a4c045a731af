package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// A hub checks its audit chain every time it starts, and refuses to start
// on a break: a broken chain means records were edited, removed or
// reordered, and a hub that goes on appending to it would bury the
// evidence. To keep start fast with millions of records, the check starts
// at the last verified checkpoint (<log>.checkpoint); the hub also checks
// the whole log in the background (see CheckAll).
//
// An operator who has investigated a break and saved a copy of the log
// acknowledges it with `hubctl audit acknowledge`, which writes the breaks
// found, with the reason and who, to <log>.ack. A start that finds only
// acknowledged breaks goes on, and records the acknowledgement in the
// chain itself (EventAcknowledged).

// EventAcknowledged is the record a start appends when it goes past
// acknowledged breaks.
const EventAcknowledged = "audit.break_acknowledged"

// EventRepaired is the record the hub appends after Open cut off a torn
// last line (see Log.Repaired).
const EventRepaired = "audit.tail_repaired"

// Break is one place where the chain is broken.
type Break struct {
	Line   int    `json:"line"`
	Seq    uint64 `json:"seq,omitempty"`
	Msg    string `json:"msg"`
	SHA256 string `json:"sha256"` // of the line as it is in the file, so an acknowledgement names exactly this damage
}

func (b Break) String() string { return fmt.Sprintf("line %d: %s", b.Line, b.Msg) }

// Checkpoint names a record up to which the chain was verified.
type Checkpoint struct {
	Line  int    `json:"line"`
	Seq   uint64 `json:"seq"`
	Hash  string `json:"hash"`
	Start int64  `json:"start"` // byte offset of the record's line
	End   int64  `json:"end"`   // byte offset just after it
}

func checkpointPath(path string) string { return path + ".checkpoint" }
func ackPath(path string) string        { return path + ".ack" }

// Acknowledgement is one operator's acceptance of the breaks found at the time.
type Acknowledgement struct {
	Time    time.Time `json:"time"`
	By      string    `json:"by"`
	Reason  string    `json:"reason"`
	Breaks  []Break   `json:"breaks"`
	Applied uint64    `json:"applied,omitempty"` // seq of the EventAcknowledged record, once a start recorded it
}

// Check is the outcome of a chain check.
type Check struct {
	Records        uint64    // last seq checked
	From           uint64    // seq the check started after (0: the whole log)
	Breaks         []Break   // all breaks found, acknowledged ones included
	Unacknowledged []Break   // breaks no acknowledgement covers
	At             time.Time // when the check ran
}

// OK reports whether every break found is acknowledged.
func (c Check) OK() bool { return len(c.Unacknowledged) == 0 }

// BreakError is the refusal to start on unacknowledged breaks.
type BreakError struct {
	Path   string
	Breaks []Break
}

func (e *BreakError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit: the audit log's hash chain is broken: ")
	for i, br := range e.Breaks {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Breaks)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s:%d: %s", e.Path, br.Line, br.Msg)
	}
	fmt.Fprintf(&b, ". The hub refuses to start on a broken chain. Keep a copy of the log for the investigation "+
		"(hubctl audit verify --data DIR shows the first break), restore it from backup if it was damaged, or, "+
		"once investigated, acknowledge the breaks and start again: hubctl audit acknowledge --data DIR --reason \"...\"")
	return b.String()
}

// CheckAtStart checks the chain from the last checkpoint to the end (the
// whole log when there is no usable checkpoint). It refuses (*BreakError)
// unless every break found is acknowledged; acknowledged breaks are
// recorded once in the chain. On success the checkpoint moves to the end.
// Call it after Open and before other appends.
func (l *Log) CheckAtStart(ctx context.Context) (Check, error) {
	cp, _ := readCheckpoint(l.path)
	c, end, err := l.check(cp)
	if err != nil {
		return c, err
	}
	if !c.OK() {
		return c, &BreakError{Path: l.path, Breaks: c.Unacknowledged}
	}
	if len(c.Breaks) > 0 {
		if end, err = l.recordAcknowledgements(ctx, c.Breaks, end); err != nil {
			return c, err
		}
	}
	return c, writeCheckpoint(l.path, end)
}

// CheckAll checks the whole log up to the last completed append, safe
// while appends go on. Unlike CheckAtStart it changes nothing.
func (l *Log) CheckAll() (Check, error) {
	c, _, err := l.check(nil)
	return c, err
}

// check scans from cp (nil: the start) to the log's head as this process
// knows it, and sorts the breaks found into acknowledged or not. end is the
// checkpoint of the last record.
func (l *Log) check(cp *Checkpoint) (Check, Checkpoint, error) {
	h := l.snapshot()
	c := Check{At: time.Now().UTC()}
	f, err := os.Open(l.path)
	if err != nil {
		return c, Checkpoint{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	start := Checkpoint{Hash: Genesis}
	if cp != nil && cp.Seq <= h.Seq && cp.matches(f) {
		start = *cp
	}
	c.From = start.Seq
	breaks, end, err := findBreaks(f, start, h)
	if err != nil {
		return c, end, fmt.Errorf("audit: %s: %w", l.path, err)
	}
	c.Breaks, c.Records = breaks, end.Seq
	if end.Seq != h.Seq || end.Hash != h.Hash {
		// Open compared the last record with the head file; a scan that
		// ends elsewhere met a line it could not read as a record.
		c.Breaks = append(c.Breaks, Break{Line: end.Line + 1, Msg: fmt.Sprintf("the records end at seq %d, not at the head's seq %d", end.Seq, h.Seq)})
	}
	acks, err := readAcks(l.path)
	if err != nil {
		return c, end, err
	}
	for _, b := range c.Breaks {
		if !acknowledged(acks, b) {
			c.Unacknowledged = append(c.Unacknowledged, b)
		}
	}
	return c, end, nil
}

// matches reports whether the checkpoint's record is still where it says,
// unchanged.
func (cp *Checkpoint) matches(f *os.File) bool {
	if cp.Seq == 0 || cp.End <= cp.Start || cp.End-cp.Start > MaxLine {
		return false
	}
	buf := make([]byte, cp.End-cp.Start)
	if _, err := f.ReadAt(buf, cp.Start); err != nil {
		return false
	}
	if buf[len(buf)-1] != '\n' {
		return false
	}
	r, err := decode(buf[:len(buf)-1])
	return err == nil && r.Seq == cp.Seq && r.Hash == cp.Hash
}

// findBreaks reads from just after start up to the record upTo names and returns
// every break. After a break the scan takes the broken record's own seq
// and hash as the chain's state, so one edited or deleted record is one
// break, not a break on every line after it.
func findBreaks(f *os.File, start Checkpoint, upTo head) ([]Break, Checkpoint, error) {
	if _, err := f.Seek(start.End, io.SeekStart); err != nil {
		return nil, start, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	sc.Split(splitLines)
	var breaks []Break
	cur := start
	offset := start.End
	for (cur.Seq != upTo.Seq || cur.Hash != upTo.Hash) && sc.Scan() {
		line := sc.Bytes()
		lineNo := cur.Line + 1
		r, msg := checkLine(line, lineNo, cur.Seq, cur.Hash)
		if msg != "" {
			sum := sha256.Sum256(line)
			breaks = append(breaks, Break{Line: lineNo, Seq: r.Seq, Msg: msg, SHA256: hex.EncodeToString(sum[:])})
			if r.Hash == "" {
				// Not a record at all: the chain state stays as it was.
				r.Seq, r.Hash = cur.Seq, cur.Hash
			}
		}
		next := offset + int64(len(line))
		cur = Checkpoint{Line: lineNo, Seq: r.Seq, Hash: r.Hash, Start: offset, End: next}
		offset = next
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		breaks = append(breaks, Break{Line: cur.Line + 1, Msg: fmt.Sprintf("line is longer than %d bytes: not an audit record", MaxLine)})
		return breaks, cur, nil
	}
	return breaks, cur, sc.Err()
}

// recordAcknowledgements appends one EventAcknowledged record for the
// acknowledgements not yet recorded, and marks them applied.
func (l *Log) recordAcknowledgements(ctx context.Context, breaks []Break, end Checkpoint) (Checkpoint, error) {
	acks, err := readAcks(l.path)
	if err != nil {
		return end, err
	}
	var pending []int
	for i, a := range acks {
		if a.Applied == 0 {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return end, nil
	}
	lines := make([]string, 0, len(breaks))
	for _, b := range breaks {
		lines = append(lines, fmt.Sprint(b.Line))
	}
	var by, reason []string
	for _, i := range pending {
		by = append(by, acks[i].By)
		reason = append(reason, acks[i].Reason)
	}
	r, err := l.Append(ctx, Event{Type: EventAcknowledged, Outcome: Success, Actor: strings.Join(by, ","),
		Reason: strings.Join(reason, "; "), Detail: map[string]string{"lines": strings.Join(lines, ","), "count": fmt.Sprint(len(breaks))}})
	if err != nil {
		return end, err
	}
	for _, i := range pending {
		acks[i].Applied = r.Seq
	}
	if err := writeJSONFile(ackPath(l.path), acks); err != nil {
		return end, err
	}
	fi, err := os.Stat(l.path)
	if err != nil {
		return end, fmt.Errorf("audit: %w", err)
	}
	line, _, _ := encode(r)
	return Checkpoint{Line: end.Line + 1, Seq: r.Seq, Hash: r.Hash, Start: fi.Size() - int64(len(line)), End: fi.Size()}, nil
}

// Acknowledge records that an operator accepts every break the log at path
// has now, for the reason given; the hub then starts on it. It returns the
// breaks (none: nothing to acknowledge, nothing written). Run it with the
// hub stopped.
func Acknowledge(path, by, reason string) ([]Break, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("audit: an acknowledgement needs a reason (what was investigated, the case or ticket number)")
	}
	l, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	c, _, err := l.check(nil)
	if err != nil {
		return nil, err
	}
	if len(c.Unacknowledged) == 0 {
		return nil, nil
	}
	acks, err := readAcks(path)
	if err != nil {
		return nil, err
	}
	acks = append(acks, Acknowledgement{Time: time.Now().UTC(), By: by, Reason: reason, Breaks: c.Unacknowledged})
	return c.Unacknowledged, writeJSONFile(ackPath(path), acks)
}

func acknowledged(acks []Acknowledgement, b Break) bool {
	for _, a := range acks {
		for _, ab := range a.Breaks {
			if ab.Line == b.Line && ab.SHA256 == b.SHA256 && ab.Msg == b.Msg {
				return true
			}
		}
	}
	return false
}

// ReadAcknowledgements returns the acknowledgements of the log at path.
func ReadAcknowledgements(path string) ([]Acknowledgement, error) { return readAcks(path) }

func readAcks(path string) ([]Acknowledgement, error) {
	b, err := os.ReadFile(ackPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var acks []Acknowledgement
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&acks); err != nil {
		return nil, fmt.Errorf("audit: %s is not valid (%v): it was edited or damaged; restore it or remove it and acknowledge again", ackPath(path), err)
	}
	return acks, nil
}

func readCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(checkpointPath(path))
	if err != nil {
		return nil, err
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, err
	}
	return &cp, nil
}

func writeCheckpoint(path string, cp Checkpoint) error {
	if cp.Seq == 0 {
		// Nothing verified yet: no checkpoint, the next start reads from the top.
		if err := os.Remove(checkpointPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit: %w", err)
		}
		return nil
	}
	return writeJSONFile(checkpointPath(path), cp)
}

// writeJSONFile replaces path atomically with v as JSON, mode 0600.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return replaceFile(path, append(b, '\n'))
}
