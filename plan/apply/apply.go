// Package apply executes a plan: it streams every planned transfer from the
// source into the target through a verifying reader, concurrently, then
// publishes the metadata in order (products files, then the index), then
// deletes what left the mirror. When a transfer overwrites a path the
// published metadata names, the plan's retraction is published first. When
// some transfers fail it publishes only
// the products that are complete, keeps the previously published state of
// the others and deletes nothing.
//
// It decides nothing itself: what to do comes from package plan.
package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// Errors callers branch on.
var (
	// ErrPartial is returned (joined with the failures) when some
	// transfers failed and the index did not advance for the products
	// that need them.
	ErrPartial = errors.New("some items were not mirrored")
	// ErrConcurrent means another publisher replaced the index during
	// the run.
	ErrConcurrent = errors.New("concurrent publisher")
)

// Default serving headers: items are immutable, so caches may keep them
// for a year; index and products files change, so only for a minute.
const (
	ItemCacheControl     = "public, max-age=31536000, immutable"
	MetadataCacheControl = "public, max-age=60"
)

// Options tunes execution.
type Options struct {
	Transfers int      // concurrent transfers; <1 means 1
	Report    Reporter // nil reports nothing
	Signer    Signer   // clearsigns metadata the plan marks Sign; required if any is
	// Retry says how often a whole item is tried again after a transient
	// failure (the source's own retries resume within an attempt) or a
	// checksum mismatch, and how long to wait in between.
	Retry source.RetryPolicy
	// Cache-Control headers; empty means ItemCacheControl and
	// MetadataCacheControl.
	ItemCacheControl, MetadataCacheControl string
}

// Signer clearsigns a payload (gpg.SigningKey is one).
type Signer interface {
	ClearSign(payload []byte) ([]byte, error)
}

// Reporter is told about progress. Calls may come from several goroutines
// at once.
type Reporter interface {
	// TransferStarted is called when a transfer begins; the returned
	// function (may be nil) is called with the number of bytes each time
	// some are read from upstream.
	TransferStarted(t plan.Transfer) (progress func(n int64))
	TransferDone(t plan.Transfer, err error, d time.Duration)
	// TransferAdopted is called instead of the others for an object an
	// earlier run stored whole (plan.Transfer.Adopt), which is kept.
	TransferAdopted(t plan.Transfer)
	Published(m plan.Meta, err error)
	Deleted(d plan.Delete, err error)
}

// Failure is one transfer that did not succeed.
type Failure struct {
	Path string
	Err  error
}

// Result says what a run did.
type Result struct {
	Transferred      int
	TransferredBytes int64
	Adopted          int // present objects kept after checking their recorded checksum
	Failed           []Failure
	Published        int
	IndexPublished   bool // an index file (index.json or the signed index) was written
	Deleted          int
	DeleteErrors     int
}

// Run executes p, reading items from src and writing to dst. On success the
// error is nil; when transfers failed it wraps ErrPartial (and each
// failure's error); when ctx is cancelled it returns ctx's error and
// publishes nothing.
func Run(ctx context.Context, p *plan.Plan, src source.Fetcher, dst target.Store, opts Options) (*Result, error) {
	if opts.Report == nil {
		opts.Report = nopReporter{}
	}
	if opts.ItemCacheControl == "" {
		opts.ItemCacheControl = ItemCacheControl
	}
	if opts.MetadataCacheControl == "" {
		opts.MetadataCacheControl = MetadataCacheControl
	}
	res := &Result{}
	// The ETags this run wrote: a conditional write of a key this run
	// already replaced (the index after the retraction) names its own.
	etags := map[string]string{}
	if err := publish(ctx, p.Retract, dst, opts, res, etags); err != nil {
		return res, err
	}
	failed := transferAll(ctx, p.Transfers, src, dst, opts, res)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if p.StaleResumes {
		// What cut-off transfers of items that left the catalog kept is
		// not needed any more (a failure here only leaves it to gc).
		want := map[string]bool{}
		for _, t := range p.Transfers {
			want[t.Path] = true
		}
		target.DropResumes(ctx, dst, func(rec target.ResumeRecord, _ target.Object) bool { return !want[rec.Key] })
	}
	if len(failed) > 0 {
		paths := map[string]bool{}
		errs := []error{ErrPartial}
		for _, f := range failed {
			paths[f.Path] = true
			errs = append(errs, f.Err)
		}
		q, err := p.Without(paths)
		if err != nil {
			return res, err
		}
		if err := publish(ctx, q.Publish, dst, opts, res, etags); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		return res, errors.Join(errs...)
	}
	if err := publish(ctx, p.Publish, dst, opts, res, etags); err != nil {
		return res, err
	}
	for _, d := range p.Deletes {
		err := dst.Delete(ctx, d.Path)
		opts.Report.Deleted(d, err)
		if err != nil {
			// The mirror is consistent without this delete; the object
			// stays unreferenced until a later run removes it.
			res.DeleteErrors++
			continue
		}
		res.Deleted++
	}
	return res, nil
}

