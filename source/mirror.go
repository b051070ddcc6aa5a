package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
)

// ErrNoKeyring means a signed source was given without a keyring and
// without NoVerify.
var ErrNoKeyring = errors.New("signed source needs a keyring")

// DefaultMaxMetadata bounds the size of one index or products document.
const DefaultMaxMetadata = 256 << 20

// DefaultMaxMetadataTotal bounds the bytes of all the documents (and
// detached signatures) of one mirror together: Read holds them all.
const DefaultMaxMetadataTotal = 1 << 30

// Options says how to read and verify a mirror's metadata.
type Options struct {
	Keyring     *gpg.Keyring // keys any of which may sign; required for .sjson unless NoVerify
	NoVerify    bool         // accept .sjson without checking signatures (still must be clearsigned)
	AllowSHA1   bool         // accept SHA-1 signature digests (some old streams)
	MaxMetadata int64        // bytes per document; 0 means DefaultMaxMetadata
	// Cache, when set, makes every index and products document a
	// conditional fetch on the validators it holds; a document that did
	// not change is read from the cache, and verified as if fetched.
	Cache MetadataCache
	// MaxMetadataTotal bounds the bytes of all documents together; 0
	// means DefaultMaxMetadataTotal.
	MaxMetadataTotal int64
}

// Mirror is the metadata of a mirror as read and verified.
type Mirror struct {
	Root      string // the fetcher's description of the mirror root
	StartPath string // streams/v1/index.sjson or .json
	Signed    bool   // metadata came from clearsigned .sjson files
	// Detached says every .json file was verified with its detached
	// X.json.gpg signature (a .json start with a keyring).
	Detached bool
	Index    *catalog.Index
	// Products holds the products documents the index points to, by
	// content id. Entries whose format is not products:1.0 are not read.
	Products map[string]*catalog.Products
	// Raw holds the exact bytes of every document read (signed or not), by
	// path, so they can be republished verbatim or compared.
	Raw map[string][]byte
	// Validators holds the validators of the documents read (those the
	// source sent, or those a not-modified answer confirmed), by path.
	Validators map[string]Validators
	// Unchanged lists the documents read from Options.Cache.
	Unchanged map[string]bool
}

