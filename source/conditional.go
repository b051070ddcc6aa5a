package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
)

// ErrNotModified is returned by a conditional fetch when the file still
// has the validators it was asked about (HTTP 304).
var ErrNotModified = errors.New("not modified")

// Validators identify a version of a file as an HTTP server does: its
// ETag and Last-Modified headers, as sent.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Zero reports whether v holds no validator.
func (v Validators) Zero() bool { return v == Validators{} }

// ConditionalFetcher is implemented by fetchers that can skip a file that
// has not changed since it was last fetched.
type ConditionalFetcher interface {
	Fetcher
	// FetchIfChanged opens path unless it still has the validators v:
	// then the error wraps ErrNotModified. It returns the validators of
	// what it opened (zero when the source sends none).
	FetchIfChanged(ctx context.Context, path string, v Validators) (rc io.ReadCloser, size int64, got Validators, err error)
}

// FetchIfChanged implements ConditionalFetcher with If-None-Match and
// If-Modified-Since.
func (h *HTTP) FetchIfChanged(ctx context.Context, p string, v Validators) (io.ReadCloser, int64, Validators, error) {
	var got Validators
	rc, size, err := h.get(ctx, p, func(req *http.Request) {
		if v.ETag != "" {
			req.Header.Set("If-None-Match", v.ETag)
		}
		if v.LastModified != "" {
			req.Header.Set("If-Modified-Since", v.LastModified)
		}
	}, func(u *url.URL, resp *http.Response) error {
		if resp.StatusCode == http.StatusNotModified {
			resp.Body.Close()
			return fmt.Errorf("GET %s: %w", redactURL(u), ErrNotModified)
		}
		got = Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
		return nil
	})
	return rc, size, got, err
}

// FetchIfChanged implements ConditionalFetcher: the first attempt is
// conditional, and retries of its body resume as usual.
func (r *retrying) FetchIfChanged(ctx context.Context, p string, v Validators) (io.ReadCloser, int64, Validators, error) {
	if _, ok := r.f.(ConditionalFetcher); !ok {
		rc, size, err := r.Fetch(ctx, p)
		return rc, size, Validators{}, err
	}
	b := &body{r: r, ctx: ctx, path: p, size: -1, cond: &v}
	if err := b.open(nil); err != nil {
		return nil, 0, Validators{}, err
	}
	return b, b.size, b.got, nil
}

// FetchIfChanged implements ConditionalFetcher.
func (f *limited) FetchIfChanged(ctx context.Context, p string, v Validators) (io.ReadCloser, int64, Validators, error) {
	rc, size, got, err := fetchIfChanged(ctx, f.f, p, v)
	if err != nil {
		return nil, 0, got, err
	}
	return limitedBody{f.l.Reader(ctx, rc), rc}, size, got, nil
}

// fetchIfChanged fetches p from f conditionally (with the validators of
// the answer) if f can, else plainly.
func fetchIfChanged(ctx context.Context, f Fetcher, p string, v Validators) (io.ReadCloser, int64, Validators, error) {
	if cf, ok := f.(ConditionalFetcher); ok {
		return cf.FetchIfChanged(ctx, p, v)
	}
	rc, size, err := f.Fetch(ctx, p)
	return rc, size, Validators{}, err
}

// MetadataCache holds the metadata files an earlier read fetched, with
// their validators, so that Read can fetch them conditionally. Its methods
// may be called from several goroutines at once.
type MetadataCache interface {
	// Validators returns the validators recorded for path.
	Validators(path string) (Validators, bool)
	// Held returns the bytes recorded with them; an error when they are
	// gone or are not the bytes recorded.
	Held(ctx context.Context, path string) ([]byte, error)
}

// Meter counts the requests a fetcher sends and the body bytes it reads.
type Meter struct {
	requests, bytes atomic.Int64
}

// Requests returns the number of requests sent (each try counts).
func (m *Meter) Requests() int64 { return m.requests.Load() }

// Bytes returns the number of body bytes read.
func (m *Meter) Bytes() int64 { return m.bytes.Load() }

// Fetcher returns f counted by m. It is a RangeFetcher and a
// ConditionalFetcher when f is.
func (m *Meter) Fetcher(f Fetcher) Fetcher {
	mf := metered{f: f, m: m}
	_, rng := f.(RangeFetcher)
	_, cond := f.(ConditionalFetcher)
	switch {
	case rng && cond:
		return meteredFull{mf}
	case rng:
		return meteredRange{mf}
	}
	return mf
}

type metered struct {
	f Fetcher
	m *Meter
}

func (f metered) String() string { return f.f.String() }

func (f metered) count(rc io.ReadCloser, err error) io.ReadCloser {
	f.m.requests.Add(1)
	if err != nil {
		return nil
	}
	return countingBody{rc, f.m}
}

func (f metered) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	rc, size, err := f.f.Fetch(ctx, p)
	return f.count(rc, err), size, err
}

type meteredRange struct{ metered }

func (f meteredRange) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	rc, total, err := f.f.(RangeFetcher).FetchRange(ctx, p, offset)
	return f.count(rc, err), total, err
}

type meteredFull struct{ metered }

func (f meteredFull) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	return meteredRange(f).FetchRange(ctx, p, offset)
}

func (f meteredFull) FetchIfChanged(ctx context.Context, p string, v Validators) (io.ReadCloser, int64, Validators, error) {
	rc, size, got, err := f.f.(ConditionalFetcher).FetchIfChanged(ctx, p, v)
	return f.count(rc, err), size, got, err
}

type countingBody struct {
	io.ReadCloser
	m *Meter
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.m.bytes.Add(int64(n))
	return n, err
}
