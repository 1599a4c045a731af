package filedrop

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"filippo.io/age"
)

// blobMagic opens every blob file; see the package documentation for the
// format that follows it.
const blobMagic = "hubkit-filedrop-blob v1\n"

// segmentHeader is the length prefix of a segment.
const segmentHeader = 8

// segmentWriter encrypts one segment into f: it writes a placeholder
// length, streams an age encryption of what is written to it, and on
// finish fills in the length. Memory stays constant: age encrypts in
// 64 KiB chunks, and a writeBehind puts each on disk while the next is
// being encrypted.
type segmentWriter struct {
	f     *os.File
	start int64 // offset of the length prefix
	wb    *writeBehind
	cw    countingWriter
	enc   io.WriteCloser
	plain int64
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// beginSegment starts a segment at offset at of f (the end of the blob's
// last complete segment, or just after the magic).
func beginSegment(f *os.File, at int64, to age.Recipient) (*segmentWriter, error) {
	if _, err := f.Seek(at, io.SeekStart); err != nil {
		return nil, fmt.Errorf("filedrop: blob: %w", err)
	}
	var zero [segmentHeader]byte
	if _, err := f.Write(zero[:]); err != nil {
		return nil, fmt.Errorf("filedrop: write blob: %w", err)
	}
	s := &segmentWriter{f: f, start: at, wb: newWriteBehind(f)}
	s.cw.w = s.wb
	enc, err := age.Encrypt(&s.cw, to)
	if err != nil {
		s.abort()
		return nil, fmt.Errorf("filedrop: encrypt: %w", err)
	}
	s.enc = enc
	return s, nil
}

// abort stops the segment's writer goroutine without finishing the
// segment; the caller discards what was written. It is safe after finish.
func (s *segmentWriter) abort() { s.wb.Close() }

func (s *segmentWriter) Write(p []byte) (int, error) {
	n, err := s.enc.Write(p)
	s.plain += int64(n)
	if err != nil {
		return n, fmt.Errorf("filedrop: write blob: %w", err)
	}
	return n, nil
}

// finish completes the segment and returns the offset just after it. The
// data is not yet flushed to disk: the caller syncs the file.
func (s *segmentWriter) finish() (end int64, err error) {
	if err := s.enc.Close(); err != nil {
		s.abort()
		return 0, fmt.Errorf("filedrop: write blob: %w", err)
	}
	if err := s.wb.Close(); err != nil {
		return 0, fmt.Errorf("filedrop: write blob: %w", err)
	}
	var hdr [segmentHeader]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(s.cw.n))
	if _, err := s.f.WriteAt(hdr[:], s.start); err != nil {
		return 0, fmt.Errorf("filedrop: write blob: %w", err)
	}
	return s.start + segmentHeader + s.cw.n, nil
}

// writeMagic starts a new blob file.
func writeMagic(f *os.File) error {
	if _, err := f.WriteAt([]byte(blobMagic), 0); err != nil {
		return fmt.Errorf("filedrop: write blob: %w", err)
	}
	return nil
}

// readBuf is how much plaintext a blobReader decrypts ahead. age's
// ReaderAt allocates one 64 KiB chunk buffer per call, so reading in
// larger steps keeps the garbage a download makes to a quarter of its size.
const readBuf = 256 << 10

// blobReader decrypts a blob's segments in order as one stream. When it
// knows the expected size and SHA-256 (verify), it checks them as it goes
// and, at the end, reports ErrCorrupt instead of io.EOF if they differ: age
// authenticates each segment (including its length, checked up front from
// its final chunk), but only the recorded hash vouches for the number and
// order of segments, and for the file as a whole.
type blobReader struct {
	f    *os.File
	id   age.Identity
	path string
	next int64 // file offset of the next segment's length prefix

	seg     io.ReaderAt // plaintext of the current segment
	segSize int64
	segOff  int64

	buf    []byte // decrypted, not yet returned: buf[bufPos:]
	bufPos int
	verify bool
	size   int64
	sum    string
	h      hash.Hash
	n      int64
	err    error
}

// openBlob opens the blob at path. verify says whether size and sum
// (lower-case hex SHA-256) are known and must be checked.
func openBlob(path string, id age.Identity, verify bool, size int64, sum string) (*blobReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrCorrupt, path, err)
	}
	magic := make([]byte, len(blobMagic))
	if _, err := f.ReadAt(magic, 0); err != nil || string(magic) != blobMagic {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a hubkit blob (bad header)", ErrCorrupt, path)
	}
	return &blobReader{f: f, id: id, path: path, next: int64(len(blobMagic)),
		verify: verify, size: size, sum: sum, h: sha256.New()}, nil
}

func (r *blobReader) corrupt(format string, args ...any) error {
	r.err = fmt.Errorf("%w: %s: %s", ErrCorrupt, r.path, fmt.Sprintf(format, args...))
	return r.err
}

func (r *blobReader) Read(p []byte) (int, error) {
	for r.bufPos == len(r.buf) {
		if r.err != nil {
			return 0, r.err
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.bufPos:])
	r.bufPos += n
	return n, nil
}

// fill decrypts the next piece of plaintext into buf, moving on to the
// next segment (or to the end) when the current one is done.
func (r *blobReader) fill() error {
	if r.seg == nil || r.segOff == r.segSize {
		if err := r.nextSegment(); err != nil {
			return err
		}
	}
	if r.buf == nil {
		r.buf = make([]byte, readBuf)
	}
	want := min(int64(readBuf), r.segSize-r.segOff)
	n, err := r.seg.ReadAt(r.buf[:want], r.segOff)
	if int64(n) != want {
		return r.corrupt("decrypt: %v", err)
	}
	r.buf, r.bufPos = r.buf[:n], 0
	r.segOff += int64(n)
	r.h.Write(r.buf)
	r.n += int64(n)
	if r.verify && r.n > r.size {
		return r.corrupt("more than the recorded %d bytes", r.size)
	}
	return nil
}

// nextSegment opens the next segment, or ends the stream at a clean end of
// file (checking size and hash).
func (r *blobReader) nextSegment() error {
	var hdr [segmentHeader]byte
	k, err := r.f.ReadAt(hdr[:], r.next)
	if k == 0 && err == io.EOF {
		return r.end()
	}
	if k != segmentHeader {
		return r.corrupt("truncated segment header")
	}
	n := binary.BigEndian.Uint64(hdr[:])
	if n == 0 || n > 1<<62 {
		return r.corrupt("segment length %d", n)
	}
	src := io.NewSectionReader(r.f, r.next+segmentHeader, int64(n))
	seg, size, err := age.DecryptReaderAt(src, int64(n), r.id)
	if err != nil {
		return r.corrupt("decrypt segment at %d: %v", r.next, err)
	}
	if size == 0 {
		return r.corrupt("empty segment at %d", r.next)
	}
	r.seg, r.segSize, r.segOff = seg, size, 0
	r.next += segmentHeader + int64(n)
	return nil
}

func (r *blobReader) end() error {
	if r.verify {
		if r.n != r.size {
			return r.corrupt("holds %d bytes, %d were recorded", r.n, r.size)
		}
		if got := hex.EncodeToString(r.h.Sum(nil)); got != r.sum {
			return r.corrupt("SHA-256 is %s, %s was recorded", got, r.sum)
		}
	}
	r.err = io.EOF
	return io.EOF
}

// Close closes the blob file.
func (r *blobReader) Close() error {
	if r.err == nil {
		r.err = errors.New("filedrop: read after close")
	}
	r.buf, r.bufPos = nil, 0
	return r.f.Close()
}
