package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssmirror/ssmirror/source/catalog"
)

// DefaultBigItem is the size from which Failover reads an item from the
// source it measured fastest.
const DefaultBigItem = 32 << 20

// DefaultProbe is how many bytes of a big item Failover reads from a
// source it has not measured yet, to measure it.
const DefaultProbe = 1 << 20

// Failover fetches files from several mirrors of the same files (at the
// same relative paths). A file is read from the first source, or, when the
// caller gives its size (WithSize) and it is at least BigItem bytes, from
// the source measured fastest in this run. When one fails (after its own
// retries), the next is tried; a body that breaks goes on from the next
// mirror where it broke (a ranged read) when that one can. It does not
// check what it reads: callers verify items against the catalog, so any
// mirror is safe to use (metadata is read from the first source alone, not
// through a Failover).
//
// A source's rate is the body bytes it gave divided by the time spent
// waiting for them (opening each file and each read, not the time the
// caller took between reads), over every file read from it in this run.
// Before the first big item, a source with no measurement is measured on a
// ranged read of the first Probe bytes of that item.
type Failover struct {
	sources []Fetcher
	bytes   []atomic.Int64
	// Notify, if set, is told when a file is read from another source
	// than the first: the path, the source used and the errors that made
	// it necessary (nil when the source was chosen by its rate, or the
	// file is tried again after an earlier read of it).
	Notify func(path, source string, err error)
	// BigItem is the size from which a file is read from the fastest
	// source (DefaultBigItem when 0, never when negative); Probe the bytes
	// a probe reads (DefaultProbe when 0, no probes when negative).
	BigItem, Probe int64
	// Now is the clock of the measurements (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	last    map[string]int // by path: the source last read from (tried last next time)
	meas    []measure      // by source (under mu)
	probing sync.Mutex     // one round of probes at a time
}

// measure is what a source gave in this run: body bytes and the time
// spent waiting for them.
type measure struct {
	bytes int64
	wait  time.Duration
}

func (m measure) known() bool { return m.bytes > 0 }

// rate is bytes a second; a wait too short to measure counts as 1 µs.
func (m measure) rate() float64 { return float64(m.bytes) / max(m.wait, time.Microsecond).Seconds() }

// NewFailover returns a fetcher trying sources in order (at least one).
func NewFailover(sources ...Fetcher) *Failover {
	return &Failover{sources: sources, bytes: make([]atomic.Int64, len(sources)), last: map[string]int{},
		meas: make([]measure, len(sources))}
}

// String implements Fetcher: the first source.
func (f *Failover) String() string { return f.sources[0].String() }

// SourceBytes is how many body bytes were read from one source, and the
// rate measured.
type SourceBytes struct {
	Source string `json:"source"`
	Bytes  int64  `json:"bytes"`
	// Rate is the source's measured rate in bytes a second (0 when
	// nothing was read from it).
	Rate float64 `json:"rate,omitempty"`
}

// Bytes returns the body bytes read from each source, in order, with the
// rates measured.
func (f *Failover) Bytes() []SourceBytes {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]SourceBytes, len(f.sources))
	for i, s := range f.sources {
		out[i] = SourceBytes{Source: s.String(), Bytes: f.bytes[i].Load()}
		if m := f.meas[i]; m.known() {
			out[i].Rate = m.rate()
		}
	}
	return out
}

type sizeKey struct{}

// WithSize returns a context saying that the file fetched with it has
// size bytes (as the catalog says), so that a Failover can choose the
// source of a big item before opening it.
func WithSize(ctx context.Context, size int64) context.Context {
	return context.WithValue(ctx, sizeKey{}, size)
}

func sizeOf(ctx context.Context) (int64, bool) {
	n, ok := ctx.Value(sizeKey{}).(int64)
	return n, ok
}

func (f *Failover) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Failover) bigItem() int64 {
	if f.BigItem == 0 {
		return DefaultBigItem
	}
	return f.BigItem
}

// record adds n bytes waited for for d to source k's measurement.
func (f *Failover) record(k int, n int64, d time.Duration) {
	f.bytes[k].Add(n)
	f.mu.Lock()
	f.meas[k].bytes += n
	f.meas[k].wait += d
	f.mu.Unlock()
}

// order returns the sources to try for p, best first: for a big item the
// fastest first (after probing those not measured yet), else the given
// order; the source p was last read from goes last.
func (f *Failover) order(ctx context.Context, p string) []int {
	order := make([]int, len(f.sources))
	for i := range order {
		order[i] = i
	}
	if size, ok := sizeOf(ctx); ok && len(f.sources) > 1 && f.bigItem() > 0 && size >= f.bigItem() {
		f.probe(ctx, p)
		f.mu.Lock()
		rates := make([]float64, len(f.sources))
		for i, m := range f.meas {
			if m.known() {
				rates[i] = m.rate()
			}
		}
		f.mu.Unlock()
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case rates[a] > rates[b]:
				return -1
			case rates[a] < rates[b]:
				return 1
			}
			return 0
		})
	}
	f.mu.Lock()
	last, ok := f.last[p]
	f.mu.Unlock()
	if ok {
		i := slices.Index(order, last)
		order = append(order[i+1:], order[:i+1]...)
	}
	return order
}