func transferAll(ctx context.Context, ts []plan.Transfer, src source.Fetcher, dst target.Store, opts Options, res *Result) []Failure {
	n := max(opts.Transfers, 1)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		jobs = make(chan plan.Transfer)
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				if t.Adopt && adoptable(ctx, t, dst) {
					opts.Report.TransferAdopted(t)
					mu.Lock()
					res.Adopted++
					mu.Unlock()
					continue
				}
				start := time.Now()
				err := transferRetrying(ctx, t, src, dst, opts)
				if ctx.Err() != nil {
					continue // interrupted: not this item's fault
				}
				opts.Report.TransferDone(t, err, time.Since(start))
				mu.Lock()
				if err != nil {
					res.Failed = append(res.Failed, Failure{Path: t.Path, Err: err})
				} else {
					res.Transferred++
					res.TransferredBytes += t.Size
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, t := range ts {
		select {
		case jobs <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return res.Failed
}

// transferRetrying runs transfer until it succeeds, fails for good, or
// has been tried opts.Retry.Attempts times. A checksum mismatch is tried
// again too (a proxy or cache may have served bad bytes once); each try
// streams the whole item again, and the store never keeps a bad one.
func transferRetrying(ctx context.Context, t plan.Transfer, src source.Fetcher, dst target.Store, opts Options) error {
	attempts := max(opts.Retry.Attempts, 1)
	for n := 1; ; n++ {
		err := transfer(ctx, t, src, dst, opts.ItemCacheControl, opts.Report.TransferStarted(t))
		if err == nil || ctx.Err() != nil || n >= attempts ||
			!(source.Classify(err) || errors.Is(err, source.ErrIntegrity)) {
			return err
		}
		wait := opts.Retry.Delay(n, err)
		if opts.Retry.Notify != nil {
			opts.Retry.Notify(t.Path, n+1, wait, err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// transfer streams one object from src into dst, verified as it streams.
// When the store keeps what a cut-off Put stored (target.Resumer), it
// fetches only the rest, with a ranged read, and checks the whole item's
// checksum (resumeSum) from the kept state on; bytes that fail the check
// are not kept.
func transfer(ctx context.Context, t plan.Transfer, src source.Fetcher, dst target.Store, cacheControl string, progress func(int64)) error {
	name := strings.TrimSuffix(src.String(), "/") + "/" + t.Path
	opt := target.PutOptions{ContentType: "application/octet-stream", CacheControl: cacheControl}
	if t.SHA256 != "" {
		// The store checks it, and remembers it for adoptable.
		var err error
		if opt.SHA256, err = hex.DecodeString(t.SHA256); err != nil {
			return fmt.Errorf("%s: bad sha256 %q", name, t.SHA256)
		}
	} else {
		// A catalog without SHA-256: record the digest that was checked.
		opt.Meta = map[string]string{metaPrefix + t.Sum.Algo: t.Sum.Hex}
	}
	var (
		rc      io.ReadCloser
		body    *source.VerifyingReader
		openErr error
	)
	defer func() {
		if rc != nil {
			rc.Close()
		}
	}()
	open := func(from target.Resumed) (io.Reader, error) {
		if rc != nil {
			rc.Close()
			rc = nil
		}
		rc, body, openErr = openItem(ctx, t, src, name, from)
		if openErr != nil {
			return nil, openErr
		}
		if progress != nil {
			return progressReader{body, progress}, nil
		}
		return body, nil
	}
	sum, err := resumeSum(t)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := target.PutResumable(ctx, dst, t.Path, t.Size, sum, opt, open); err != nil {
		if body != nil && errors.Is(body.Err(), source.ErrIntegrity) {
			// What was kept may be the bad bytes: the next try starts
			// from byte 0.
			if derr := target.DropResume(ctx, dst, t.Path); derr != nil {
				return errors.Join(body.Err(), derr)
			}
		}
		if err == openErr {
			return err
		}
		// Prefer the reader's diagnosis (it names the upstream file and
		// the cause) over the store's view of the same failure.
		if body != nil {
			if rerr := body.Err(); rerr != nil {
				return rerr
			}
		}
		return fmt.Errorf("%s: %w", t.Path, err)
	}
	return nil
}

// resumeSum is the checksum a resumable Put of t checks and keys its
// resume record on: the item's SHA-256 when the catalog gives one (the
// store checks and records it), else its strongest checksum.
func resumeSum(t plan.Transfer) (target.Sum, error) {
	c := t.Sum
	if t.SHA256 != "" {
		c = catalog.Checksum{Algo: "sha256", Hex: t.SHA256}
	}
	d, err := hex.DecodeString(c.Hex)
	if err != nil {
		return target.Sum{}, fmt.Errorf("bad %s %q", c.Algo, c.Hex)
	}
	return target.Sum{Algo: c.Algo, Digest: d}, nil
}

// openItem opens t at src from from.Offset on (a ranged read), and
// returns it through a reader that verifies the whole item: from 0
// against t.Sum, else against resumeSum(t) from the state from.State
// holds.
func openItem(ctx context.Context, t plan.Transfer, src source.Fetcher, name string, from target.Resumed) (io.ReadCloser, *source.VerifyingReader, error) {
	var (
		rc   io.ReadCloser
		size int64
		err  error
		body *source.VerifyingReader
	)
	// The size lets a source with --mirror choose where a big item comes
	// from.
	ctx = source.WithSize(ctx, t.Size)
	if from.Offset == 0 {
		if rc, size, err = src.Fetch(ctx, t.Path); err != nil {
			return nil, nil, err
		}
		body = source.NewVerifyingReader(rc, name, t.Size, t.Sum)
	} else {
		rf, ok := src.(source.RangeFetcher)
		if !ok {
			return nil, nil, fmt.Errorf("%s: %w: the source cannot be read from an offset", name, target.ErrStartOver)
		}
		sum, err := resumeSum(t)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		h, err := sum.Restore(from.State)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w: %w", name, target.ErrStartOver, err)
		}
		if rc, size, err = rf.FetchRange(ctx, t.Path, from.Offset); err != nil {
			if errors.Is(err, source.ErrNoResume) {
				return nil, nil, fmt.Errorf("%w: %w", target.ErrStartOver, err)
			}
			return nil, nil, err
		}
		body = source.NewResumedVerifyingReader(rc, name, t.Size, catalog.Checksum{Algo: sum.Algo, Hex: hex.EncodeToString(sum.Digest)}, from.Offset, h)
	}
	if size >= 0 && size != t.Size {
		rc.Close()
		return nil, nil, fmt.Errorf("%s: %w: upstream sends %d bytes, catalog says %d", name, source.ErrIntegrity, size, t.Size)
	}
	return rc, body, nil
}

// metaPrefix names the object metadata that records the checksum an item
// was verified against when it was stored, for catalogs without SHA-256.
const metaPrefix = "ssmirror-"

// adoptable reports whether the object at t.Path was stored whole by an
// earlier run: right size, and stored after verifying the expected
// checksum (the SHA-256 the store remembers, or the recorded digest).
func adoptable(ctx context.Context, t plan.Transfer, dst target.Store) bool {
	obj, err := dst.Stat(ctx, t.Path)
	if err != nil || obj.Size != t.Size {
		return false
	}
	if t.SHA256 != "" {
		return obj.SHA256 == t.SHA256
	}
	return obj.Meta[metaPrefix+t.Sum.Algo] == t.Sum.Hex
}

// publish writes metadata files in order, stopping at the first failure so
// that an index is never written before the products files it names. A
// conditional write of a key that this run wrote before is made on the
// ETag it wrote (etags, which publish updates).
func publish(ctx context.Context, ms []plan.Meta, dst target.Store, opts Options, res *Result, etags map[string]string) error {
	for _, m := range ms {
		if m.Sign {
			if opts.Signer == nil {
				return fmt.Errorf("publish %s: no signing key", m.Key)
			}
			signed, err := opts.Signer.ClearSign(m.Body)
			if err != nil {
				return fmt.Errorf("publish %s: %w", m.Key, err)
			}
			m.Body = signed
		}
		sum := sha256.Sum256(m.Body)
		opt := target.PutOptions{ContentType: "application/json", CacheControl: opts.MetadataCacheControl, SHA256: sum[:],
			IfMatch: m.IfMatch, IfAbsent: m.IfAbsent}
		if etag, ok := etags[m.Key]; ok && (opt.IfMatch != "" || opt.IfAbsent) {
			opt.IfMatch, opt.IfAbsent = etag, false
		}
		switch {
		case strings.HasSuffix(m.Key, ".sjson"), strings.HasSuffix(m.Key, ".asc"):
			opt.ContentType = "text/plain; charset=utf-8"
		case strings.HasSuffix(m.Key, ".gpg"):
			opt.ContentType = "application/pgp-keys"
		case strings.HasSuffix(m.Key, ".html"):
			opt.ContentType = "text/html; charset=utf-8"
		}
		etag, err := dst.Put(ctx, m.Key, bytes.NewReader(m.Body), int64(len(m.Body)), opt)
		opts.Report.Published(m, err)
		if errors.Is(err, target.ErrPrecondition) {
			return fmt.Errorf("publish %s: %w: another publisher changed it during this run; nothing of this run's index was published, run again", m.Key, ErrConcurrent)
		}
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.Key, err)
		}
		res.Published++
		etags[m.Key] = etag
		if m.Index {
			res.IndexPublished = true
		}
	}
	return nil
}

// progressReader reports the bytes read through it.
type progressReader struct {
	r  io.Reader
	fn func(int64)
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.fn(int64(n))
	}
	return n, err
}

type nopReporter struct{}

func (nopReporter) TransferStarted(plan.Transfer) func(int64)        { return nil }
func (nopReporter) TransferDone(plan.Transfer, error, time.Duration) {}
func (nopReporter) TransferAdopted(plan.Transfer)                    {}
func (nopReporter) Published(plan.Meta, error)                       {}
func (nopReporter) Deleted(plan.Delete, error)                       {}
