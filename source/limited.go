package source

import (
	"context"
	"fmt"
	"io"

	"github.com/ssmirror/ssmirror/source/bwlimit"
)

// NewLimited returns a fetcher whose bodies l paces: every fetcher
// limited by the same l shares its rate. Put it over a Retrying fetcher,
// so that the time spent waiting for the limit is not taken for a stall
// or a slow upstream.
func NewLimited(f Fetcher, l *bwlimit.Limiter) Fetcher { return &limited{f: f, l: l} }

type limited struct {
	f Fetcher
	l *bwlimit.Limiter
}

// Fetch implements Fetcher.
func (f *limited) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	rc, size, err := f.f.Fetch(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	return limitedBody{f.l.Reader(ctx, rc), rc}, size, nil
}

// FetchRange implements RangeFetcher when the fetcher limited is one;
// otherwise it refuses with ErrNoResume.
func (f *limited) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	rf, ok := f.f.(RangeFetcher)
	if !ok {
		return nil, 0, fmt.Errorf("%s/%s: %w: the source cannot be read from an offset", f.f, p, ErrNoResume)
	}
	rc, size, err := rf.FetchRange(ctx, p, offset)
	if err != nil {
		return nil, 0, err
	}
	return limitedBody{f.l.Reader(ctx, rc), rc}, size, nil
}

// String implements Fetcher.
func (f *limited) String() string { return f.f.String() }

type limitedBody struct {
	io.Reader
	io.Closer
}
