// Package dirstore implements target.Store on a local directory.
//
// Keys map to files below the root directory ("a/b/c" is ROOT/a/b/c).
// Put writes the body to a temporary file in the destination directory
// (named ".NAME.tmp-RANDOM"), checks its size and optional SHA-256,
// fsyncs it and renames it into place, so readers see either the old or
// the complete new file. List skips those temporary files, so a crashed
// Put leaves at most an invisible temporary file behind.
//
// A local directory has no HTTP metadata: PutOptions.ContentType and
// PutOptions.CacheControl are ignored (configure the web server that
// serves the directory instead). Objects have no ETag.
//
// Unlike S3, a directory cannot hold both a key "a" and a key "a/b"; such
// a Put fails with an error naming the conflicting path.
//
// PutResumable (target.Resumer) writes the same temporary file, but one
// cut off part way is kept, with a resume record (target.ResumeKey) naming
// it, the bytes it holds (fsynced) and their SHA-256 state; a later
// PutResumable of the same key, size and SHA-256 appends the rest to it.
//
// Keys are resolved beneath the root without following symbolic links:
// every operation on a key some directory or the file of which is a
// symbolic link below the root fails with an error wrapping ErrSymlink
// that names the key, so nothing is ever written, deleted or read
// outside the root (or at a second name inside it). The root itself may
// be a link. List does not descend into links nor list them.
package dirstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/ssmirror/ssmirror/target"
)

// Store is a target.Store rooted at a local directory. It is safe for
// concurrent use.
type Store struct {
	root string
}

var _ target.Store = (*Store)(nil)

// tmpMarker is part of every temporary file name; List skips such files and
// keys containing such a segment are rejected.
const tmpMarker = ".tmp-"

// New returns a Store rooted at root, creating the directory (and its
// parents) if it is missing.
func New(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("dirstore: empty root directory")
	}
	root = filepath.Clean(root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("dirstore: creating root directory: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("dirstore: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dirstore: root %s is not a directory", root)
	}
	return &Store{root: root}, nil
}

// String returns the root directory.
func (s *Store) String() string { return s.root }

// Root returns the root directory.
func (s *Store) Root() string { return s.root }

// ValidateKey reports why key is not acceptable as a store key, or nil:
// a portable key (target.ValidateKey) without a segment that looks like
// one of this package's temporary file names (".NAME.tmp-…").
func ValidateKey(key string) error {
	if err := target.ValidateKey(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if isTempName(seg) {
			return fmt.Errorf("key %q has a segment %q that looks like a temporary file", key, seg)
		}
	}
	return nil
}

// isTempName reports whether name is one of the store's own files: a
// temporary file or the lock file. They are never listed or addressable.
func isTempName(name string) bool {
	return name == lockName || strings.HasPrefix(name, ".") && strings.Contains(name, tmpMarker)
}

// sha256Meta is the extended attribute (user.ssmirror.sha256) that keeps
// the SHA-256 a Put verified.
const sha256Meta = "sha256"

// lockName is the file whose flock serialises conditional writes.
const lockName = ".ssmirror.lock"

// ErrSymlink is wrapped by the error of an operation on a key whose path
// below the root holds a symbolic link.
var ErrSymlink = errors.New("symbolic link in the path")

// file returns the file system path of key after validating it and
// checking that no part of it below the root is a symbolic link.
func (s *Store) file(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("dirstore %s: invalid key: %w", s.root, err)
	}
	p := s.root
	for seg := range strings.SplitSeq(key, "/") {
		p = filepath.Join(p, seg)
		fi, err := os.Lstat(p)
		if err != nil {
			break // missing (created as a directory by Put) or not a directory
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			rel, _ := filepath.Rel(s.root, p)
			return "", fmt.Errorf("dirstore %s: key %s: %w: %s is a symbolic link (refused: it could lead outside the directory)",
				s.root, key, ErrSymlink, filepath.ToSlash(rel))
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// List calls fn for every regular file whose key starts with prefix, in
// lexical (byte-wise) key order. Temporary files, symbolic links and other
// non-regular files are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(target.Object) error) error {
	// Start at the deepest directory the prefix fully names.
	dir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
		if ValidateKey(dir) != nil {
			// No valid key starts with dir + "/" (and such a dir could
			// point outside the root).
			return nil
		}
	}
	return s.walk(ctx, dir, prefix, fn)
}

