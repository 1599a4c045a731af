// Package framing is a Caddy listener wrapper that refuses HTTP/1 requests
// carrying both Content-Length and Transfer-Encoding (RFC 9112 §6.3; the
// classic request-smuggling shape). Go's server reads such a request as
// chunked, deletes Content-Length before any handler sees it, and keeps
// the connection open, so no handler can refuse it: only the byte stream
// shows it. The wrapper sits after Caddy's "tls" wrapper, follows each
// request's framing (head, Content-Length or chunked body, trailers) and,
// at a head with both fields, hands Go a malformed request line instead:
// Go answers that in order, after any earlier response on the
// connection, with 400 and Connection: close, and closes it.
//
// Anything it does not understand (HTTP/2's preface, a head Go would
// refuse itself, a malformed chunk) ends its tracking of that connection
// and is left to Go, which refuses it and closes the connection.
package framing

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Wrapper{})
}

// Interface guards.
var (
	_ caddy.ListenerWrapper = (*Wrapper)(nil)
	_ caddy.Provisioner     = (*Wrapper)(nil)
)

// Wrapper is the listener wrapper module.
type Wrapper struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Wrapper) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "caddy.listeners.hubkit_framing", New: func() caddy.Module { return new(Wrapper) }}
}

// Provision takes Caddy's logger.
func (w *Wrapper) Provision(ctx caddy.Context) error {
	w.logger = ctx.Logger()
	return nil
}

// WrapListener implements caddy.ListenerWrapper.
func (w *Wrapper) WrapListener(l net.Listener) net.Listener {
	return &listener{Listener: l, logger: w.logger}
}

type listener struct {
	net.Listener
	logger *zap.Logger
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &conn{Conn: c, logger: l.logger}
	if _, ok := c.(connectionStater); ok {
		// Caddy serves TLS (and HTTP/2 by its preface) on a wrapped
		// connection that reports its TLS state.
		return &tlsConn{fc}, nil
	}
	return fc, nil
}

type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// refusedLine is what Go reads in place of a refused head: not a request
// line, so Go answers 400 and closes the connection.
var refusedLine = []byte("HUBKIT-REFUSED-CONTENT-LENGTH-WITH-TRANSFER-ENCODING\r\n\r\n")

// conn follows the framing of what it reads and holds back each request
// head until it is complete.
type conn struct {
	net.Conn
	logger *zap.Logger
	t      Tracker
	out    []byte // checked bytes not yet read by the server
	buf    []byte
	err    error // a read error to report once out is drained
	done   bool  // refused: nothing more is read from the client
}

func (c *conn) Read(p []byte) (int, error) {
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if err := c.err; err != nil {
			// Reported once: a deadline in the past (Go's server aborts
			// its background read so) is no end of the connection.
			c.err = nil
			return 0, err
		}
		if c.done {
			return 0, io.EOF
		}
		if c.t.Passing() {
			return c.Conn.Read(p)
		}
		if cap(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		n, err := c.Conn.Read(c.buf[:len(p)])
		if n > 0 {
			out, refused := c.t.Feed(c.buf[:n])
			c.out = append(c.out[:0], out...)
			if refused {
				c.out = append(c.out, refusedLine...)
				c.done = true
				if c.logger != nil {
					c.logger.Warn("refused a request with both Content-Length and Transfer-Encoding (RFC 9112 §6.3); the connection is closed",
						zap.String("remote_addr", c.RemoteAddr().String()))
				}
			}
		}
		if err != nil {
			c.err = err
		}
	}
}

type tlsConn struct{ *conn }

func (c *tlsConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(connectionStater).ConnectionState()
}

// Limits of what the tracker holds; past them it leaves the connection to
// Go, whose own limits (max_header_bytes) refuse it.
const (
	maxHead = 1 << 20
	maxLine = 4 << 10
)

type state int

const (
	stHead      state = iota // reading a request head
	stBody                   // Content-Length body: remain bytes
	stChunkSize              // a chunk-size line
	stChunkData              // chunk data: remain bytes
	stChunkEnd               // the CRLF after chunk data
	stTrailer                // trailer lines up to an empty one
	stPass                   // not tracking: everything goes through
)

// Tracker follows HTTP/1 request framing on a byte stream. Its zero value
// expects a request head.
type Tracker struct {
	st     state
	held   []byte // the incomplete head, or the current line
	remain int64
}

// Passing reports whether the tracker has stopped looking.
func (t *Tracker) Passing() bool { return t.st == stPass }

