package tf

import (
	"bytes"
	"io"
	"sync"
)

// prefixWriter writes complete lines to w, each prefixed with the region,
// so parallel regions' output stays readable. Writes to w are serialised
// across all prefixWriters sharing mu.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func newPrefixWriter(mu *sync.Mutex, w io.Writer, region string) *prefixWriter {
	p := []byte(region)
	for len(p) < 12 {
		p = append(p, ' ')
	}
	return &prefixWriter{mu: mu, w: w, prefix: append(p, []byte("| ")...)}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
}

// Flush writes a final line without newline.
func (p *prefixWriter) Flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *prefixWriter) emit(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(p.prefix)
	p.w.Write(line)
}

// Exit codes, as terraform plan -detailed-exitcode.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitChanges = 2
)

// Combine merges per-region exit codes with precedence 1 > 2 > 0.
func Combine(codes ...int) int {
	out := ExitOK
	for _, c := range codes {
		switch {
		case c == ExitError:
			return ExitError
		case c == ExitChanges:
			out = ExitChanges
		}
	}
	return out
}
