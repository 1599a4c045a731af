package filedrop

import (
	"errors"
	"io"
	"os"
	"sync"
)

// writeBehindDepth is how many full buffers may wait for the disk.
const writeBehindDepth = 2

// writeBehindBuf is the size of one write to the file: four age chunks
// (64 KiB plaintext + 16 bytes tag each), so the disk sees few, large
// writes.
const writeBehindBuf = 256 << 10

// flushEvery is how many bytes the writeBehind writes before it asks the
// kernel, in the background, to put them on disk. Without it the whole
// file would sit in the page cache until the caller's final fsync, and
// that fsync would then wait for all of it while the CPU idles; with it
// the disk writes the file while the rest of it is still being received
// and encrypted, and the final fsync has little left to do. Only
// ciphertext is ever written, so flushing early exposes nothing.
const flushEvery = 32 << 20

// writeBehind hands writes to a goroutine, so that the disk writes one
// piece while the caller hashes and encrypts the next: an upload then
// runs at the speed of the slower of the two instead of their sum. It
// copies each write (the encryptor reuses its buffer) into one of a fixed
// set of buffers, and sends a buffer to the disk when it is full (or at
// Close), so memory stays bounded at (depth+1) × writeBehindBuf.
//
// A write error is reported by the next Write or by Close; writes after
// it are dropped. Close must be called (abort on error paths) to stop the
// goroutine.
type writeBehind struct {
	w     io.Writer
	f     *os.File // when set, flushed in the background every flushEvery bytes
	queue chan []byte
	free  chan []byte
	done  chan struct{}
	cur   []byte // being filled by Write; owned by the caller's goroutine

	mu     sync.Mutex
	err    error
	closed bool
}

// writeBehindPool keeps the buffers of finished writeBehinds for the next.
var writeBehindPool = sync.Pool{New: func() any { return make([]byte, 0, writeBehindBuf) }}

func newWriteBehind(w io.Writer) *writeBehind {
	wb := &writeBehind{
		w:     w,
		queue: make(chan []byte, writeBehindDepth),
		free:  make(chan []byte, writeBehindDepth+1),
		done:  make(chan struct{}),
	}
	if f, ok := w.(*os.File); ok {
		wb.f = f
	}
	for range writeBehindDepth + 1 {
		wb.free <- writeBehindPool.Get().([]byte)
	}
	go wb.run()
	return wb
}

func (wb *writeBehind) run() {
	defer close(wb.done)
	var (
		unflushed int64
		flushing  chan struct{} // closed when the background flush is done
	)
	defer func() {
		if flushing != nil {
			<-flushing // the file is not to be used after Close
		}
	}()
	for b := range wb.queue {
		if wb.failed() == nil {
			if _, err := wb.w.Write(b); err != nil {
				wb.setErr(err)
			}
			unflushed += int64(len(b))
		}
		wb.free <- b[:0]
		if wb.f == nil || unflushed < flushEvery {
			continue
		}
		if flushing != nil {
			select {
			case <-flushing:
			default:
				continue // the last flush is still running: it gets this with the next
			}
		}
		unflushed = 0
		done := make(chan struct{})
		flushing = done
		go func() {
			// An error here is not the file's fate: the caller's final
			// fsync reports whatever is still wrong.
			wb.f.Sync()
			close(done)
		}()
	}
}

func (wb *writeBehind) setErr(err error) {
	wb.mu.Lock()
	if wb.err == nil {
		wb.err = err
	}
	wb.mu.Unlock()
}

// failed returns the first write error.
func (wb *writeBehind) failed() error {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return wb.err
}

var errWriteAfterClose = errors.New("filedrop: write to a finished segment")

// Write copies p into the buffers, sending each to the disk when it is
// full. It blocks only while all buffers wait for the disk.
func (wb *writeBehind) Write(p []byte) (int, error) {
	wb.mu.Lock()
	err, closed := wb.err, wb.closed
	wb.mu.Unlock()
	switch {
	case err != nil:
		return 0, err
	case closed:
		return 0, errWriteAfterClose
	}
	n := 0
	for len(p) > 0 {
		if wb.cur == nil {
			wb.cur = <-wb.free
		}
		k := min(len(p), cap(wb.cur)-len(wb.cur))
		wb.cur = append(wb.cur, p[:k]...)
		n += k
		p = p[k:]
		if len(wb.cur) == cap(wb.cur) {
			wb.queue <- wb.cur
			wb.cur = nil
		}
	}
	return n, nil
}

// Close sends what is buffered, waits until everything queued is written
// and returns the first write error. It may be called more than once.
func (wb *writeBehind) Close() error {
	wb.mu.Lock()
	first := !wb.closed
	wb.closed = true
	wb.mu.Unlock()
	if first {
		if len(wb.cur) > 0 {
			wb.queue <- wb.cur
		}
		wb.cur = nil
		close(wb.queue)
		<-wb.done
		// The goroutine is gone and every buffer is back.
		for range writeBehindDepth + 1 {
			writeBehindPool.Put((<-wb.free)[:0])
		}
	}
	<-wb.done
	return wb.failed()
}
