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
	"sync"
	"sync/atomic"

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

// readBuf is the size of one piece of plaintext a blobReader decrypts
// ahead. age's ReaderAt allocates one 64 KiB chunk buffer per call, so
// reading in large steps keeps the garbage a download makes to a
// sixteenth of its size.
const readBuf = 1 << 20

// readDepth is how many decrypted pieces a blobReader holds at most: one
// being decrypted, one being hashed or handed out, one waiting. Memory
// per reader is readDepth × readBuf.
const readDepth = 3

// readPiece is one piece of decrypted plaintext, shared read-only by the
// hasher and the consumer and returned to the free list when both are
// done with it. A piece with err set ends the stream instead.
type readPiece struct {
	buf  []byte
	data []byte
	refs atomic.Int32
	err  error
}

// blobReader decrypts a blob's segments in order as one stream. When it
// knows the expected size and SHA-256 (verify), it checks them as it goes
// and, at the end, reports ErrCorrupt instead of io.EOF if they differ: age
// authenticates each segment (including its length, checked up front from
// its final chunk), but only the recorded hash vouches for the number and
// order of segments, and for the file as a whole.
//
// From the first Read (or WriteTo) on, a goroutine decrypts ahead while
// another hashes what was decrypted and the caller sends it on, so a
// download runs at the pace of the slowest of the three rather than their
// sum. Nothing is handed out before it was authenticated by age; the hash
// is checked before the end of the stream is reported. Close stops both
// goroutines.
type blobReader struct {
	f      *os.File
	id     age.Identity
	path   string
	verify bool
	size   int64
	sum    string

	// The decrypting goroutine's state.
	next    int64       // file offset of the next segment's length prefix
	seg     io.ReaderAt // plaintext of the current segment
	segSize int64
	segOff  int64
	n       int64 // plaintext bytes decrypted so far

	h        hash.Hash // written by the hashing goroutine only
	started  bool
	free     chan *readPiece
	out      chan *readPiece // to the consumer, in order
	hashQ    chan *readPiece // to the hasher, in order
	stop     chan struct{}
	hashDone chan struct{}
	wg       sync.WaitGroup

	cur *readPiece // the consumer's piece: cur.data[curPos:] is unread
	pos int
	err error // the consumer's sticky error (io.EOF at a good end)
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
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, r.path, fmt.Sprintf(format, args...))
}

// start launches the decrypting and hashing goroutines.
func (r *blobReader) start() {
	r.started = true
	r.free = make(chan *readPiece, readDepth)
	for range readDepth {
		r.free <- &readPiece{}
	}
	// The channels have room for every piece and the final one, so a send
	// never blocks.
	r.out = make(chan *readPiece, readDepth+1)
	r.hashQ = make(chan *readPiece, readDepth)
	r.stop = make(chan struct{})
	r.hashDone = make(chan struct{})
	r.wg.Add(2)
	go r.decrypt()
	go r.hash()
}

// release hands a piece back once both the hasher and the consumer are
// done with it.
func (r *blobReader) release(p *readPiece) {
	if p.refs.Add(-1) == 0 {
		r.free <- p
	}
}

// decrypt runs the decrypting goroutine: it fills free pieces until the
// end of the blob, an error, or Close.
func (r *blobReader) decrypt() {
	defer r.wg.Done()
	defer close(r.hashQ)
	for {
		var p *readPiece
		select {
		case p = <-r.free:
		case <-r.stop:
			return
		}
		if err := r.fill(p); err != nil {
			r.out <- &readPiece{err: err}
			return
		}
		p.refs.Store(2)
		r.hashQ <- p
		r.out <- p
	}
}

// hash runs the hashing goroutine.
func (r *blobReader) hash() {
	defer r.wg.Done()
	defer close(r.hashDone)
	for p := range r.hashQ {
		r.h.Write(p.data)
		r.release(p)
	}
}

// next returns the consumer's next piece, or the stream's end or error.
func (r *blobReader) nextPiece() error {
	if r.err != nil {
		return r.err
	}
	if !r.started {
		r.start()
	}
	p := <-r.out
	if p.err != nil {
		r.err = p.err
		if p.err == io.EOF {
			r.err = r.end()
		}
		return r.err
	}
	r.cur, r.pos = p, 0
	return nil
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.cur == nil {
		if err := r.nextPiece(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.cur.data[r.pos:])
	r.pos += n
	if r.pos == len(r.cur.data) {
		r.release(r.cur)
		r.cur = nil
	}
	return n, nil
}

// WriteTo hands the decrypted pieces to w as they are, without copying
// them: io.Copy uses it. A damaged blob ends in an ErrCorrupt error.
func (r *blobReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if r.cur == nil {
			if err := r.nextPiece(); err == io.EOF {
				return total, nil
			} else if err != nil {
				return total, err
			}
		}
		data := r.cur.data[r.pos:]
		m, err := w.Write(data)
		total += int64(m)
		r.pos += m
		if err == nil && m != len(data) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return total, err
		}
		r.release(r.cur)
		r.cur = nil
	}
}

// fill decrypts the next piece of plaintext into p, moving on to the next
// segment (or to the end, io.EOF) when the current one is done.
func (r *blobReader) fill(p *readPiece) error {
	for r.seg == nil || r.segOff == r.segSize {
		if err := r.nextSegment(); err != nil {
			return err
		}
	}
	if p.buf == nil {
		p.buf = make([]byte, readBuf)
	}
	want := min(int64(readBuf), r.segSize-r.segOff)
	n, err := r.seg.ReadAt(p.buf[:want], r.segOff)
	if int64(n) != want {
		return r.corrupt("decrypt: %v", err)
	}
	p.data = p.buf[:n]
	r.segOff += int64(n)
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
		return io.EOF
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

// end checks, at a clean end of the blob, the size and (once the hasher
// is done) the SHA-256, and returns io.EOF or an ErrCorrupt error.
func (r *blobReader) end() error {
	<-r.hashDone
	if r.verify {
		if r.n != r.size {
			return r.corrupt("holds %d bytes, %d were recorded", r.n, r.size)
		}
		if got := hex.EncodeToString(r.h.Sum(nil)); got != r.sum {
			return r.corrupt("SHA-256 is %s, %s was recorded", got, r.sum)
		}
	}
	return io.EOF
}

// Close stops the goroutines and closes the blob file.
func (r *blobReader) Close() error {
	if r.started {
		select {
		case <-r.stop:
		default:
			close(r.stop)
		}
		r.wg.Wait()
	}
	if r.err == nil {
		r.err = errors.New("filedrop: read after close")
	}
	r.cur = nil
	return r.f.Close()
}
