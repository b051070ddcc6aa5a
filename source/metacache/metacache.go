// Package metacache keeps, in a target, the upstream metadata files a run
// read and their HTTP validators (ETag, Last-Modified), so that the next
// run fetches them conditionally: a file the upstream answers "not
// modified" is read from the copy kept here instead, checked against the
// SHA-256 recorded with it, and verified (signature included) as if it had
// been fetched (package source does that).
//
// The record and the copies live under .ssmirror/ (Key, Dir), outside what
// the mirror serves. A file the mirror publishes byte for byte at the same
// path (the upstream's signed files, with --signed-metadata upstream) is
// not copied: the published file is the copy.
package metacache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"

	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// Key is the record of the kept files; Dir holds the copies, at their
// upstream paths.
const (
	Key = ".ssmirror/upstream.json"
	Dir = ".ssmirror/upstream/"
)

// ErrStale is wrapped by Held when the copy is gone or is not the bytes
// recorded.
var ErrStale = errors.New("kept copy unusable")

// Entry is what is recorded of one file.
type Entry struct {
	source.Validators
	SHA256 string `json:"sha256"` // of the kept copy
	// Published says the copy is the file the target publishes at the
	// same path, not one under Dir.
	Published bool `json:"published,omitempty"`
}

// at is the key of the copy of p that e describes.
func (e Entry) at(p string) string {
	if e.Published {
		return p
	}
	return Dir + p
}

type record struct {
	Version int              `json:"version"`
	Files   map[string]Entry `json:"files"`
}

// Cache is the record read from a target. It implements
// source.MetadataCache.
type Cache struct {
	dst   target.Store
	files map[string]Entry
	// Err says why the record was unusable (then it starts empty); nil
	// when it was read or absent.
	Err error
}

// Load reads the record of dst. A missing record is an empty cache; an
// unreadable or corrupt one too, with Cache.Err set. Only a failure to
// reach dst is an error.
func Load(ctx context.Context, dst target.Store) (*Cache, error) {
	c := &Cache{dst: dst, files: map[string]Entry{}}
	data, err := source.ReadStored(ctx, dst, Key)
	switch {
	case errors.Is(err, target.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil || rec.Version != 1 {
		c.Err = fmt.Errorf("%s/%s: not a version 1 record (%v): metadata is fetched whole", dst, Key, err)
		return c, nil
	}
	for p, e := range rec.Files {
		if catalog.ValidPath(p) == nil && len(e.SHA256) == 2*sha256.Size {
			c.files[p] = e
		}
	}
	return c, nil
}

// Validators implements source.MetadataCache.
func (c *Cache) Validators(p string) (source.Validators, bool) {
	e, ok := c.files[p]
	return e.Validators, ok && !e.Validators.Zero()
}

// Held implements source.MetadataCache: the kept copy of p, if it is the
// bytes recorded.
func (c *Cache) Held(ctx context.Context, p string) ([]byte, error) {
	e, ok := c.files[p]
	if !ok {
		return nil, fmt.Errorf("%s: %w: not recorded", p, ErrStale)
	}
	data, err := source.ReadStored(ctx, c.dst, e.at(p))
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w: %w", c.dst, e.at(p), ErrStale, err)
	}
	if sum(data) != e.SHA256 {
		return nil, fmt.Errorf("%s/%s: %w: not the bytes recorded", c.dst, e.at(p), ErrStale)
	}
	return data, nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Save records what m read. held, if set, returns the bytes the target
// publishes at a path (nil when none): a file published byte for byte is
// its own copy; the others are copied under Dir when they were fetched
// (not read from their copy). Then the record is written if it changed,
// then the copies no longer needed are deleted. Files the upstream sent
// without validators are not kept. A run killed part way leaves copies
// that the record does not name or names with another digest: they are
// not used, and a later Save replaces or deletes them. A published copy
// that the target later replaces or deletes is noticed the same way (its
// digest), and the file is fetched whole.
func (c *Cache) Save(ctx context.Context, m *source.Mirror, held func(path string) []byte) error {
	next := map[string]Entry{}
	for p, v := range m.Validators {
		raw, ok := m.Raw[p]
		if !ok || v.Zero() {
			continue
		}
		e := Entry{Validators: v, SHA256: sum(raw)}
		if held != nil {
			e.Published = bytes.Equal(held(p), raw)
		}
		next[p] = e
	}
	paths := make([]string, 0, len(next))
	for p := range next {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		prev, had := c.files[p]
		switch {
		case next[p].Published:
			continue
		case m.Unchanged[p] && had && !prev.Published:
			continue // read from its copy: that is in place
		}
		if err := put(ctx, c.dst, Dir+p, m.Raw[p]); err != nil {
			return err
		}
	}
	if !maps.Equal(c.files, next) {
		body, err := json.MarshalIndent(record{Version: 1, Files: next}, "", " ")
		if err != nil {
			return err
		}
		if err := put(ctx, c.dst, Key, append(body, '\n')); err != nil {
			return err
		}
	}
	for p, prev := range c.files {
		if e, ok := next[p]; prev.Published || ok && !e.Published {
			continue
		}
		if err := c.dst.Delete(ctx, Dir+p); err != nil {
			return fmt.Errorf("delete %s/%s%s: %w", c.dst, Dir, p, err)
		}
	}
	c.files = next
	return nil
}

func put(ctx context.Context, dst target.Store, key string, body []byte) error {
	s := sha256.Sum256(body)
	if _, err := dst.Put(ctx, key, bytes.NewReader(body), int64(len(body)), target.PutOptions{ContentType: "application/json", SHA256: s[:]}); err != nil {
		return fmt.Errorf("write %s/%s: %w", dst, key, err)
	}
	return nil
}
