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

	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// ErrNotExist means the requested file does not exist at the source.
var ErrNotExist = errors.New("not found")

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
// headers, no overall timeout (items can be large), at most 10 redirects.
func DefaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: tr}
}

// Fetch implements Fetcher.
func (h *HTTP) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	if err := catalog.ValidPath(p); err != nil {
		return nil, 0, err
	}
	u := h.Root.ResolveReference(&url.URL{Path: p})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	// Ask for the bytes as stored: sizes and checksums are of those.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := h.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %s: %w", redact(u), resp.Status, ErrNotExist)
	default:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %s", redact(u), resp.Status)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: unrequested Content-Encoding %q", redact(u), ce)
	}
	return resp.Body, resp.ContentLength, nil
}

// String implements Fetcher.
func (h *HTTP) String() string { return redact(h.Root) }

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
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
	if err := catalog.ValidPath(p); err != nil {
		return nil, 0, err
	}
	rc, obj, err := s.Store.Open(ctx, p)
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