// walk lists directory dirKey ("" is the root) recursively in key order.
func (s *Store) walk(ctx context.Context, dirKey, prefix string, fn func(target.Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dirPath := filepath.Join(s.root, filepath.FromSlash(dirKey))
	entries, err := os.ReadDir(dirPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			// The prefix names no directory (or a file), or the
			// directory was removed while we were listing.
			return nil
		}
		return fmt.Errorf("dirstore %s: list: %w", s.root, err)
	}
	type item struct {
		key   string
		sort  string // key + "/" for directories, so "a.b" < "a/x"
		isDir bool
		entry fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		key := name
		if dirKey != "" {
			key = dirKey + "/" + name
		}
		switch {
		case e.IsDir():
			// Descend only if keys below can match the prefix.
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				continue
			}
			items = append(items, item{key: key, sort: key + "/", isDir: true, entry: e})
		case e.Type().IsRegular():
			if isTempName(name) || !strings.HasPrefix(key, prefix) {
				continue
			}
			items = append(items, item{key: key, sort: key, entry: e})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.sort, b.sort) })
	for _, it := range items {
		if it.isDir {
			if err := s.walk(ctx, it.key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		fi, err := it.entry.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted concurrently
			}
			return fmt.Errorf("dirstore %s: list %s: %w", s.root, it.key, err)
		}
		if err := fn(target.Object{Key: it.key, Size: fi.Size(), ETag: etag(fi), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Open returns the content of key. A missing key (or a key naming a
// directory) gives an error wrapping target.ErrNotExist.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, target.Object, error) {
	p, err := s.file(key)
	if err != nil {
		return nil, target.Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s: %w", s.root, key, err)
	}
	// O_NOFOLLOW: a link that appeared since file checked is not read either.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s: %w", s.root, key, ErrSymlink)
		}
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s: %w", s.root, key, target.ErrNotExist)
		}
		return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s: %w", s.root, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s: %w", s.root, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s: not a regular file: %w", s.root, key, target.ErrNotExist)
	}
	return f, target.Object{Key: key, Size: fi.Size(), ETag: etag(fi), ModTime: fi.ModTime()}, nil
}

// OpenAt implements target.RangeOpener.
func (s *Store) OpenAt(ctx context.Context, key string, offset int64) (io.ReadCloser, target.Object, error) {
	rc, obj, err := s.Open(ctx, key)
	if err != nil {
		return nil, target.Object{}, err
	}
	if offset < 0 || (offset > 0 && offset >= obj.Size) {
		rc.Close()
		return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s at byte %d: outside its %d bytes", s.root, key, offset, obj.Size)
	}
	if _, err := rc.(*os.File).Seek(offset, io.SeekStart); err != nil {
		rc.Close()
		return nil, target.Object{}, fmt.Errorf("dirstore %s: open %s at byte %d: %w", s.root, key, offset, err)
	}
	return rc, obj, nil
}

// etag identifies one version of a file: its modification time and size
// (a Put always creates a new file, so a rewrite changes it).
func etag(fi os.FileInfo) string {
	return fmt.Sprintf("%x-%x", fi.ModTime().UnixNano(), fi.Size())
}

