package dirstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ssmirror/ssmirror/target"
)

var _ target.Resumer = (*Store)(nil)

// Checkpoint is how many bytes of a resumable Put are written between two
// updates of its resume record (each after an fsync of the temporary
// file). A Put that fails (rather than the process being killed) records
// exactly where it stopped.
var Checkpoint int64 = 8 << 20

// PutResumable implements target.Resumer. The body goes to the temporary
// file as Put writes it; the resume record (target.ResumeKey(key)) names
// that file, the bytes it holds (fsynced) and their digest state (of
// sum's algorithm). A resumed Put truncates the file to the recorded bytes
// and appends the rest.
func (s *Store) PutResumable(ctx context.Context, key string, size int64, sum target.Sum, opts target.PutOptions, open target.OpenFunc) (string, error) {
	p, err := s.file(key)
	if err != nil {
		return "", err
	}
	if _, herr := sum.NewHash(); size <= 0 || herr != nil || opts.IfAbsent || opts.IfMatch != "" {
		body, err := open(target.Resumed{})
		if err != nil {
			return "", err
		}
		return s.Put(ctx, key, body, size, opts)
	}
	rec, tmp, h := s.loadResume(ctx, key, p, size, sum)
	body, err := open(target.Resumed{Offset: rec.Offset, State: rec.State})
	if err != nil && rec.Offset > 0 && errors.Is(err, target.ErrStartOver) {
		tmp.Close()
		s.dropRecord(ctx, rec)
		tmp, h = nil, nil
		rec = target.NewResumeRecord(key, size, sum)
		body, err = open(target.Resumed{})
	}
	if err != nil {
		if tmp != nil {
			tmp.Close()
		}
		return "", err
	}
	var tag string
	err = s.putResumable(ctx, key, p, body, size, sum, opts, rec, tmp, h, &tag)
	return tag, err
}

