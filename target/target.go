// Package target defines where a mirror is published: a small Store
// interface with documented contracts, and the errors callers branch on.
//
// Implementations live in subpackages (dirstore for a local directory,
// s3store for any S3-compatible object store). All of them pass the shared
// conformance suite in target/storetest. This package knows nothing about
// SimpleStreams; keys are opaque slash-separated paths.
package target

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Implementations wrap them with %w so callers use errors.Is.
var (
	// ErrNotExist means the object (or the bucket/directory) does not exist.
	ErrNotExist = errors.New("object does not exist")
	// ErrChecksum means a Put body did not match PutOptions.SHA256; nothing
	// was stored.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrAccess means the store refused the credentials or the operation.
	ErrAccess = errors.New("access denied")
	// ErrNoBucket means the bucket named by the target does not exist.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrPrecondition means a conditional Put (IfAbsent, IfMatch) found
	// the key in another state; nothing was written.
	ErrPrecondition = errors.New("precondition failed")
	// ErrTooLarge means the store cannot take an object of the given size
	// within the memory it may use for uploads; nothing was written.
	ErrTooLarge = errors.New("object too large")
)

// Object describes one stored object as a listing reports it.
type Object struct {
	Key     string    // relative to the store's root, slash separated
	Size    int64     // bytes
	ETag    string    // opaque; the same value from Put, List, Open and Stat, and for PutOptions.IfMatch
	ModTime time.Time // last modification, as the store reports it
	// Meta holds the metadata given to Put (PutOptions.Meta), with
	// lower-case keys. Only Stat fills it; a store that cannot keep
	// metadata leaves it empty.
	Meta map[string]string
	// SHA256 is the SHA-256 (lower-case hex) the store verified the body
	// against when it stored the object (PutOptions.SHA256), or "" if it
	// was stored without one. Only Stat fills it.
	SHA256 string
}

// PutOptions carries what a Put should record with the object.
type PutOptions struct {
	ContentType  string // e.g. application/json; empty means application/octet-stream
	CacheControl string // Cache-Control header to serve the object with; may be empty
	// SHA256, when set (32 bytes), is the expected SHA-256 of the body. The
	// store must refuse to make a body with another digest visible at the
	// key (S3: x-amz-checksum-sha256 on a single PUT; verification before
	// completing a multipart upload) and return an error wrapping
	// ErrChecksum; and it remembers the digest, which Stat reports as
	// Object.SHA256.
	SHA256 []byte
	// Meta is stored with the object (S3 user metadata x-amz-meta-KEY, a
	// directory's extended attributes) and returned by Stat. Keys are
	// lower-case letters, digits and '-'.
	Meta map[string]string
	// IfAbsent makes the Put fail with ErrPrecondition if key exists
	// (S3 If-None-Match: *).
	IfAbsent bool
	// IfMatch, when set, makes the Put fail with ErrPrecondition unless
	// key exists with this ETag (S3 If-Match).
	IfMatch string
}

// Store is a flat key/value object store rooted at a prefix.
//
// Keys passed to a Store must be valid relative paths (see
// catalog.ValidPath); implementations may reject others. All methods are
// safe for concurrent use.
type Store interface {
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. An empty store or prefix is not an error. If fn
	// returns an error, List stops and returns it.
	List(ctx context.Context, prefix string, fn func(Object) error) error

	// Open returns the content of key. The caller closes the reader. A
	// missing key gives an error wrapping ErrNotExist.
	Open(ctx context.Context, key string) (io.ReadCloser, Object, error)

	// Put stores exactly size bytes read from body under key, atomically:
	// readers see either the previous object or the whole new one, never a
	// partial body. If body returns an error, returns fewer or more than size
	// bytes, or the context is cancelled, Put returns an error and leaves
	// the key as it was (in-progress multipart uploads are aborted). On
	// success it returns the new object's ETag (what a later IfMatch must
	// name to replace exactly this object).
	Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (etag string, err error)

	// Stat returns what the store knows of key, including its Meta. A
	// missing key gives an error wrapping ErrNotExist.
	Stat(ctx context.Context, key string) (Object, error)

	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// String names the store for messages (a directory path or
	// s3://bucket/prefix). It never contains credentials.
	String() string
}

