package target

import (
	"bytes"
	"context"
	"crypto/sha256"
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

// VerifiedBody is a Put body that checks its own bytes against a digest it
// was given. Once it has delivered all of its bytes and found them right,
// VerifiedSHA256 returns their SHA-256: the digest of exactly the bytes its
// Reads returned, from the first on. Before that, when the check failed,
// when it checks another algorithm or when it did not deliver the bytes
// from the first on, it returns nil. A store that has read the whole body
// and keeps those very bytes (a retry sends the same buffer) may take a
// VerifiedSHA256 equal to PutOptions.SHA256 instead of hashing them again.
type VerifiedBody interface {
	io.Reader
	VerifiedSHA256() []byte
}

// Verified reports whether body, read to its end, is a VerifiedBody whose
// bytes have the SHA-256 want.
func Verified(body io.Reader, want []byte) bool {
	v, ok := body.(VerifiedBody)
	if !ok || len(want) == 0 {
		return false
	}
	got := v.VerifiedSHA256()
	return len(got) == len(want) && string(got) == string(want)
}

// BytesBody returns a Put body of b and the SHA-256 of b, for
// PutOptions.SHA256. The body is a VerifiedBody: a store that reads all of
// it need not hash b a second time.
func BytesBody(b []byte) (io.Reader, []byte) {
	sum := sha256.Sum256(b)
	return &bytesBody{bytes.NewReader(b), sum[:]}, sum[:]
}

type bytesBody struct {
	*bytes.Reader
	sum []byte
}

// VerifiedSHA256 returns the digest of the bytes once all were read.
func (b *bytesBody) VerifiedSHA256() []byte {
	if b.Len() != 0 {
		return nil
	}
	return b.sum
}