// Feed takes the next bytes read and returns those that may go to the
// server (an incomplete head is held back) and whether a head with both
// Content-Length and Transfer-Encoding was found; then the bytes from
// that head on are not returned and the tracker must not be fed again.
func (t *Tracker) Feed(in []byte) (out []byte, refused bool) {
	for len(in) > 0 {
		switch t.st {
		case stPass:
			return append(out, in...), false
		case stHead:
			start := max(0, len(t.held)-3)
			t.held = append(t.held, in...)
			in = nil
			end := bytes.Index(t.held[start:], []byte("\r\n\r\n"))
			if end < 0 {
				if len(t.held) > maxHead {
					out, t.held, t.st = append(out, t.held...), nil, stPass
				}
				continue
			}
			end += start + 4
			head := t.held[:end]
			rest := bytes.Clone(t.held[end:])
			t.held = nil
			next, n, bad := frame(head)
			if bad {
				return out, true
			}
			out = append(out, head...)
			t.st, t.remain, in = next, n, rest
			if next == stBody && n == 0 {
				t.st = stHead
			}
		case stBody, stChunkData:
			k := int(min(t.remain, int64(len(in))))
			out, in = append(out, in[:k]...), in[k:]
			if t.remain -= int64(k); t.remain == 0 {
				if t.st == stBody {
					t.st = stHead
				} else {
					t.st = stChunkEnd
				}
			}
		case stChunkEnd:
			// Two bytes: CR LF.
			need := 2 - len(t.held)
			k := min(need, len(in))
			t.held = append(t.held, in[:k]...)
			out, in = append(out, in[:k]...), in[k:]
			if len(t.held) == 2 {
				if string(t.held) != "\r\n" {
					t.st = stPass
				} else {
					t.st = stChunkSize
				}
				t.held = nil
			}
		case stChunkSize, stTrailer:
			i := bytes.IndexByte(in, '\n')
			if i < 0 {
				t.held = append(t.held, in...)
				out, in = append(out, in...), nil
				if len(t.held) > maxLine {
					t.st, t.held = stPass, nil
				}
				continue
			}
			t.held = append(t.held, in[:i+1]...)
			out, in = append(out, in[:i+1]...), in[i+1:]
			line := strings.TrimRight(string(t.held), "\r\n")
			t.held = nil
			if t.st == stTrailer {
				if line == "" {
					t.st = stHead
				}
				continue
			}
			size, _, _ := strings.Cut(line, ";")
			n, err := strconv.ParseUint(strings.TrimRight(size, " \t"), 16, 63)
			switch {
			case err != nil:
				t.st = stPass
			case n == 0:
				t.st = stTrailer
			default:
				t.st, t.remain = stChunkData, int64(n)
			}
		}
	}
	return out, false
}

// frame reads a complete request head and says what follows it: a body of
// n bytes (stBody), a chunked body (stChunkSize), or nothing Go would
// accept (stPass); bad is true for both Content-Length and
// Transfer-Encoding.
func frame(head []byte) (next state, n int64, bad bool) {
	lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\n")
	reqLine := strings.TrimRight(lines[0], "\r")
	if !strings.HasSuffix(reqLine, " HTTP/1.1") && !strings.HasSuffix(reqLine, " HTTP/1.0") {
		return stPass, 0, false // HTTP/2's preface, or a line Go refuses
	}
	var cl, te []string
	var last *[]string
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		if l != "" && (l[0] == ' ' || l[0] == '\t') {
			// obs-fold: a continuation of the previous field's value.
			if last != nil && len(*last) > 0 {
				(*last)[len(*last)-1] += " " + strings.TrimSpace(l)
			}
			continue
		}
		name, value, _ := strings.Cut(l, ":")
		value = strings.TrimSpace(value)
		last = nil
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			cl = append(cl, value)
			last = &cl
		case "transfer-encoding":
			te = append(te, value)
			last = &te
		}
	}
	switch {
	case len(cl) > 0 && len(te) > 0:
		return 0, 0, true
	case len(te) > 0:
		if strings.HasSuffix(reqLine, " HTTP/1.0") {
			return stHead, 0, false // Go ignores Transfer-Encoding in HTTP/1.0
		}
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return stPass, 0, false // Go answers 501 and closes
		}
		return stChunkSize, 0, false
	case len(cl) > 0:
		for _, v := range cl[1:] {
			if v != cl[0] {
				return stPass, 0, false // Go refuses differing lengths
			}
		}
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < 0 {
			return stPass, 0, false
		}
		return stBody, n, false
	}
	return stHead, 0, false
}
