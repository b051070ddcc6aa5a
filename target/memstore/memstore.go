// Package memstore implements target.Store in memory, for tests that
// need a store without a file system or a server: planner and executor
// tests, and library callers that drive a whole run quickly.
//
// It honours the whole Store contract (atomic Puts verified against
// PutOptions.SHA256, conditional writes, metadata, lexical listing) and
// the optional target.RangeOpener and target.RangeLister, and passes
// target/storetest like the other stores. It is not for real mirrors:
// nothing survives the process.
package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ssmirror/ssmirror/target"
)

// Store is an in-memory target.Store. The zero value is not usable; call
// New. It is safe for concurrent use.
type Store struct {
	name string

	mu      sync.Mutex
	objects map[string]object
	gen     uint64 // counts Puts; each new object's ETag names it
}

type object struct {
	data []byte
	obj  target.Object // Key, Size, ETag, ModTime, Meta, SHA256
}

var (
	_ target.Store       = (*Store)(nil)
	_ target.RangeOpener = (*Store)(nil)
	_ target.RangeLister = (*Store)(nil)
)

// New returns an empty store; name is what String reports ("mem://NAME").
func New(name string) *Store {
	return &Store{name: name, objects: map[string]object{}}
}

// String names the store: mem://NAME.
func (s *Store) String() string { return "mem://" + s.name }

func (s *Store) errorf(op, key, format string, args ...any) error {
	return fmt.Errorf("memstore %s: %s %s: "+format, append([]any{s.name, op, key}, args...)...)
}

func (s *Store) check(op, key string) error {
	if err := target.ValidateKey(key); err != nil {
		return fmt.Errorf("memstore %s: %s: invalid key: %w", s.name, op, err)
	}
	return nil
}

// List calls fn for every object whose key starts with prefix, in lexical
// key order. fn sees the objects as they were when List was called.
func (s *Store) List(ctx context.Context, prefix string, fn func(target.Object) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements target.RangeLister.
func (s *Store) ListAfter(ctx context.Context, prefix, after string, fn func(target.Object) error) error {
	s.mu.Lock()
	var objs []target.Object
	for k, o := range s.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			objs = append(objs, listed(o.obj))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(objs, func(a, b target.Object) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore %s: list %s: %w", s.name, prefix, err)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// listed is what a listing reports of an object: no Meta, no SHA256.
func listed(o target.Object) target.Object {
	o.Meta, o.SHA256 = nil, ""
	return o
}

// get returns the object at key or an error wrapping target.ErrNotExist.
func (s *Store) get(ctx context.Context, op, key string) (object, error) {
	if err := s.check(op, key); err != nil {
		return object{}, err
	}
	if err := ctx.Err(); err != nil {
		return object{}, s.errorf(op, key, "%w", err)
	}
	s.mu.Lock()
	o, ok := s.objects[key]
	s.mu.Unlock()
	if !ok {
		return object{}, s.errorf(op, key, "%w", target.ErrNotExist)
	}
	return o, nil
}

// Open returns the content of key.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, target.Object, error) {
	o, err := s.get(ctx, "open", key)
	if err != nil {
		return nil, target.Object{}, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), listed(o.obj), nil
}

// OpenAt implements target.RangeOpener.
func (s *Store) OpenAt(ctx context.Context, key string, offset int64) (io.ReadCloser, target.Object, error) {
	o, err := s.get(ctx, "open", key)
	if err != nil {
		return nil, target.Object{}, err
	}
	if offset < 0 || (offset > 0 && offset >= o.obj.Size) {
		return nil, target.Object{}, s.errorf("open", key, "byte %d is outside its %d bytes", offset, o.obj.Size)
	}
	return io.NopCloser(bytes.NewReader(o.data[offset:])), listed(o.obj), nil
}

// Stat returns what the store knows of key, including its Meta and the
// SHA-256 its Put verified.
func (s *Store) Stat(ctx context.Context, key string) (target.Object, error) {
	o, err := s.get(ctx, "stat", key)
	if err != nil {
		return target.Object{}, err
	}
	obj := o.obj
	obj.Meta = maps.Clone(obj.Meta)
	return obj, nil
}

// Put reads exactly size bytes from body, checks them against
// opts.SHA256 and stores them under key in one step.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	if err := s.check("put", key); err != nil {
		return "", err
	}
	if size < 0 {
		return "", s.errorf("put", key, "negative size %d", size)
	}
	if n := len(opts.SHA256); n != 0 && n != sha256.Size {
		return "", s.errorf("put", key, "SHA-256 of %d bytes, want %d", n, sha256.Size)
	}
	if err := ctx.Err(); err != nil {
		return "", s.errorf("put", key, "%w", err)
	}
	r := target.ContextReader(ctx, body)
	var buf bytes.Buffer
	if n, err := io.CopyN(&buf, r, size); err != nil {
		if err == io.EOF {
			return "", s.errorf("put", key, "body ended after %d of %d bytes", n, size)
		}
		return "", s.errorf("put", key, "reading body: %w", err)
	}
	if extra, err := target.MoreData(r); err != nil {
		return "", s.errorf("put", key, "reading body: %w", err)
	} else if extra {
		return "", s.errorf("put", key, "body is longer than %d bytes", size)
	}
	data := buf.Bytes()
	var digest string
	if opts.SHA256 != nil {
		got := sha256.Sum256(data)
		if !bytes.Equal(got[:], opts.SHA256) {
			return "", s.errorf("put", key, "%w: body has SHA-256 %x, want %x", target.ErrChecksum, got, opts.SHA256)
		}
		digest = hex.EncodeToString(got[:])
	}
	meta := map[string]string{}
	for k, v := range opts.Meta {
		meta[strings.ToLower(k)] = v
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return "", s.errorf("put", key, "%w", err)
	}
	old, exists := s.objects[key]
	switch {
	case opts.IfAbsent && exists:
		return "", s.errorf("put", key, "%w: the key exists", target.ErrPrecondition)
	case opts.IfMatch != "" && !exists:
		return "", s.errorf("put", key, "%w: the key does not exist", target.ErrPrecondition)
	case opts.IfMatch != "" && old.obj.ETag != opts.IfMatch:
		return "", s.errorf("put", key, "%w: ETag is %s, not %s", target.ErrPrecondition, old.obj.ETag, opts.IfMatch)
	}
	s.gen++
	tag := fmt.Sprintf("%q", fmt.Sprintf("mem-%d", s.gen))
	s.objects[key] = object{data: data, obj: target.Object{
		Key: key, Size: size, ETag: tag, ModTime: time.Now(), Meta: meta, SHA256: digest,
	}}
	return tag, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check("delete", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.errorf("delete", key, "%w", err)
	}
	s.mu.Lock()
	delete(s.objects, key)
	s.mu.Unlock()
	return nil
}
