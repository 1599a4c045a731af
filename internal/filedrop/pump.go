package filedrop

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
)

// pumpBuf is the size of one piece a pump reads before handing it on: a
// multiple of age's 64 KiB chunk, and large enough that the hand-over
// between goroutines costs nothing next to hashing or encrypting it.
const pumpBuf = 256 << 10

// pumpDepth is how many pieces may be in flight (being read, hashed,
// encrypted or scanned) at once. Memory per pump is pumpDepth × pumpBuf.
const pumpDepth = 3

// pumpPool keeps the pieces of finished pumps for the next, so that many
// short uploads do not each allocate (and leave to the collector) their
// own.
var pumpPool = sync.Pool{New: func() any { return &pumpPiece{buf: make([]byte, pumpBuf)} }}

// pumpPiece is one buffer of a pump, shared read-only by its sinks and
// returned to the free list when the last of them is done with it.
type pumpPiece struct {
	buf  []byte
	data []byte
	refs atomic.Int32
}

// pump copies src to every sink until src ends, reading at most max+1
// bytes so that a source over the limit is noticed without reading it
// all. It keeps read and write errors apart: a read error is the client's
// connection failing (the bytes before it are good), a write error is
// ours. A cancelled ctx counts as a read error.
//
// Each sink is written by a goroutine of its own, in order, so that on a
// machine with more than one core the SHA-256, the encryption (and its
// disk writes) and a virus scan of one piece run side by side, and beside
// the read of the next piece: an upload then runs at the pace of its
// slowest stage instead of the sum of them all. Memory stays bounded at
// pumpDepth pieces. pump returns only when every sink has taken every
// piece (or failed), so the caller may use the sinks at once; when it
// returns without a write error, each sink got exactly the n bytes.
func pump(ctx context.Context, src io.Reader, max int64, sinks ...io.Writer) (n int64, readErr, writeErr error) {
	if len(sinks) == 0 {
		sinks = []io.Writer{io.Discard}
	}
	free := make(chan *pumpPiece, pumpDepth)
	for range pumpDepth {
		free <- pumpPool.Get().(*pumpPiece)
	}
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
		errMu  sync.Mutex
		first  error
	)
	queues := make([]chan *pumpPiece, len(sinks))
	for i, w := range sinks {
		q := make(chan *pumpPiece, pumpDepth)
		queues[i] = q
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range q {
				if !failed.Load() {
					m, err := w.Write(p.data)
					if err == nil && m != len(p.data) {
						err = io.ErrShortWrite
					}
					if err != nil {
						errMu.Lock()
						if first == nil {
							first = err
						}
						errMu.Unlock()
						failed.Store(true)
					}
				}
				if p.refs.Add(-1) == 0 {
					free <- p
				}
			}
		}()
	}
	// send hands a piece to every sink.
	send := func(p *pumpPiece) {
		p.refs.Store(int32(len(queues)))
		for _, q := range queues {
			q <- p
		}
		n += int64(len(p.data))
	}
	lr := io.LimitReader(src, max+1)
	for readErr == nil && !failed.Load() {
		p := <-free
		// Fill the piece: the sinks then work on large pieces however
		// small the source's reads are (a multipart part yields a few
		// KiB at a time).
		k := 0
		var err error
		for k < len(p.buf) {
			if err = ctx.Err(); err != nil {
				break
			}
			var m int
			m, err = lr.Read(p.buf[k:])
			k += m
			if err != nil {
				break
			}
		}
		if k > 0 {
			p.data = p.buf[:k]
			send(p)
		} else {
			free <- p
		}
		if err == io.EOF {
			break
		}
		readErr = err
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	// Every piece is back: the sinks are done with them.
	for range pumpDepth {
		p := <-free
		p.data = nil
		pumpPool.Put(p)
	}
	if first != nil {
		return n, nil, first
	}
	return n, readErr, nil
}
