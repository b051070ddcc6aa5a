package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/ssmirror/ssmirror/source/catalog"
)

// Failover fetches files from the first of several mirrors of the same
// files (at the same relative paths) that serves them: when one fails
// (after its own retries), the next is tried; a body that breaks goes on
// from the next mirror where it broke (a ranged read) when that one can.
// It does not check what it reads: callers verify items against the
// catalog, so any mirror is safe to use.
type Failover struct {
	sources []Fetcher
	bytes   []atomic.Int64
	// Notify, if set, is told when a file is read from another source
	// than the first: the path, the source used and the errors that made
	// it necessary (nil when the file is tried again after an earlier
	// read of it).
	Notify func(path, source string, err error)

	mu    sync.Mutex
	first map[string]int // by path: the source to try first (one that failed goes last)
}

// NewFailover returns a fetcher trying sources in order (at least one).
func NewFailover(sources ...Fetcher) *Failover {
	return &Failover{sources: sources, bytes: make([]atomic.Int64, len(sources)), first: map[string]int{}}
}

// String implements Fetcher: the first source.
func (f *Failover) String() string { return f.sources[0].String() }

// SourceBytes is how many body bytes were read from one source.
type SourceBytes struct {
	Source string `json:"source"`
	Bytes  int64  `json:"bytes"`
}

// Bytes returns the body bytes read from each source, in order.
func (f *Failover) Bytes() []SourceBytes {
	out := make([]SourceBytes, len(f.sources))
	for i, s := range f.sources {
		out[i] = SourceBytes{Source: s.String(), Bytes: f.bytes[i].Load()}
	}
	return out
}

// failsOver reports whether another source may do better after err.
func failsOver(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, catalog.ErrUnsafePath)
}

// Fetch implements Fetcher.
func (f *Failover) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	f.mu.Lock()
	start := f.first[p]
	f.mu.Unlock()
	var errs []error
	for i := range f.sources {
		k := (start + i) % len(f.sources)
		rc, size, err := f.sources[k].Fetch(ctx, p)
		if err == nil {
			if k != 0 && f.Notify != nil {
				f.Notify(p, f.sources[k].String(), errors.Join(errs...))
			}
			return &failoverBody{f: f, ctx: ctx, path: p, k: k, rc: rc, size: size}, size, nil
		}
		if len(f.sources) == 1 || !failsOver(ctx, err) {
			return nil, 0, err
		}
		errs = append(errs, err)
	}
	return nil, 0, fmt.Errorf("every source failed: %w", errors.Join(errs...))
}

// failoverBody reads one source's body and, when it breaks, goes on from
// the next source that can read from the offset.
type failoverBody struct {
	f      *Failover
	ctx    context.Context
	path   string
	k      int // the source read from
	rc     io.ReadCloser
	size   int64
	off    int64
	failed error // a read failure not yet handled (bytes came with it)
}

func (b *failoverBody) Read(p []byte) (int, error) {
	if err := b.failed; err != nil {
		b.failed = nil
		if !b.switchSource(err) {
			return 0, err
		}
	}
	n, err := b.rc.Read(p)
	b.off += int64(n)
	b.f.bytes[b.k].Add(int64(n))
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		return n, err
	case n > 0:
		b.failed = err
		return n, nil
	case b.switchSource(err):
		return 0, nil
	}
	return 0, err
}

// switchSource opens the next sources in turn at the current offset and
// reports whether one took over.
func (b *failoverBody) switchSource(cause error) bool {
	if len(b.f.sources) == 1 || !failsOver(b.ctx, cause) || b.size < 0 {
		return false
	}
	for i := 1; i < len(b.f.sources); i++ {
		k := (b.k + i) % len(b.f.sources)
		rf, ok := b.f.sources[k].(RangeFetcher)
		if !ok {
			continue
		}
		rc, total, err := rf.FetchRange(b.ctx, b.path, b.off)
		if err != nil {
			continue
		}
		if total != b.size {
			rc.Close()
			continue
		}
		b.rc.Close()
		b.rc, b.k = rc, k
		if b.f.Notify != nil {
			b.f.Notify(b.path, b.f.sources[k].String(), fmt.Errorf("at byte %d: %w", b.off, cause))
		}
		return true
	}
	return false
}

// Close implements io.Closer. The source read from becomes the last one
// tried for the path next time: a file is fetched again only when it
// failed (the caller may have found its bytes wrong, which this reader
// cannot see), so the next try goes to the next source.
func (b *failoverBody) Close() error {
	if len(b.f.sources) > 1 {
		b.f.mu.Lock()
		b.f.first[b.path] = (b.k + 1) % len(b.f.sources)
		b.f.mu.Unlock()
	}
	return b.rc.Close()
}
