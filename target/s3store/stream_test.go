package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target"
)

// failingEnd delivers r's bytes, then fails with err instead of io.EOF:
// a verifying body that finds a mismatch once it has read everything.
// With withLast it returns err together with the last byte.
type failingEnd struct {
	r        *bytes.Reader
	err      error
	withLast bool
}

func (f *failingEnd) Read(p []byte) (int, error) {
	if f.r.Len() == 0 {
		return 0, f.err
	}
	n, _ := f.r.Read(p)
	if f.withLast && f.r.Len() == 0 {
		return n, f.err
	}
	return n, nil
}

// TestStreamedPut: an object larger than a part and up to the multipart
// threshold is one PUT, sent as it is read, which the server checks
// against the SHA-256 header. A body that fails at its very end (as the
// source's verifying reader does on a mismatch), ends early, runs long or
// holds other bytes is not stored, with the body's error, and nothing is
// left behind; a good one is stored in one request, no parts.
func TestStreamedPut(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		useCreds(t, srv)
		rec := withRecorder(t)
		cfg := config(srv, srv.NewBucket(t))
		cfg.MultipartThreshold = 4 * MinPartSize
		ctx := context.Background()
		s, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 2*MinPartSize+123)
		rng := rand.NewChaCha8([32]byte{7})
		rng.Read(data)
		other := bytes.Clone(data)
		other[len(other)/2] ^= 1
		digest := sum(data)
		size := int64(len(data))
		const key = "noble/squashfs"
		bodyErr := errors.New("the body's own check failed")

		for _, c := range []struct {
			name string
			body io.Reader
			want error // nil: any error
		}{
			{"fails at its end", &failingEnd{r: bytes.NewReader(data), err: bodyErr}, bodyErr},
			{"fails with its last byte", &failingEnd{r: bytes.NewReader(data), err: bodyErr, withLast: true}, bodyErr},
			{"one byte short", bytes.NewReader(data[:len(data)-1]), io.ErrUnexpectedEOF},
			{"short", bytes.NewReader(data[:MinPartSize]), io.ErrUnexpectedEOF},
			{"one byte long", io.MultiReader(bytes.NewReader(data), bytes.NewReader([]byte{0})), nil},
			{"other bytes", bytes.NewReader(other), target.ErrChecksum},
		} {
			_, err := s.Put(ctx, key, c.body, size, target.PutOptions{SHA256: digest})
			if err == nil || c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("%s: Put = %v, want an error wrapping %v", c.name, err, c.want)
			}
			if _, serr := s.Stat(ctx, key); !errors.Is(serr, target.ErrNotExist) {
				t.Errorf("%s: after the failed Put, Stat = %v, want ErrNotExist", c.name, serr)
			}
		}
		before := len(rec.checksums)
		if _, err := s.Put(ctx, key, bytes.NewReader(data), size, target.PutOptions{SHA256: digest}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if n := rec.partRequests.Load(); n != 0 {
			t.Errorf("%d part requests, want none: the object is one PUT", n)
		}
		if n := len(rec.checksums) - before; n != 1 {
			t.Errorf("%d PUTs with the checksum header for one object, want 1", n)
		}
		r, _, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got, _ := io.ReadAll(r); !bytes.Equal(got, data) {
			t.Errorf("stored %d bytes, not the body's %d", len(got), len(data))
		}
		checkClean(t, s)
	})
}
