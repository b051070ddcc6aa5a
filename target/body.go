package target

import (
	"context"
	"io"
)

// Helpers for Store implementations that read a Put body.

// ContextReader returns a reader of r that fails once ctx is done, so a
// copy loop stops when the Put is cancelled.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// MoreData reads from r, after a Put has read the declared size, until it
// returns data, EOF or an error, and reports whether the body was longer.
func MoreData(r io.Reader) (extra bool, err error) {
	var b [1]byte
	for range 100 {
		n, err := r.Read(b[:])
		if n > 0 {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, io.ErrNoProgress
}