// probe measures each source not measured yet on the first Probe bytes
// of p (a ranged read), one source after the other. A source that fails
// the probe stays unmeasured (and so last among the measured).
func (f *Failover) probe(ctx context.Context, p string) {
	n := f.Probe
	if n == 0 {
		n = DefaultProbe
	}
	if n < 0 {
		return
	}
	f.probing.Lock()
	defer f.probing.Unlock()
	for k, s := range f.sources {
		f.mu.Lock()
		known := f.meas[k].known()
		f.mu.Unlock()
		rf, ok := s.(RangeFetcher)
		if known || !ok || ctx.Err() != nil {
			continue
		}
		began := f.now()
		rc, _, err := rf.FetchRange(ctx, p, 0)
		if err != nil {
			continue
		}
		b := &timedBody{f: f, k: k, rc: rc, wait: f.now().Sub(began)}
		io.Copy(io.Discard, io.LimitReader(b, n))
		rc.Close()
		f.record(k, b.n, b.wait)
	}
}

// failsOver reports whether another source may do better after err.
func failsOver(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, catalog.ErrUnsafePath)
}

// Fetch implements Fetcher.
func (f *Failover) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	return f.open(ctx, p, 0)
}

// FetchRange implements RangeFetcher: the same choice of source and
// failover from offset on, each source read with its FetchRange (sources
// that have none are skipped).
func (f *Failover) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	return f.open(ctx, p, offset)
}

// open opens p at offset (0: a plain Fetch) from the first source of
// order that serves it.
func (f *Failover) open(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	order := f.order(ctx, p)
	var errs []error
	for _, k := range order {
		began := f.now()
		var (
			rc   io.ReadCloser
			size int64
			err  error
		)
		if offset == 0 {
			rc, size, err = f.sources[k].Fetch(ctx, p)
		} else if rf, ok := f.sources[k].(RangeFetcher); ok {
			rc, size, err = rf.FetchRange(ctx, p, offset)
		} else {
			err = fmt.Errorf("%s/%s: %w: the source cannot be read from an offset", f.sources[k], p, ErrNoResume)
		}
		if err == nil {
			if k != 0 && f.Notify != nil {
				f.Notify(p, f.sources[k].String(), errors.Join(errs...))
			}
			fb := &failoverBody{ctx: ctx, path: p, size: size, off: offset}
			fb.timedBody = timedBody{f: f, k: k, rc: rc, wait: f.now().Sub(began)}
			return fb, size, nil
		}
		if len(f.sources) == 1 || !failsOver(ctx, err) {
			return nil, 0, err
		}
		errs = append(errs, err)
	}
	return nil, 0, fmt.Errorf("every source failed: %w", errors.Join(errs...))
}

// timedBody reads source k's body, counting the bytes and the time spent
// waiting for them.
type timedBody struct {
	f    *Failover
	k    int
	rc   io.ReadCloser
	n    int64
	wait time.Duration
}

func (b *timedBody) Read(p []byte) (int, error) {
	began := b.f.now()
	n, err := b.rc.Read(p)
	b.wait += b.f.now().Sub(began)
	b.n += int64(n)
	return n, err
}

// flush adds what was read since the last flush to source k's account.
func (b *timedBody) flush() {
	if b.n > 0 || b.wait > 0 {
		b.f.record(b.k, b.n, b.wait)
	}
	b.n, b.wait = 0, 0
}

// failoverBody reads one source's body and, when it breaks, goes on from
// the next source that can read from the offset.
type failoverBody struct {
	timedBody // the source read from
	ctx       context.Context
	path      string
	size      int64
	off       int64
	failed    error // a read failure not yet handled (bytes came with it)
}

func (b *failoverBody) Read(p []byte) (int, error) {
	if err := b.failed; err != nil {
		b.failed = nil
		if !b.switchSource(err) {
			return 0, err
		}
	}
	n, err := b.timedBody.Read(p)
	b.off += int64(n)
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
		began := b.f.now()
		rc, total, err := rf.FetchRange(b.ctx, b.path, b.off)
		if err != nil {
			continue
		}
		if total != b.size {
			rc.Close()
			continue
		}
		b.rc.Close()
		b.flush()
		b.timedBody = timedBody{f: b.f, k: k, rc: rc, wait: b.f.now().Sub(began)}
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
	b.flush()
	if len(b.f.sources) > 1 {
		b.f.mu.Lock()
		b.f.last[b.path] = b.k
		b.f.mu.Unlock()
	}
	return b.rc.Close()
}