// Read reads and verifies the index at start and every products document
// it names. When start ends in .sjson every document must be clearsigned
// and, unless opts.NoVerify, verify against opts.Keyring. When start ends
// in .json and a keyring is given, every document must have a detached
// signature (X.json.gpg) that verifies.
func Read(ctx context.Context, f Fetcher, start string, opts Options) (*Mirror, error) {
	m := &Mirror{
		Root:      f.String(),
		StartPath: start,
		Signed:    strings.HasSuffix(start, ".sjson"),
		Detached:  !strings.HasSuffix(start, ".sjson") && opts.Keyring != nil && !opts.NoVerify,
		Products:  map[string]*catalog.Products{},
		Raw:       map[string][]byte{},

		Validators: map[string]Validators{},
		Unchanged:  map[string]bool{},
	}
	if m.Signed && opts.Keyring == nil && !opts.NoVerify {
		return nil, fmt.Errorf("%s/%s: %w (give --keyring, or --no-verify)", m.Root, start, ErrNoKeyring)
	}
	r := reader{f: f, opts: opts, m: m}
	data, err := r.document(ctx, start)
	if err != nil {
		return nil, err
	}
	if m.Index, err = catalog.DecodeIndex(r.name(start), data); err != nil {
		return nil, err
	}

	type result struct {
		cid string
		doc *catalog.Products
		err error
	}
	var (
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 4)
		results = make(chan result, len(m.Index.Entries))
	)
	for cid, e := range m.Index.Entries {
		if e.Format() != catalog.FormatProducts {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			data, err := r.document(ctx, e.Path)
			if err != nil {
				results <- result{cid: cid, err: err}
				return
			}
			doc, err := catalog.DecodeProducts(r.name(e.Path), data)
			if err == nil && doc.ContentID() != cid {
				err = fmt.Errorf("%s: %w: content_id %q, but the index lists it as %q",
					r.name(e.Path), catalog.ErrInvalid, doc.ContentID(), cid)
			}
			results <- result{cid: cid, doc: doc, err: err}
		}()
	}
	wg.Wait()
	close(results)
	var errs []error
	for res := range results {
		if res.err != nil {
			errs = append(errs, res.err)
			continue
		}
		m.Products[res.cid] = res.doc
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

type reader struct {
	f    Fetcher
	opts Options
	m    *Mirror
	mu   sync.Mutex
	used int64 // bytes of the documents read so far (under mu)
}

func (r *reader) name(p string) string { return strings.TrimSuffix(r.m.Root, "/") + "/" + p }

// document fetches p, checks its signature when the mirror is signed, and
// returns the JSON payload.
func (r *reader) document(ctx context.Context, p string) ([]byte, error) {
	if r.m.Signed != strings.HasSuffix(p, ".sjson") {
		return nil, fmt.Errorf("%s: %w: a %s index may only point to %s files",
			r.name(p), catalog.ErrInvalid, map[bool]string{true: "signed", false: "unsigned"}[r.m.Signed],
			map[bool]string{true: ".sjson", false: ".json"}[r.m.Signed])
	}
	data, err := r.fetch(ctx, p)
	if err != nil {
		return nil, err
	}
	if r.m.Detached {
		if err := r.detached(ctx, p, data); err != nil {
			return nil, err
		}
	}
	if !r.m.Signed {
		return data, nil
	}
	var payload []byte
	if r.opts.NoVerify {
		payload, err = gpg.ExtractClearsigned(r.name(p), data)
	} else {
		payload, _, err = r.opts.Keyring.VerifyClearsigned(r.name(p), data, gpg.Options{AllowSHA1: r.opts.AllowSHA1})
	}
	if err != nil {
		r.mu.Lock()
		unchanged := r.m.Unchanged[p]
		r.mu.Unlock()
		if unchanged {
			return nil, fmt.Errorf("%w (read from the copy kept in the target: the upstream answered not modified)", err)
		}
		return nil, err
	}
	return payload, nil
}

// fetch reads the bytes of p: conditionally when the cache has validators
// for it, from the cache when they still hold, else from the source.
func (r *reader) fetch(ctx context.Context, p string) ([]byte, error) {
	var v Validators
	if r.opts.Cache != nil {
		v, _ = r.opts.Cache.Validators(p)
	}
	rc, size, got, err := fetchIfChanged(ctx, r.f, p, v)
	unchanged := false
	var data []byte
	switch {
	case errors.Is(err, ErrNotModified):
		if data, err = r.opts.Cache.Held(ctx, p); err == nil {
			// The same limits as for a download.
			if data, err = r.readAll(p, bytes.NewReader(data), int64(len(data))); err != nil {
				return nil, err
			}
			got, unchanged = v, true
			break
		}
		// The copy is unusable: fetch the file whole.
		rc, size, got, err = fetchIfChanged(ctx, r.f, p, Validators{})
		fallthrough
	default:
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if data, err = r.readAll(p, rc, size); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m.Raw[p] = data
	if !got.Zero() {
		r.m.Validators[p] = got
	}
	if unchanged {
		r.m.Unchanged[p] = true
	}
	return data, nil
}

// readAll reads a metadata file, refusing one larger than the limit.
func (r *reader) readAll(p string, rc io.Reader, size int64) ([]byte, error) {
	limit := r.opts.MaxMetadata
	if limit <= 0 {
		limit = DefaultMaxMetadata
	}
	total := r.opts.MaxMetadataTotal
	if total <= 0 {
		total = DefaultMaxMetadataTotal
	}
	r.mu.Lock()
	left := max(total-r.used, 0)
	r.mu.Unlock()
	// A known size (nothing is trusted: the limit still applies) saves
	// growing the buffer step by step through a large catalog.
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(min(size, limit, left)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(rc, min(limit, left)+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", r.name(p), err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", r.name(p), catalog.ErrInvalid, limit)
	}
	r.mu.Lock()
	r.used += int64(buf.Len())
	over := r.used > total
	r.mu.Unlock()
	if over {
		return nil, fmt.Errorf("%s: %w: the mirror's metadata comes to more than %d bytes in all", r.name(p), catalog.ErrInvalid, total)
	}
	return buf.Bytes(), nil
}

// detached verifies data, the content of p, with the signature p.gpg.
func (r *reader) detached(ctx context.Context, p string, data []byte) error {
	rc, size, err := r.f.Fetch(ctx, p+".gpg")
	if errors.Is(err, ErrNotExist) {
		return fmt.Errorf("%s: %w: no detached signature %s.gpg (a keyring was given for a .json start)",
			r.name(p), gpg.ErrVerification, p)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	sig, err := r.readAll(p+".gpg", rc, size)
	if err != nil {
		return err
	}
	_, err = r.opts.Keyring.VerifyDetached(r.name(p), data, sig, gpg.Options{AllowSHA1: r.opts.AllowSHA1})
	return err
}
