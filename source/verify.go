package source

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/ssmirror/ssmirror/source/catalog"
)

// ErrIntegrity is wrapped when bytes read do not match the size or
// checksum a catalog promises.
var ErrIntegrity = errors.New("integrity check failed")

// VerifyingReader passes through exactly the bytes of one item while
// hashing them. It never returns the final bytes of a body whose size or
// checksum is wrong: the Read that would complete the body returns an
// error wrapping ErrIntegrity instead, so a consumer that stops at the
// expected length (an HTTP request body, a multipart upload) fails rather
// than storing bad content.
type VerifyingReader struct {
	r       io.Reader
	name    string
	size    int64
	want    catalog.Checksum
	h       hash.Hash
	n       int64
	checked bool
	err     error
}

// NewVerifyingReader returns a reader of r that checks size bytes against
// sum (the item's strongest checksum). name is used in errors.
func NewVerifyingReader(r io.Reader, name string, size int64, sum catalog.Checksum) *VerifyingReader {
	v := &VerifyingReader{r: r, name: name, size: size, want: sum}
	switch sum.Algo {
	case "sha512":
		v.h = sha512.New()
	case "sha256":
		v.h = sha256.New()
	default:
		v.h = md5.New()
	}
	return v
}

// Read implements io.Reader.
func (v *VerifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.n < v.size {
		if rest := v.size - v.n; int64(len(p)) > rest {
			p = p[:rest]
		}
		n, err := v.r.Read(p)
		v.h.Write(p[:n])
		v.n += int64(n)
		switch {
		case v.n == v.size:
			if err := v.check(); err != nil {
				return 0, err
			}
			return n, nil
		case err == io.EOF:
			return 0, v.fail("truncated: got %d of %d bytes", v.n, v.size)
		case err != nil:
			v.err = fmt.Errorf("%s: %w", v.name, err)
			return 0, v.err
		}
		return n, nil
	}
	if err := v.check(); err != nil {
		return 0, err
	}
	// Everything was delivered and checked; anything more is a lie.
	var one [1]byte
	if n, _ := io.ReadFull(v.r, one[:]); n > 0 {
		return 0, v.fail("more than the catalog's %d bytes", v.size)
	}
	return 0, io.EOF
}

func (v *VerifyingReader) check() error {
	if v.checked {
		return nil
	}
	v.checked = true
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
		return v.fail("%s is %s, catalog says %s", v.want.Algo, got, v.want.Hex)
	}
	return nil
}

func (v *VerifyingReader) fail(format string, a ...any) error {
	v.err = fmt.Errorf("%s: %w: "+format, append([]any{v.name, ErrIntegrity}, a...)...)
	return v.err
}

// Err returns the error the reader failed with, if any: it names the
// upstream file and the reason, which a consumer's own error may not.
func (v *VerifyingReader) Err() error { return v.err }

// N returns the number of bytes delivered so far.
func (v *VerifyingReader) N() int64 { return v.n }

// NewResumedVerifyingReader is NewVerifyingReader of an item of size bytes
// with checksum sum whose first offset bytes were read before, into h (a
// digest of sum's algorithm restored to that state): r gives the rest, and
// the whole item's size and digest are checked.
func NewResumedVerifyingReader(r io.Reader, name string, size int64, sum catalog.Checksum, offset int64, h hash.Hash) *VerifyingReader {
	return &VerifyingReader{r: r, name: name, size: size, want: sum, h: h, n: offset}
}
