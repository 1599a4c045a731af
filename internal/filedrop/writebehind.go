package filedrop

import (
	"errors"
	"io"
	"sync"
)

// writeBehindDepth is how many encrypted chunks may wait for the disk.
const writeBehindDepth = 3

// writeBehindBuf fits one age chunk (64 KiB plaintext + 16 bytes tag) with
// room to spare, so a chunk is never split.
const writeBehindBuf = 128 << 10

// writeBehind hands writes to a goroutine, so that the disk writes one
// chunk while the caller hashes and encrypts the next: an upload then
// runs at the speed of the slower of the two instead of their sum. It
// copies each write (the encryptor reuses its buffer) into one of a fixed
// set of buffers, so memory stays bounded at (depth+1) × 128 KiB.
//
// A write error is reported by the next Write or by Close; writes after
// it are dropped. Close must be called (abort on error paths) to stop the
// goroutine.
type writeBehind struct {
	w     io.Writer
	queue chan []byte
	free  chan []byte
	done  chan struct{}

	mu     sync.Mutex
	err    error
	closed bool
}

func newWriteBehind(w io.Writer) *writeBehind {
	wb := &writeBehind{
		w:     w,
		queue: make(chan []byte, writeBehindDepth),
		free:  make(chan []byte, writeBehindDepth+1),
		done:  make(chan struct{}),
	}
	for range writeBehindDepth + 1 {
		wb.free <- make([]byte, 0, writeBehindBuf)
	}
	go wb.run()
	return wb
}

func (wb *writeBehind) run() {
	defer close(wb.done)
	for b := range wb.queue {
		if wb.failed() == nil {
			if _, err := wb.w.Write(b); err != nil {
				wb.mu.Lock()
				wb.err = err
				wb.mu.Unlock()
			}
		}
		wb.free <- b[:0]
	}
}

// failed returns the first write error.
func (wb *writeBehind) failed() error {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return wb.err
}

var errWriteAfterClose = errors.New("filedrop: write to a finished segment")

// Write queues a copy of p. It blocks only while all buffers wait for the disk.
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
		b := <-wb.free
		k := min(len(p), cap(b))
		wb.queue <- append(b, p[:k]...)
		n += k
		p = p[k:]
	}
	return n, nil
}

// Close waits until everything queued is written and returns the first
// write error. It may be called more than once.
func (wb *writeBehind) Close() error {
	wb.mu.Lock()
	if !wb.closed {
		wb.closed = true
		close(wb.queue)
	}
	wb.mu.Unlock()
	<-wb.done
	return wb.failed()
}
