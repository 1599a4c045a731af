package filedrop

import (
	"context"
	"io"
)

// bufSize is the copy buffer: age's chunk size, so each read fills one
// encrypted chunk.
const bufSize = 64 << 10

// pump copies src to dst until src ends, reading at most max+1 bytes so
// that a source over the limit is noticed without reading it all. It keeps
// read and write errors apart: a read error is the client's connection
// failing (the bytes before it are good), a write error is ours. A
// cancelled ctx counts as a read error.
func pump(ctx context.Context, dst io.Writer, src io.Reader, max int64) (n int64, readErr, writeErr error) {
	buf := make([]byte, bufSize)
	lr := io.LimitReader(src, max+1)
	for {
		if err := ctx.Err(); err != nil {
			return n, err, nil
		}
		m, err := lr.Read(buf)
		if m > 0 {
			w, werr := dst.Write(buf[:m])
			n += int64(w)
			if werr == nil && w != m {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, nil, werr
			}
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}