// Stat returns key's size, ETag, modification time and the metadata kept
// in its extended attributes (empty where the file system has none).
func (s *Store) Stat(_ context.Context, key string) (target.Object, error) {
	p, err := s.file(key)
	if err != nil {
		return target.Object{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || isNotDir(err) {
			return target.Object{}, fmt.Errorf("dirstore %s: stat %s: %w", s.root, key, target.ErrNotExist)
		}
		return target.Object{}, fmt.Errorf("dirstore %s: stat %s: %w", s.root, key, err)
	}
	if !fi.Mode().IsRegular() {
		return target.Object{}, fmt.Errorf("dirstore %s: stat %s: not a regular file: %w", s.root, key, target.ErrNotExist)
	}
	meta := readMeta(p)
	sum := meta[sha256Meta]
	delete(meta, sha256Meta)
	return target.Object{Key: key, Size: fi.Size(), ETag: etag(fi), ModTime: fi.ModTime(), Meta: meta, SHA256: sum}, nil
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// Put stores exactly size bytes from body under key atomically (temporary
// file, fsync, rename). On any error the temporary file is removed and the
// previous content of key, if any, is left untouched.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	var tag string
	err := s.put(ctx, key, body, size, opts, &tag)
	return tag, err
}

func (s *Store) put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions, tag *string) (err error) {
	p, err := s.file(key)
	if err != nil {
		return err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("dirstore %s: put %s: "+format, append([]any{s.root, key}, args...)...)
	}
	if size < 0 {
		return fail("negative size %d", size)
	}
	if n := len(opts.SHA256); n != 0 && n != sha256.Size {
		return fail("PutOptions.SHA256 has %d bytes, want %d", n, sha256.Size)
	}
	if err := ctx.Err(); err != nil {
		return fail("%w", err)
	}

	dir, base := filepath.Split(p)
	tmp, err := createTemp(dir, base)
	if err != nil {
		if c := s.fileParent(key); c != "" {
			return fail("%s is an object, so it cannot also be a directory: %w", c, err)
		}
		return fail("%w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()

	var h hash.Hash
	var w io.Writer = tmp
	if opts.SHA256 != nil {
		h = sha256.New()
		w = io.MultiWriter(tmp, h)
	}
	n, err := io.Copy(w, io.LimitReader(target.ContextReader(ctx, body), size))
	if err != nil {
		return fail("after %d of %d bytes: %w", n, size, err)
	}
	if n < size {
		return fail("body ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	if extra, err := target.MoreData(target.ContextReader(ctx, body)); err != nil {
		return fail("after %d bytes: %w", size, err)
	} else if extra {
		return fail("body is longer than the declared %d bytes", size)
	}
	if h != nil {
		if got := h.Sum(nil); !bytes.Equal(got, opts.SHA256) {
			return fail("%w: body has SHA-256 %s, want %s", target.ErrChecksum,
				hex.EncodeToString(got), hex.EncodeToString(opts.SHA256))
		}
	}
	return s.finish(tmp, p, key, opts, tag)
}

// finish makes the written and checked temporary file tmp the object at
// p (of key): mode, metadata, fsync, then publish.
func (s *Store) finish(tmp *os.File, p, key string, opts target.PutOptions, tag *string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("dirstore %s: put %s: "+format, append([]any{s.root, key}, args...)...)
	}
	tmpName := tmp.Name()
	dir := filepath.Dir(p)
	if err := tmp.Chmod(0o644); err != nil {
		return fail("%w", err)
	}
	meta := opts.Meta
	if opts.SHA256 != nil {
		meta = maps.Clone(meta)
		if meta == nil {
			meta = map[string]string{}
		}
		meta[sha256Meta] = hex.EncodeToString(opts.SHA256)
	}
	writeMeta(tmp, meta)
	if err := tmp.Sync(); err != nil {
		return fail("%w", err)
	}
	if err := tmp.Close(); err != nil {
		return fail("%w", err)
	}
	// The ETag is the file's: a rename or link keeps its time and size.
	fi, err := os.Stat(tmpName)
	if err != nil {
		return fail("%w", err)
	}
	*tag = etag(fi)
	if err := s.publish(tmpName, p, opts); err != nil {
		if errors.Is(err, target.ErrPrecondition) {
			return fail("%w", err)
		}
		if fi, serr := os.Lstat(p); serr == nil && fi.IsDir() {
			return fail("a directory of other objects has this name: %w", err)
		}
		return fail("%w", err)
	}
	syncDir(dir)
	return nil
}

// publish moves the finished temporary file to its key: a rename, or for
// conditional writes a link that fails if the key exists (IfAbsent), or a
// rename under the store's lock after checking the current ETag (IfMatch).
func (s *Store) publish(tmp, p string, opts target.PutOptions) error {
	switch {
	case opts.IfAbsent:
		err := link(tmp, p)
		os.Remove(tmp)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: it exists", target.ErrPrecondition)
		}
		return err
	case opts.IfMatch != "":
		unlock, err := s.lock()
		if err != nil {
			return err
		}
		defer unlock()
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%w: %v", target.ErrPrecondition, err)
		}
		if etag(fi) != opts.IfMatch {
			return fmt.Errorf("%w: ETag is %s, not %s", target.ErrPrecondition, etag(fi), opts.IfMatch)
		}
	}
	return os.Rename(tmp, p)
}

// link is os.Link; tests replace it to act as a file system without
// hard links.
var link = os.Link

// fileParent returns the first proper prefix of key that is a file, or "".
func (s *Store) fileParent(key string) string {
	for i := range len(key) {
		if key[i] != '/' {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(s.root, filepath.FromSlash(key[:i]))); err == nil && !fi.IsDir() {
			return key[:i]
		}
	}
	return ""
}

// createTemp creates the temporary file for base in dir, creating dir if
// needed. It retries when a concurrent Delete removes the (then empty)
// directory between the two steps.
func createTemp(dir, base string) (*os.File, error) {
	var err error
	for range 5 {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			if isNotDir(err) {
				return nil, fmt.Errorf("a parent of %s is a file: %w", dir, err)
			}
			return nil, err
		}
		var f *os.File
		f, err = os.CreateTemp(dir, tempPrefix(base)+"*")
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// tempPrefix is how the names of the temporary files of a file named base
// start.
func tempPrefix(base string) string {
	// Keep the temporary name below the usual 255-byte name limit.
	if len(base) > 200 {
		base = base[:200]
	}
	return "." + base + tmpMarker
}

// syncDir fsyncs a directory so a rename in it is durable; errors are
// ignored (some file systems do not support it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Delete removes key and then any directories left empty by that, up to
// the root. Deleting a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.file(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dirstore %s: delete %s: %w", s.root, key, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil
		}
		return fmt.Errorf("dirstore %s: delete %s: %w", s.root, key, err)
	}
	if fi.IsDir() {
		return nil // not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dirstore %s: delete %s: %w", s.root, key, err)
	}
	// Prune now-empty parent directories; Remove fails on non-empty ones.
	for d := path.Dir(key); d != "."; d = path.Dir(d) {
		if os.Remove(filepath.Join(s.root, filepath.FromSlash(d))) != nil {
			break
		}
	}
	return nil
}
