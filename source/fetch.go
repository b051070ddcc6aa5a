// Package source reads a SimpleStreams mirror: it locates the start file,
// fetches the index and products documents over HTTP(S), from a directory
// or from an object store, verifies their signatures, decodes them with
// package catalog, and opens item files for streaming through a verifying
// reader.
//
// It does not decide what to mirror (package plan) or write anything
// (package target).
package source

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/internal/redact"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// ErrNotExist means the requested file does not exist at the source. It is
// target.ErrNotExist itself: one not-found error for sources and stores, so
// that a caller branches on either with one errors.Is.
var ErrNotExist = target.ErrNotExist

// Fetcher reads files of a mirror by their path relative to the mirror root.
type Fetcher interface {
	// Fetch opens path. size is the length of the content, or -1 when the
	// source does not say. A missing file gives an error wrapping
	// ErrNotExist. The caller closes the reader.
	Fetch(ctx context.Context, path string) (rc io.ReadCloser, size int64, err error)
	// String names the mirror root for messages (never with credentials).
	String() string
}

// DefaultStart is the start path used when a source names a mirror root.
const DefaultStart = "streams/v1/index.sjson"

var startRE = regexp.MustCompile(`(^|/)(streams/v1/[^/]+\.(sjson|json))$`)

// SplitStart splits a source location (URL or file path) into the mirror
// root and the start path: a location ending in streams/v1/NAME.sjson or
// .json names its start file; any other names the root, and the start is
// DefaultStart.
func SplitStart(loc string) (root, start string) {
	if m := startRE.FindStringSubmatchIndex(loc); m != nil {
		return loc[:m[4]], loc[m[4]:]
	}
	return loc, DefaultStart
}

// HTTP fetches from an http(s) mirror root.
type HTTP struct {
	Root   *url.URL
	Client *http.Client
}

// NewHTTP returns an HTTP fetcher for root using client (nil: a client with
// keep-alive and sane timeouts).
func NewHTTP(root string, client *http.Client) (*HTTP, error) {
	u, err := url.Parse(root)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("source %q: not an http(s) URL", root)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if client == nil {
		client = DefaultHTTPClient()
	}
	return &HTTP{Root: u, Client: client}, nil
}

// DefaultHTTPClient returns a client suitable for mirroring: pooled
// keep-alive connections, a bounded time to connect and to receive
// headers, no overall timeout (items can be large), at most 10 redirects,
// none from HTTPS to HTTP.
func DefaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = 60 * time.Second
	// Redirect policy (hostile-input hardening): stop at a loop, after
	// maxRedirects or at a redirect from HTTPS to plain HTTP, with an
	// error naming the URL.
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

// maxRedirects bounds the redirects one fetch follows.
const maxRedirects = 10

// checkRedirect is the http.Client redirect policy of DefaultHTTPClient.
func checkRedirect(req *http.Request, via []*http.Request) error {
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			return fmt.Errorf("redirect loop: %s redirects back to %s", redactURL(via[len(via)-1].URL), redactURL(req.URL))
		}
	}
	if prev := via[len(via)-1].URL; prev.Scheme == "https" && req.URL.Scheme != "https" {
		// What TLS protected (the bytes, a password in the URL) would
		// travel in the clear.
		return fmt.Errorf("refused a redirect from HTTPS to %s: %s redirects to %s", req.URL.Scheme, redactURL(prev), redactURL(req.URL))
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects (the last to %s)", len(via), redactURL(req.URL))
	}
	return nil
}

// Fetch implements Fetcher.
func (h *HTTP) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	return h.get(ctx, p, nil, nil)
}

// get sends a GET of p, prepared by prepare (if set); check (if set) sees
// the response first and may take it, returning an error (it then closes
// the body).
// getRequest is the GET of u, built as http.NewRequestWithContext builds
// it from u.String(), without printing and parsing the URL again for each
// item. It asks for the bytes as stored: sizes and checksums are of those.
func getRequest(ctx context.Context, u *url.URL) *http.Request {
	u.Host = strings.TrimSuffix(u.Host, ":") // an empty port, as NewRequest drops it
	return (&http.Request{
		Method: http.MethodGet, URL: u, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Accept-Encoding": {"identity"}},
	}).WithContext(ctx)
}

