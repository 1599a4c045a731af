// Package clamav is a client for clamd, ClamAV's scanning daemon. It sends
// data with the INSTREAM command, so clamd never needs to read the hub's
// files (which are encrypted at rest and would be useless to it) and the
// plaintext travels only over the socket, never through a temporary file.
//
// # Protocol
//
// A scan opens one connection and sends "zINSTREAM\x00", then the data as
// chunks, each a 4-byte big-endian length followed by that many bytes, and
// finally a zero length. clamd answers with one NUL-terminated line:
//
//	stream: OK
//	stream: <signature> FOUND
//	INSTREAM size limit exceeded. ERROR
//	<anything else> ERROR
//
// clamd refuses a stream longer than its StreamMaxLength (25 MB unless its
// configuration says otherwise) by answering the size-limit error and
// closing the connection. Scan reports that as an error, never as clean: a
// hub that scans must set StreamMaxLength at least as large as the biggest
// file it accepts, or such files are refused (fail closed).
package clamav

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// DefaultTimeout bounds a whole Ping and the idle time between two chunks of
// a scan when Client.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultChunkSize is the size of the chunks sent to clamd. clamd reads
// chunks of any size up to its StreamMaxLength; 64 KiB matches the chunks
// age encrypts, so a tee from the encryptor sends each one as it comes.
const DefaultChunkSize = 64 << 10

// maxReply bounds clamd's answer. Real answers are a few dozen bytes; the
// bound keeps a misbehaving peer from making the hub buffer without end.
const maxReply = 4096

// ErrScan is wrapped by every error that means "no verdict": clamd could not
// be reached, timed out, refused the stream or answered something unknown.
// A caller that fails closed treats it like a virus: the data is refused.
var ErrScan = errors.New("clamav: no verdict")

// Client talks to one clamd. The zero value is not usable: set Network and
// Address, e.g. {Network: "unix", Address: "/run/clamav/clamd.ctl"} or
// {Network: "tcp", Address: "127.0.0.1:3310"}. A Client is safe for
// concurrent use: each call opens its own connection.
type Client struct {
	Network string
	Address string
	// Timeout bounds connecting, each write and waiting for the verdict; a
	// context deadline, if sooner, wins. Zero means DefaultTimeout.
	Timeout time.Duration
	// ChunkSize is the largest chunk sent; zero means DefaultChunkSize.
	ChunkSize int
}

// Result is clamd's verdict on a stream.
type Result struct {
	Clean     bool
	Signature string // the signature found, when not Clean
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) chunkSize() int {
	if c.ChunkSize > 0 {
		return c.ChunkSize
	}
	return DefaultChunkSize
}

func (c *Client) String() string { return c.Network + ":" + c.Address }

// dial connects to clamd. A cancelled ctx closes the connection, so a scan
// blocked on a slow clamd returns as soon as its caller gives up.
func (c *Client) dial(ctx context.Context) (net.Conn, func() bool, error) {
	if c == nil || c.Network == "" || c.Address == "" {
		return nil, nil, fmt.Errorf("%w: clamd client has no network and address configured", ErrScan)
	}
	d := net.Dialer{Timeout: c.timeout()}
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: cannot reach clamd at %s: %v (is clamd running?)", ErrScan, c, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, stop, nil
}

// Ping checks that clamd answers PONG.
func (c *Client) Ping(ctx context.Context) error {
	conn, stop, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer stop()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(c.timeout()))
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return c.connErr(ctx, "send PING", err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return c.connErr(ctx, "read PING reply", err)
	}
	if reply != "PONG" {
		return fmt.Errorf("%w: clamd at %s answered %q to PING, want PONG", ErrScan, c, reply)
	}
	return nil
}

// Scan sends everything r yields to clamd and returns its verdict. An error
// (wrapping ErrScan, or ctx's error) means there is no verdict.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	s, err := c.NewStream(ctx)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	buf := make([]byte, c.chunkSize())
	if _, err := io.CopyBuffer(s, onlyReader{r}, buf); err != nil {
		return Result{}, err
	}
	return s.Result()
}

// onlyReader hides a WriterTo so io.CopyBuffer uses the given buffer, whose
// size is then the chunk size.
type onlyReader struct{ io.Reader }

// Stream is one INSTREAM scan in progress: write the data, then call Result.
// It lets a caller tee data to clamd while it does something else with it
// (the file drop encrypts it), so the data is read only once.
type Stream struct {
	c      *Client
	ctx    context.Context
	conn   net.Conn
	stop   func() bool
	hdr    [4]byte
	err    error // first error; sticks
	done   bool
	result Result
}