// loadResume returns the record of key, its temporary file (opened, cut
// to the recorded bytes and positioned after them) and the digest of
// those bytes; or, when there is none or it does not match, a new record
// and nil (what it named is dropped).
func (s *Store) loadResume(ctx context.Context, key, p string, size int64, sum target.Sum) (target.ResumeRecord, *os.File, hash.Hash) {
	fresh := target.NewResumeRecord(key, size, sum)
	rec, err := target.ReadResume(ctx, s, key)
	if errors.Is(err, target.ErrNotExist) {
		return fresh, nil, nil
	}
	if err != nil {
		// Unreadable, or another key's: the file it names is not this
		// Put's to remove; only the record goes.
		s.Delete(context.WithoutCancel(ctx), target.ResumeKey(key))
		return fresh, nil, nil
	}
	drop := func() (target.ResumeRecord, *os.File, hash.Hash) {
		s.dropRecord(ctx, rec)
		return fresh, nil, nil
	}
	if !rec.Matches(size, sum) || !s.ownTemp(rec.Temp, p) {
		return drop()
	}
	h, err := sum.Restore(rec.State)
	if err != nil {
		return drop()
	}
	f, err := os.OpenFile(filepath.Join(s.root, filepath.FromSlash(rec.Temp)), os.O_RDWR, 0)
	if err != nil {
		return drop()
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() < rec.Offset ||
		f.Truncate(rec.Offset) != nil {
		f.Close()
		return drop()
	}
	if _, err := f.Seek(rec.Offset, io.SeekStart); err != nil {
		f.Close()
		return drop()
	}
	return rec, f, h
}

// ownTemp reports whether temp (relative to the root) names a temporary
// file of p, as Put creates them: beside it, named after it.
func (s *Store) ownTemp(temp, p string) bool {
	if temp == "" {
		return false
	}
	full := filepath.Join(s.root, filepath.FromSlash(temp))
	return filepath.Dir(full) == filepath.Dir(p) && strings.HasPrefix(filepath.Base(full), tempPrefix(filepath.Base(p)))
}

// dropRecord removes the temporary file rec names (if it is one) and the
// record.
func (s *Store) dropRecord(ctx context.Context, rec target.ResumeRecord) {
	if p, err := s.file(rec.Key); err == nil && s.ownTemp(rec.Temp, p) {
		os.Remove(filepath.Join(s.root, filepath.FromSlash(rec.Temp)))
	}
	s.Delete(context.WithoutCancel(ctx), target.ResumeKey(rec.Key))
}

// DropResume implements target.Resumer.
func (s *Store) DropResume(ctx context.Context, key string) error {
	if _, err := s.file(key); err != nil {
		return err
	}
	rec, err := target.ReadResume(ctx, s, key)
	if errors.Is(err, target.ErrNotExist) {
		return nil
	}
	if err != nil {
		rec = target.ResumeRecord{} // names no file of key's
	}
	rec.Key = key
	s.dropRecord(ctx, rec)
	return nil
}

// putResumable writes body (the bytes from rec.Offset on) to tmp (a new
// temporary file when nil), recording each checkpoint, and publishes the
// file once the whole body checked.
func (s *Store) putResumable(ctx context.Context, key, p string, body io.Reader, size int64, sum target.Sum, opts target.PutOptions,
	rec target.ResumeRecord, tmp *os.File, h hash.Hash, tag *string) (err error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("dirstore %s: put %s: "+format, append([]any{s.root, key}, args...)...)
	}
	if tmp == nil {
		dir, base := filepath.Split(p)
		if tmp, err = createTemp(dir, base); err != nil {
			if c := s.fileParent(key); c != "" {
				return fail("%s is an object, so it cannot also be a directory: %w", c, err)
			}
			return fail("%w", err)
		}
		rel, _ := filepath.Rel(s.root, tmp.Name())
		rec.Temp = filepath.ToSlash(rel)
		rec.Offset, rec.State = 0, nil
		h, _ = sum.NewHash() // checked by PutResumable
	}
	keep := false
	defer func() {
		// rec.Offset is set once a record is stored (or was loaded).
		if err == nil {
			if rec.Offset > 0 {
				s.Delete(context.WithoutCancel(ctx), target.ResumeKey(key))
			}
			return
		}
		tmp.Close()
		// A cancelled Put (the run interrupted) keeps nothing.
		if keep && rec.Offset > 0 && ctx.Err() == nil {
			return
		}
		s.dropRecord(ctx, rec)
		os.Remove(tmp.Name())
	}()
	// checkpoint makes the off bytes written durable and records them.
	checkpoint := func(off int64) {
		if off <= 0 || off >= size || tmp.Sync() != nil {
			return
		}
		next := rec
		next.Offset, next.State = off, target.DigestState(h)
		if target.WriteResume(context.WithoutCancel(ctx), s, next) == nil {
			rec = next
		}
	}
	r := target.ContextReader(ctx, body)
	buf := make([]byte, min(1<<20, size-rec.Offset))
	off := rec.Offset
	for next := off + Checkpoint; off < size; {
		n, rerr := r.Read(buf[:min(int64(len(buf)), size-off)])
		if n > 0 {
			if _, werr := tmp.Write(buf[:n]); werr != nil {
				keep = true // the last checkpoint still holds
				return fail("after %d of %d bytes: %w", off, size, werr)
			}
			h.Write(buf[:n])
			off += int64(n)
			if off >= next {
				checkpoint(off)
				next = off + Checkpoint
			}
		}
		switch {
		case rerr == io.EOF && off < size:
			keep = true
			checkpoint(off)
			return fail("body ended after %d of %d bytes: %w", off, size, io.ErrUnexpectedEOF)
		case rerr != nil && rerr != io.EOF:
			keep = true
			checkpoint(off)
			return fail("after %d of %d bytes: %w", off, size, rerr)
		}
	}
	if extra, err := target.MoreData(r); err != nil {
		return fail("after %d bytes: %w", size, err)
	} else if extra {
		return fail("body is longer than the declared %d bytes", size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum.Digest) {
		return fail("%w: body has %s %s, want %s", target.ErrChecksum, sum.Algo,
			hex.EncodeToString(got), hex.EncodeToString(sum.Digest))
	}
	return s.finish(tmp, p, key, opts, tag)
}
