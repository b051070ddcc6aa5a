package s3store

import (
	"context"
	"errors"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/target"
)

var _ target.Resumer = (*Store)(nil)

// resumable is the resume state of a multipart Put that keeps its upload
// when cut off: the record of the parts done in order from the first, and
// the parts done after a gap, until the gap fills.
type resumable struct {
	s   *Store
	ctx context.Context
	mu  sync.Mutex
	rec target.ResumeRecord
	sum target.Sum // the body's checksum, which the upload's digest checks
	h   hash.Hash  // restored from rec.State; nil for a new upload
	// recorded is set once a record of some parts is stored (a resumed
	// upload starts with one).
	recorded bool
	// later holds parts done beyond rec.Parts, with the SHA-256 state
	// after them.
	later map[int]donePart
}

type donePart struct {
	part  target.ResumePart
	state []byte
}

// PutResumable implements target.Resumer. A body of at most one part, or
// one Put streams, is one PUT, as Put makes it: nothing of it is kept when
// cut off. A larger
// one is a multipart upload whose id, parts done and running digest state
// (of sum's algorithm) are recorded at target.ResumeKey(key) after each
// part.
func (s *Store) PutResumable(ctx context.Context, key string, size int64, sum target.Sum, opts target.PutOptions, open target.OpenFunc) (string, error) {
	name, err := s.object("put", key)
	if err != nil {
		return "", err
	}
	partSize := s.partSizeFor(size)
	if _, herr := sum.NewHash(); size <= partSize || s.streams(size, opts) || herr != nil || opts.IfAbsent || opts.IfMatch != "" || partSize > s.partSize && partSize > s.mem.total {
		body, err := open(target.Resumed{})
		if err != nil {
			return "", err
		}
		return s.Put(ctx, key, body, size, opts)
	}
	rs := s.loadResume(ctx, key, name, size, partSize, sum)
	from := target.Resumed{Offset: rs.rec.Offset, State: rs.rec.State}
	body, err := open(from)
	if err != nil && from.Offset > 0 && errors.Is(err, target.ErrStartOver) {
		s.dropRecord(ctx, name, rs.rec)
		rs = s.newResumable(ctx, key, size, partSize, sum)
		body, err = open(target.Resumed{})
	}
	if err != nil {
		return "", err
	}
	return s.putMultipart(ctx, key, name, body, size, partSize, opts, rs)
}

func (s *Store) newResumable(ctx context.Context, key string, size, partSize int64, sum target.Sum) *resumable {
	rec := target.NewResumeRecord(key, size, sum)
	rec.PartSize = partSize
	return &resumable{s: s, ctx: ctx, later: map[int]donePart{}, rec: rec, sum: sum}
}

// loadResume returns the resume state of key: the recorded upload when
// its record matches size, sum and partSize and the store still holds its
// parts as recorded; else (the record dropped, its upload aborted) a new
// one.
func (s *Store) loadResume(ctx context.Context, key, name string, size, partSize int64, sum target.Sum) *resumable {
	fresh := s.newResumable(ctx, key, size, partSize, sum)
	rec, err := target.ReadResume(ctx, s, key)
	if errors.Is(err, target.ErrNotExist) {
		return fresh
	}
	if err != nil || !rec.Matches(size, sum) || rec.PartSize != partSize || rec.UploadID == "" ||
		rec.Offset != int64(len(rec.Parts))*partSize || !s.partsHeld(ctx, name, rec) {
		s.dropRecord(ctx, name, rec)
		return fresh
	}
	h, err := sum.Restore(rec.State)
	if err != nil {
		s.dropRecord(ctx, name, rec)
		return fresh
	}
	fresh.rec, fresh.h, fresh.recorded = rec, h, true
	return fresh
}

// partsHeld reports whether the upload of rec holds each of its recorded
// parts with the recorded ETag and size (ListParts fails for an upload
// that is gone).
func (s *Store) partsHeld(ctx context.Context, name string, rec target.ResumeRecord) bool {
	held := map[int]minio.ObjectPart{}
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, name, rec.UploadID, marker, 1000)
		if err != nil {
			return false
		}
		for _, p := range res.ObjectParts {
			held[p.PartNumber] = p
		}
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	for i, p := range rec.Parts {
		h, ok := held[p.Number]
		if !ok || p.Number != i+1 || h.Size != p.Size || trimETag(h.ETag) != trimETag(p.ETag) {
			return false
		}
	}
	return true
}

func trimETag(e string) string { return strings.Trim(e, `"`) }

// dropRecord aborts the upload rec names (if any) and deletes the record.
func (s *Store) dropRecord(ctx context.Context, name string, rec target.ResumeRecord) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if rec.UploadID != "" {
		s.core.AbortMultipartUpload(actx, s.bucket, name, rec.UploadID)
	}
	s.Delete(actx, target.ResumeKey(rec.Key))
}

// DropResume implements target.Resumer.
func (s *Store) DropResume(ctx context.Context, key string) error {
	name, err := s.object("drop resume record of", key)
	if err != nil {
		return err
	}
	rec, err := target.ReadResume(ctx, s, key)
	if errors.Is(err, target.ErrNotExist) {
		return nil
	}
	rec.Key = key
	s.dropRecord(ctx, name, rec)
	return nil
}

// first returns the number of parts already done (the next part is
// first+1) and the digest of r.sum's algorithm that has hashed them.
func (r *resumable) first() (int, hash.Hash) {
	if r.h == nil {
		r.h, _ = r.sum.NewHash() // checked by PutResumable
	}
	return len(r.rec.Parts), r.h
}

// done records part n (size bytes, etag), after which the body's SHA-256
// state is state, and writes the record when the parts done in order
// from the first grew.
func (r *resumable) done(n int, etag string, size int64, state []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.later[n] = donePart{target.ResumePart{Number: n, ETag: etag, Size: size}, state}
	grew := false
	for {
		d, ok := r.later[len(r.rec.Parts)+1]
		if !ok {
			break
		}
		delete(r.later, d.part.Number)
		r.rec.Parts = append(r.rec.Parts, d.part)
		r.rec.Offset += d.part.Size
		r.rec.State = d.state
		grew = true
	}
	if grew && r.rec.Offset < r.rec.Size {
		// Written even when the Put is being cancelled: the part is
		// stored. A failed write leaves the previous record, whose parts
		// are still held, so it stays good.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), abortTimeout)
		defer cancel()
		if target.WriteResume(ctx, recordStore{r.s}, r.rec) == nil {
			r.recorded = true
		}
	}
}

// kept reports whether a record of some parts is stored (the upload is
// worth keeping).
func (r *resumable) kept() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorded
}

// removeRecord deletes the record, if one was written, after the upload
// completed.
func (r *resumable) removeRecord() {
	if r.kept() {
		r.s.Delete(context.WithoutCancel(r.ctx), target.ResumeKey(r.rec.Key))
	}
}

// recordStore is the store through which a resumable upload writes its
// resume records. Their bodies (at most target's bound on a record, a
// few KiB for most uploads) are not counted in the memory budget: the
// upload writing one holds part buffers that may take the whole budget,
// and a write that waited for the budget would wait for itself.
type recordStore struct{ *Store }

// Put is a single PUT of the record, outside the memory budget.
func (w recordStore) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	name, err := w.object("put", key)
	if err != nil {
		return "", err
	}
	return w.putSingle(ctx, key, name, body, size, opts)
}