func (h *HTTP) get(ctx context.Context, p string, prepare func(*http.Request), check func(*url.URL, *http.Response) error) (io.ReadCloser, int64, error) {
	if err := catalog.ValidPath(p); err != nil {
		return nil, 0, err
	}
	u := h.Root.ResolveReference(&url.URL{Path: p})
	req := getRequest(ctx, u)
	if prepare != nil {
		prepare(req)
	}
	resp, err := h.do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", redactURL(u), err)
	}
	if check != nil {
		if err := check(u, resp); err != nil {
			return nil, 0, err
		}
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %s: %w", redactURL(u), resp.Status, ErrNotExist)
	default:
		// A *StatusError (retry.go), so that Classify can tell 5xx from 403.
		return nil, 0, newStatusError(u, resp, -1)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		// Content-Encoding handling (hostile-input hardening): a metadata
		// document sent gzipped anyway is decoded (it has no checksum; its
		// signature and the decoder check it, and the reader's size limit
		// applies to the decoded bytes). An item is refused: its size and
		// checksum are of the stored bytes, and decoding could not tell an
		// on-the-fly encoding from a .gz file served with the wrong header.
		if (ce == "gzip" || ce == "x-gzip") && metadataPath(p) {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				resp.Body.Close()
				return nil, 0, fmt.Errorf("GET %s: Content-Encoding %s: %w", redactURL(u), ce, err)
			}
			return gzipBody{zr, resp.Body}, -1, nil
		}
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: unrequested Content-Encoding %q refused (sizes and checksums are of the stored bytes; only gzip metadata is decoded)", redactURL(u), ce)
	}
	return resp.Body, resp.ContentLength, nil
}

// metadataPath reports whether p names a metadata document (index,
// products or detached signature) rather than an item.
func metadataPath(p string) bool {
	return strings.HasPrefix(p, "streams/") &&
		(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".sjson") || strings.HasSuffix(p, ".json.gpg"))
}

// gzipBody reads a decoded body and closes the response.
type gzipBody struct {
	*gzip.Reader
	body io.Closer
}

func (g gzipBody) Close() error { return g.body.Close() }

// String implements Fetcher.
func (h *HTTP) String() string { return redactURL(h.Root) }

// redactURL names u for messages: its password and credential query
// parameters masked (see package redact).
func redactURL(u *url.URL) string { return redact.URL(u.String()) }

// do sends req. Its error names the URL of the request that failed (a
// redirect's target among them) redacted, so that no message shows a
// password or a signed URL's token.
func (h *HTTP) do(req *http.Request) (*http.Response, error) {
	resp, err := h.Client.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redact.URL(ue.URL)
	}
	return resp, err
}

// Dir fetches from a mirror in a local directory.
type Dir struct{ Root string }

// Fetch implements Fetcher.
func (d Dir) Fetch(_ context.Context, p string) (io.ReadCloser, int64, error) {
	if err := catalog.ValidPath(p); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(filepath.Join(d.Root, filepath.FromSlash(p)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s: %w", filepath.Join(d.Root, p), ErrNotExist)
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", f.Name())
	}
	return f, st.Size(), nil
}

// String implements Fetcher.
func (d Dir) String() string { return d.Root }

// Store fetches from a mirror published in a target store (a mirror can
// feed another).
type Store struct{ Store target.Store }

// Fetch implements Fetcher.
func (s Store) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	return s.fetch(ctx, p, 0)
}

// FetchRange implements RangeFetcher when the store can open an object
// part way through (target.RangeOpener); otherwise it refuses with
// ErrNoResume.
func (s Store) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	if _, ok := s.Store.(target.RangeOpener); !ok {
		return nil, 0, fmt.Errorf("%s/%s: %w: the store cannot open an object at an offset", s.Store, p, ErrNoResume)
	}
	return s.fetch(ctx, p, offset)
}

func (s Store) fetch(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	if err := catalog.ValidPath(p); err != nil {
		return nil, 0, err
	}
	var (
		rc  io.ReadCloser
		obj target.Object
		err error
	)
	if offset == 0 {
		rc, obj, err = s.Store.Open(ctx, p)
	} else {
		rc, obj, err = s.Store.(target.RangeOpener).OpenAt(ctx, p, offset)
	}
	if errors.Is(err, target.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s/%s: %w", s.Store, p, ErrNotExist)
	}
	if err != nil {
		return nil, 0, err
	}
	return rc, obj.Size, nil
}

// String implements Fetcher.
func (s Store) String() string { return s.Store.String() }

// ReadStored reads a metadata object of dst, refusing one larger than
// DefaultMaxMetadata. A missing key gives the store's error (wrapping
// target.ErrNotExist).
func ReadStored(ctx context.Context, dst target.Store, key string) ([]byte, error) {
	rc, _, err := dst.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, DefaultMaxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", dst, key, err)
	}
	if len(data) > DefaultMaxMetadata {
		return nil, fmt.Errorf("%s/%s: %w: larger than %d bytes", dst, key, catalog.ErrInvalid, DefaultMaxMetadata)
	}
	return data, nil
}
