package audit

import (
	"fmt"
	"io"
)

// CopyToHead writes the log at path, up to the record its head file names,
// to w, checking the chain on the way: a consistent copy of a log that a
// running hub appends to (hubctl backup). Records appended after the head
// was read are left out; the returned Summary ends at the copied head.
// It reads only; it never takes the log's lock.
func CopyToHead(path string, w io.Writer) (Summary, error) {
	h, ok, err := readHead(headPath(path))
	if err != nil {
		return Summary{}, err
	}
	if !ok {
		return Summary{}, &ChainError{Path: path, Msg: fmt.Sprintf("head file %s is missing: the log cannot be copied consistently", headPath(path))}
	}
	return scan(path, &h, func(_ Record, line []byte) error {
		_, err := w.Write(line)
		return err
	})
}