// A RangeOpener opens an object part way through, so that a reader whose
// connection broke can go on where it stopped instead of starting over.
type RangeOpener interface {
	// OpenAt is Open of the bytes from offset to the end. The Object
	// describes the whole object: Size is its full size. A negative offset,
	// or one at or past the end (but for 0, which is Open), gives an error.
	OpenAt(ctx context.Context, key string, offset int64) (io.ReadCloser, Object, error)
}

// A RangeLister lists the keys after a given one without going through
// those before it. Stores whose listing is a chain of requests (S3: 1,000
// keys each) implement it, so that a caller who knows where the pages
// fall can list several ranges at once.
type RangeLister interface {
	// ListAfter is List restricted to the keys that sort after after.
	ListAfter(ctx context.Context, prefix, after string, fn func(Object) error) error
}

// Capabilities says what a store was found to honour, as a Probe tried
// it. Callers branch on these fields; a store that is not a Prober
// honours everything (Full).
type Capabilities struct {
	// ConditionalWrites: a Put with IfAbsent is refused when the key
	// exists, and one with IfMatch when the key is missing or has another
	// ETag. The lease and the index swap rest on it.
	ConditionalWrites bool `json:"conditional_writes"`
	// ChecksumSHA256: a single PUT carrying x-amz-checksum-sha256 is
	// accepted, and refused when the body does not match it.
	ChecksumSHA256 bool `json:"checksum_sha256"`
	// ContentMD5: a PUT whose body does not match its Content-MD5 is
	// refused.
	ContentMD5 bool `json:"content_md5"`
	// StartAfter: a listing given a key to start after starts there.
	StartAfter bool `json:"start_after"`
	// Metadata: user metadata and Cache-Control are kept with an object.
	Metadata bool `json:"metadata"`
}

// Full is what a store honours when nothing was found missing.
var Full = Capabilities{ConditionalWrites: true, ChecksumSHA256: true, ContentMD5: true, StartAfter: true, Metadata: true}

// Check is one request of a probe and what the store answered.
type Check struct {
	Name string `json:"name"` // what was tried
	Want string `json:"want"` // the answer a store that honours it gives
	Got  string `json:"got"`  // the answer it gave
	OK   bool   `json:"ok"`   // Got is Want
}

// The kinds of store a Probe names.
const (
	KindS3        = "s3"
	KindDirectory = "directory"
)

// Probe is what probing a store found.
type Probe struct {
	Store    string    `json:"store"`              // String() of the store
	Kind     string    `json:"kind,omitempty"`     // KindS3 or KindDirectory; empty for a store that is not probed
	Endpoint string    `json:"endpoint,omitempty"` // where it was reached
	Server   string    `json:"server,omitempty"`   // the identity it gives (S3: the Server header)
	Time     time.Time `json:"time"`               // when the checks ran
	// Cached is set when the result was read back from the store instead
	// of running the checks again (same endpoint and server).
	Cached       bool    `json:"cached"`
	Checks       []Check `json:"checks,omitempty"`
	Capabilities `json:"capabilities"`
}

// A Prober finds out what a store honours by trying it on scratch keys
// under .ssmirror/, and from then on writes and lists only in the ways
// the store honours (e.g. Content-MD5 where the SHA-256 checksum header is
// rejected). It keeps the result in the store and reuses it while the
// endpoint and the server's identity stay the same, unless fresh is set.
type Prober interface {
	Probe(ctx context.Context, fresh bool) (Probe, error)
}

// ProbeStore probes st if it is a Prober; any other store honours
// everything it is asked (Full).
func ProbeStore(ctx context.Context, st Store, fresh bool) (Probe, error) {
	if p, ok := st.(Prober); ok {
		return p.Probe(ctx, fresh)
	}
	return Probe{Store: st.String(), Capabilities: Full}, nil
}