// NewStream connects to clamd and starts an INSTREAM scan.
func (c *Client) NewStream(ctx context.Context) (*Stream, error) {
	conn, stop, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	s := &Stream{c: c, ctx: ctx, conn: conn, stop: stop}
	conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	if _, err := conn.Write([]byte("zINSTREAM\x00")); err != nil {
		s.Close()
		return nil, c.connErr(ctx, "send INSTREAM", err)
	}
	return s, nil
}

// Write sends p to clamd as one or more chunks. When clamd stops reading
// (it closes the connection after a size-limit error), Write returns an
// error carrying clamd's own explanation where it sent one.
func (s *Stream) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.done {
		return 0, errors.New("clamav: write after Result")
	}
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), s.c.chunkSize())]
		binary.BigEndian.PutUint32(s.hdr[:], uint32(len(chunk)))
		s.conn.SetWriteDeadline(time.Now().Add(s.c.timeout()))
		bufs := net.Buffers{s.hdr[:], chunk}
		if _, err := bufs.WriteTo(s.conn); err != nil {
			s.err = s.writeErr(err)
			return n, s.err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// writeErr explains a failed write: clamd usually closed the connection on
// purpose and said why before it did.
func (s *Stream) writeErr(err error) error {
	if s.ctx.Err() != nil {
		return s.ctx.Err()
	}
	s.conn.SetReadDeadline(time.Now().Add(time.Second))
	if reply, rerr := readReply(s.conn); rerr == nil && reply != "" {
		if _, perr := ParseReply(reply); perr != nil {
			return perr
		}
		return fmt.Errorf("%w: clamd at %s stopped reading the stream and answered %q", ErrScan, s.c, reply)
	}
	return fmt.Errorf("%w: sending to clamd at %s: %v", ErrScan, s.c, err)
}

// Result ends the stream and waits for clamd's verdict. It may be called
// more than once; later calls return the same answer.
func (s *Stream) Result() (Result, error) {
	if s.err != nil {
		return Result{}, s.err
	}
	if s.done {
		return s.result, nil
	}
	s.done = true
	s.conn.SetWriteDeadline(time.Now().Add(s.c.timeout()))
	if _, err := s.conn.Write([]byte{0, 0, 0, 0}); err != nil {
		s.err = s.writeErr(err)
		return Result{}, s.err
	}
	// clamd scans only now, after the terminator: allow it the timeout again.
	s.conn.SetReadDeadline(time.Now().Add(s.c.timeout()))
	reply, err := readReply(s.conn)
	if err != nil {
		s.err = s.c.connErr(s.ctx, "read verdict", err)
		return Result{}, s.err
	}
	res, err := ParseReply(reply)
	if err != nil {
		s.err = err
		return Result{}, err
	}
	s.result = res
	return res, nil
}

// Close releases the connection. Closing a stream without Result abandons
// the scan.
func (s *Stream) Close() error {
	s.stop()
	return s.conn.Close()
}

// connErr wraps a connection error, preferring the context's reason.
func (c *Client) connErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %s from clamd at %s: %v", ErrScan, what, c, err)
}

// readReply reads one reply, up to its NUL (z-commands) or newline, or to
// the end of the connection.
func readReply(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxReply), 256)
	var b bytes.Buffer
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			if b.Len() == 0 {
				return "", io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return "", err
		}
		if c == 0 || c == '\n' {
			break
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// ParseReply interprets one reply line of an INSTREAM scan (without its
// terminating NUL). Anything but OK or FOUND is an error wrapping ErrScan,
// so an unknown answer is never taken for clean.
func ParseReply(reply string) (Result, error) {
	line := strings.TrimSpace(reply)
	// Replies of IDSESSION scans start with "<id>: "; the stream's name is
	// "stream" and clamd puts it before the verdict.
	body, ok := strings.CutPrefix(line, "stream: ")
	switch {
	case ok && body == "OK":
		return Result{Clean: true}, nil
	case ok && strings.HasSuffix(body, " FOUND"):
		sig := strings.TrimSpace(strings.TrimSuffix(body, " FOUND"))
		if sig == "" || strings.ContainsFunc(sig, isCtl) {
			return Result{}, fmt.Errorf("%w: clamd answered a FOUND without a readable signature: %q", ErrScan, line)
		}
		return Result{Clean: false, Signature: sig}, nil
	case strings.HasSuffix(line, "ERROR"):
		msg := strings.TrimSpace(strings.TrimSuffix(line, "ERROR"))
		msg = strings.TrimPrefix(msg, "stream: ")
		if strings.Contains(msg, "size limit exceeded") {
			return Result{}, fmt.Errorf("%w: clamd refused the stream: %s (raise StreamMaxLength in clamd.conf to at least the largest file the hub accepts)", ErrScan, msg)
		}
		return Result{}, fmt.Errorf("%w: clamd reported an error: %s", ErrScan, msg)
	}
	return Result{}, fmt.Errorf("%w: clamd answered something unexpected: %q", ErrScan, line)
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }
