// Package s3store implements target.Store on Amazon S3 or any
// S3-compatible object store (MinIO, Ceph RGW, Versity S3 Gateway, ...)
// using github.com/minio/minio-go/v7.
//
// # Keys
//
// A store is rooted at Config.Prefix inside Config.Bucket: key "a/b" is the
// object PREFIX/a/b (or a/b when the prefix is empty). Slashes around the
// prefix are ignored.
//
// # Credentials
//
// Unless Config.Anonymous is set, credentials come from the first source
// that yields an access key, in this order:
//
//  1. AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY) and AWS_SECRET_ACCESS_KEY (or
//     AWS_SECRET_KEY), with AWS_SESSION_TOKEN;
//  2. MINIO_ROOT_USER and MINIO_ROOT_PASSWORD, or MINIO_ACCESS_KEY and
//     MINIO_SECRET_KEY;
//  3. the AWS shared files (~/.aws/config and ~/.aws/credentials, or
//     AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE), profile AWS_PROFILE
//     or "default" (static keys, SSO or credential_process);
//  4. an IAM role: EC2 instance metadata, ECS/EKS container credentials or
//     web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN).
//
// If none yields a key, New fails with an error wrapping target.ErrAccess.
// With Config.Anonymous, requests are sent unsigned and no credential source
// is consulted. Secrets never appear in errors or in String.
//
// # Endpoint and region
//
// Config.Endpoint is a URL (https://host[:port] or http://host:port). When
// it is empty, AWS_ENDPOINT_URL_S3 and then AWS_ENDPOINT_URL are used, and
// otherwise Amazon S3 (https://s3.amazonaws.com, which the client resolves
// to the bucket's regional endpoint). Config.Region, else AWS_REGION or
// AWS_DEFAULT_REGION, sets the signing region; when all are empty the
// region is discovered from the bucket.
//
// # Uploads
//
// A Put whose size fits in one part (Config.PartSize, default
// DefaultPartSize) is a single PUT request. The body is first read into
// memory and its length and SHA-256 are checked, so nothing is sent unless
// both are right, and minio-go can retry the request on transient errors.
// When PutOptions.SHA256 is set the request also carries the expected
// digest as the x-amz-checksum-sha256 header (base64), so the server
// verifies what it received and refuses a mismatch (S3 error BadDigest,
// reported as target.ErrChecksum) without storing anything. Without a
// digest, or on a store that rejects that header or does not enforce it
// (see Probe), the request carries Content-MD5 instead, which every S3 API
// verifies; so do the parts of a multipart upload on such a store. A
// conditional PUT answered 409 ConditionalRequestConflict is tried again.
// Single PUTs are signed (SigV4) by the store's own transport, which keeps
// the signing key of the day and region instead of deriving it for each
// request, and sends a body of up to 4 KiB in the same write as the
// headers. An unconditional one to a path-style endpoint (any but Amazon
// S3 and the other virtual-host ones, or with Config.PathStyle) is built
// and sent by the store itself, once, with the headers minio-go would
// send; one that is not answered 200 OK is sent again through minio-go,
// which retries it and reports the store's error. minio-go builds, sends
// and retries the others. Anonymous access, S3 Express and Outposts leave
// the signing to minio-go.
//
// A larger Put, up to Config.MultipartThreshold (default
// DefaultMultipartThreshold), whose SHA-256 the caller gives, on a store
// that enforces the x-amz-checksum-sha256 header, is one PUT as well, but
// streamed: the body is sent as it is read, without a copy in memory or a
// hash on this side, and the server checks the whole body against the
// header and stores nothing on a mismatch. Its last byte is held back
// until the body has ended where it should, without an error (a body that
// verifies itself as it is read, like the source's, reports a mismatch
// there), so a body that fails, ends early or runs long is cut before the
// server holds all of it. minio-go cannot retry such a PUT (the body
// cannot be read again), and it is not resumable.
//
// # Capabilities
//
// Probe (target.Prober) finds out what the store honours and adapts the
// store to it; until then it is assumed to honour everything.
//
// Larger bodies use a multipart upload driven here: parts are read one
// after another into reusable buffers and up to Config.Concurrency of them
// (default DefaultConcurrency) are uploaded in parallel, so memory use is
// bounded by (Concurrency+1) × part size. The body is hashed as it is read;
// the upload is completed only if the length and SHA-256 match. On any
// failure (body error, part error, digest mismatch, cancelled context) the
// upload is aborted with a fresh context so no incomplete upload is left.
// A cancelled context cuts the parts still being sent; a part whose whole
// body has gone out is waited for first (the server may still store it,
// and a part stored after the abort would list the upload again).
// The part size grows for very large objects so an upload never needs more
// than 10,000 parts; a size that would need parts larger than both
// Config.PartSize and Config.Memory is refused (target.ErrTooLarge) before
// anything is read or sent, so the memory bound holds for any claimed size.
//
// A conditional Put (IfAbsent, IfMatch) is always a single PUT, of up to
// MaxPartSize bytes: S3 checks the condition on that request. One of more
// than 256 KiB is preceded by a HEAD, and refused with ErrPrecondition
// without its body when the condition already fails: S3 servers refuse it
// before reading the body and reset the connection, so the client could
// see a reset rather than the 412.
//
// # Resuming
//
// PutResumable (target.Resumer) is the same multipart upload, but one cut
// off after some of its parts were stored is kept rather than aborted: a
// resume record (target.ResumeKey) names the upload, its parts done in
// order from the first (numbers, ETags, sizes) and the SHA-256 state after
// them, rewritten after each part. A later PutResumable of the same key,
// size, SHA-256 and part size checks with ListParts that the upload still
// holds those parts, restores the digest and uploads the remaining parts
// into it; any mismatch drops the record and aborts the upload.
// AbortIncompleteUploads deletes the record of an upload it aborts.
package s3store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssmirror/ssmirror/target"
)

const (
	// DefaultPartSize is the multipart part size used when Config.PartSize
	// is zero; objects up to this size are read into memory and uploaded
	// with a single PUT.
	DefaultPartSize = 16 << 20
	// DefaultMultipartThreshold is Config.MultipartThreshold when zero:
	// objects larger than a part and up to this size are streamed in one
	// PUT (see Uploads); larger ones are multipart uploads, resumable.
	DefaultMultipartThreshold = 256 << 20
	// MinPartSize is the smallest part size S3 accepts (except for the
	// last part of an upload).
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part size S3 accepts.
	MaxPartSize = 5 << 30
	// MaxParts is the largest number of parts in one multipart upload.
	MaxParts = 10000
	// DefaultConcurrency is the number of parts uploaded in parallel when
	// Config.Concurrency is zero.
	DefaultConcurrency = 4

	// abortTimeout bounds the clean-up of a failed multipart upload.
	abortTimeout = 30 * time.Second
	// credTimeout bounds the initial credential lookup in New.
	credTimeout = 15 * time.Second
)

// Config says which bucket and prefix to publish to and how to reach it.
type Config struct {
	Bucket   string // bucket name (required)
	Prefix   string // key prefix inside the bucket; may be empty
	Endpoint string // http(s)://host[:port]; empty means AWS_ENDPOINT_URL or Amazon S3
	Region   string // signing region; empty means AWS_REGION or discovery

	PathStyle bool // force path-style requests (https://host/bucket/key)
	Anonymous bool // send unsigned requests; ignore all credential sources
	// AccessKey and SecretKey (and SessionToken), when set, are used
	// before the standard credential chain.
	AccessKey, SecretKey, SessionToken string
	InsecureTLS                        bool // do not verify the server's TLS certificate
	// RootCAs, when set, are the certificate authorities the server's
	// certificate must chain to, instead of the system's.
	RootCAs *x509.CertPool

	PartSize int64 // multipart part size; 0 means DefaultPartSize, else ≥ MinPartSize
	// MultipartThreshold is the largest object streamed in one PUT when
	// it is larger than a part (0 means DefaultMultipartThreshold, at most
	// MaxPartSize); a threshold of at most PartSize streams nothing.
	MultipartThreshold int64
	Concurrency        int // parts uploaded in parallel; 0 means DefaultConcurrency
	// Memory bounds the object data buffered at once across all uploads
	// (0 means DefaultMemory). A part of PartSize, a small object or a
	// conditional write larger than it is still uploaded, alone; an
	// object that needs parts larger than both is refused.
	Memory int64
}

// Store is a target.Store on an S3 bucket. It is safe for concurrent use.
type Store struct {
	client      *minio.Client
	core        minio.Core
	putCore     minio.Core // for single PUTs: core, or one signed by a signer
	direct      *directPut // unconditional single PUTs without minio-go, when set
	bucket      string
	prefix      string // "" or "some/prefix/" (with the trailing slash)
	endpoint    string // endpoint URL for messages (no credentials)
	partSize    int64
	streamMax   int64 // Config.MultipartThreshold
	concurrency int
	mem         *budget
	bufs        *slabs
	virtualHost bool // clients address the bucket as a host name (AWS)

	// noLocalVerify disables the client-side digest check of single PUTs,
	// so tests can observe the server's own verification.
	noLocalVerify bool

	caps   atomic.Pointer[target.Capabilities] // what Probe found; nil: target.Full
	server *serverID                           // the server's identity, as it answers
}

// capabilities returns what the store honours: what Probe found, or
// everything before a probe.
func (s *Store) capabilities() target.Capabilities {
	if c := s.caps.Load(); c != nil {
		return *c
	}
	return target.Full
}

// serverID keeps the first Server header the store answers with.
type serverID struct {
	rt http.RoundTripper
	v  atomic.Pointer[string]
}

func (h *serverID) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.rt.RoundTrip(req)
	if err == nil && h.v.Load() == nil {
		if v := resp.Header.Get("Server"); v != "" {
			h.v.Store(&v)
		}
	}
	return resp, err
}

func (h *serverID) String() string {
	if v := h.v.Load(); v != nil {
		return *v
	}
	return ""
}

var _ target.Store = (*Store)(nil)

// Test hooks.
var (
	// iamEndpoint overrides the instance metadata endpoint.
	iamEndpoint = ""
	// wrapTransport, if set, wraps the HTTP transport of new stores.
	wrapTransport func(http.RoundTripper) http.RoundTripper
)

// New connects to the bucket described by cfg. It resolves credentials
// (none found gives an error wrapping target.ErrAccess) and sends no
// request: the first request finds a missing bucket (an error wrapping
// target.ErrNoBucket that names it) or credentials the store refuses (an
// error wrapping target.ErrAccess).
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3store: no bucket configured")
	}
	if err := ValidateBucket(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3store: %w", err)
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("s3store: bucket %s: %w", cfg.Bucket, err)
	}
	if prefix != "" {
		prefix += "/"
	}

	partSize := cfg.PartSize
	switch {
	case partSize == 0:
		partSize = DefaultPartSize
	case partSize < MinPartSize:
		return nil, fmt.Errorf("s3store: part size %d is below the S3 minimum of %d bytes (5 MiB)", partSize, MinPartSize)
	case partSize > MaxPartSize:
		return nil, fmt.Errorf("s3store: part size %d is above the S3 maximum of %d bytes (5 GiB)", partSize, int64(MaxPartSize))
	}
	streamMax := cfg.MultipartThreshold
	switch {
	case streamMax == 0:
		streamMax = DefaultMultipartThreshold
	case streamMax < 0:
		return nil, fmt.Errorf("s3store: negative multipart threshold %d", streamMax)
	case streamMax > MaxPartSize:
		return nil, fmt.Errorf("s3store: multipart threshold %d is above the S3 maximum of one PUT, %d bytes (5 GiB)", streamMax, int64(MaxPartSize))
	}
	concurrency := cfg.Concurrency
	switch {
	case concurrency == 0:
		concurrency = DefaultConcurrency
	case concurrency < 0:
		return nil, fmt.Errorf("s3store: negative concurrency %d", concurrency)
	}

	endpoint := cmp.Or(cfg.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), "https://s3.amazonaws.com")
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("s3store: %w", err)
	}
	region := cmp.Or(cfg.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))

	secure := u.Scheme == "https"
	transport, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("s3store: %w", err)
	}
	// Keep a connection for every request that may be in flight at once
	// (transfers × parts): minio-go keeps 16 per host, and with more
	// requests in flight the rest would be closed and opened again.
	transport.MaxIdleConnsPerHost = max(transport.MaxIdleConnsPerHost, 256)
	transport.MaxIdleConns = max(transport.MaxIdleConns, 256)
	if secure && cfg.RootCAs != nil {
		if transport.TLSClientConfig == nil {
			transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		transport.TLSClientConfig.RootCAs = cfg.RootCAs
	}
	if secure && cfg.InsecureTLS {
		if transport.TLSClientConfig == nil {
			transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		transport.TLSClientConfig.InsecureSkipVerify = true
	}

	var creds *credentials.Credentials
	if cfg.Anonymous {
		creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	} else {
		var static []credentials.Provider
		if cfg.AccessKey != "" {
			static = append(static, &credentials.Static{Value: credentials.Value{
				AccessKeyID: cfg.AccessKey, SecretAccessKey: cfg.SecretKey, SessionToken: cfg.SessionToken,
				SignerType: credentials.SignatureV4,
			}})
		}
		creds = credentials.NewChainCredentials(append(static,
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{
				Endpoint: iamEndpoint,
				Client:   &http.Client{Timeout: 10 * time.Second},
			},
		))
		cctx, cancel := context.WithTimeout(ctx, credTimeout)
		v, err := creds.GetWithContext(&credentials.CredContext{Client: http.DefaultClient, Context: cctx})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("s3store: looking up credentials for %s: %w: %w", u, target.ErrAccess, err)
		}
		if v.AccessKeyID == "" || v.SecretAccessKey == "" {
			return nil, fmt.Errorf("s3store: no S3 credentials found for %s: %w; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "+
				"(or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD), configure a profile in ~/.aws/credentials (selected by AWS_PROFILE), "+
				"run with an IAM role, or use anonymous access (unsigned requests) for a public bucket",
				u, target.ErrAccess)
		}
	}

	var rt http.RoundTripper = transport
	if wrapTransport != nil {
		rt = wrapTransport(rt)
	}
	server := &serverID{rt: rt}
	rt = server
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Transport:    rt,
		Region:       region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: endpoint %s: %w", u, err)
	}
	s := &Store{
		client:      client,
		core:        minio.Core{Client: client},
		putCore:     minio.Core{Client: client},
		bucket:      cfg.Bucket,
		prefix:      prefix,
		endpoint:    u.String(),
		partSize:    partSize,
		streamMax:   streamMax,
		concurrency: concurrency,
		mem:         newBudget(cmp.Or(cfg.Memory, DefaultMemory)),
		bufs:        &slabs{size: partSize},
		server:      server,
		virtualHost: !cfg.PathStyle && strings.HasSuffix(u.Hostname(), ".amazonaws.com") && !strings.Contains(cfg.Bucket, "."),
	}

	// Single PUTs, one per small object, go through a client that leaves
	// the signing to a transport keeping the day's signing key.
	if sig := signerFor(ctx, client, creds, rt, *u, s.bucket, cfg.Anonymous); sig != nil {
		putClient, err := minio.New(u.Host, &minio.Options{
			Creds:        credentials.NewStatic("", "", "", credentials.SignatureAnonymous),
			Secure:       secure,
			Transport:    sig,
			Region:       sig.region,
			BucketLookup: lookup,
		})
		if err == nil {
			s.putCore = minio.Core{Client: putClient}
			s.direct = newDirectPut(sig, *u, s.bucket, cfg.PathStyle)
		}
	}
	return s, nil
}

// parseEndpoint checks that s is an http(s) URL naming only a host.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if strings.Contains(s, "@") {
			return nil, errors.New("invalid endpoint: want a URL like https://host[:port]")
		}
		return nil, fmt.Errorf("invalid endpoint %q: want a URL like https://host[:port] or http://127.0.0.1:9000", s)
	}
	if u.User != nil {
		return nil, errors.New("invalid endpoint: it must not contain credentials; use the environment or ~/.aws/credentials")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid endpoint %q: scheme must be http or https", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid endpoint %q: must not have a path or query (put the bucket and prefix in the s3:// URL)", s)
	}
	u.Path = ""
	return u, nil
}

// URL returns the HTTP(S) address at which clients read the store's root
// (its prefix), with a trailing slash: https://BUCKET.s3.amazonaws.com/PREFIX/
// on AWS, ENDPOINT/BUCKET/PREFIX/ elsewhere. It works for clients only if
// the prefix is readable without credentials or is put behind a CDN.
func (s *Store) URL() string {
	u, _ := url.Parse(s.endpoint)
	if s.virtualHost {
		u.Host = s.bucket + "." + u.Host
		u.Path = "/" + s.prefix
	} else {
		u.Path = "/" + s.bucket + "/" + s.prefix
	}
	return u.String()
}

// Location returns the bucket and the key prefix (empty, or ending in
// "/") of the store's root.
func (s *Store) Location() (bucket, prefix string) { return s.bucket, s.prefix }

// String returns "s3://bucket/prefix" (or "s3://bucket").
func (s *Store) String() string {
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// objURL names key for messages.
func (s *Store) objURL(key string) string {
	if key == "" {
		return strings.TrimSuffix(s.String(), "/")
	}
	return "s3://" + s.bucket + "/" + s.prefix + key
}

// object returns the object name of key after validating it.
func (s *Store) object(op, key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("s3store: %s %s: invalid key: %w", op, s, err)
	}
	name := s.prefix + key
	if len(name) > 1024 {
		return "", fmt.Errorf("s3store: %s %s: object name is longer than 1024 bytes", op, s.objURL(key))
	}
	return name, nil
}

// mapErr returns the sentinel error matching an S3 error, or nil.
func (s *Store) mapErr(err error) error {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return nil
	}
	switch er.Code {
	case "NoSuchKey":
		return target.ErrNotExist
	case "PreconditionFailed", "ConditionalRequestConflict":
		return target.ErrPrecondition
	case "NoSuchBucket":
		return target.ErrNoBucket
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem",
		"InvalidSecurity", "NotSignedUp", "InvalidObjectState",
		"XAdminUserNotFound": // Versity S3 Gateway: unknown access key
		return target.ErrAccess
	case "BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch",
		"InvalidDigest", "InvalidChecksum":
		return target.ErrChecksum
	}
	return nil
}

// wrapErr wraps an error of operation op on key with the object's URL and
// the matching sentinel error.
//
// New sends no request, so the first request of a store is the one that
// finds a missing bucket (named, with the endpoint) or a certificate the
// client does not trust (with how to trust it).
func (s *Store) wrapErr(op, key string, err error) error {
	sentinel := s.mapErr(err)
	var cerr *tls.CertificateVerificationError
	switch {
	case errors.Is(sentinel, target.ErrNoBucket):
		return fmt.Errorf("s3store: bucket %s does not exist at %s: %w: %w", s.bucket, s.endpoint, sentinel, err)
	case errors.As(err, &cerr):
		return fmt.Errorf("s3store: %s %s at %s: %w (trust the server's CA with SSL_CERT_FILE, or disable verification with the insecure TLS option)", op, s.objURL(key), s.endpoint, err)
	case sentinel != nil && !errors.Is(err, sentinel):
		return fmt.Errorf("s3store: %s %s: %w: %w", op, s.objURL(key), sentinel, err)
	}
	return fmt.Errorf("s3store: %s %s: %w", op, s.objURL(key), err)
}

// Stat returns key's size, ETag, modification time and user metadata.
func (s *Store) Stat(ctx context.Context, key string) (target.Object, error) {
	name, err := s.object("stat", key)
	if err != nil {
		return target.Object{}, err
	}
	// Checksum mode asks the server for the checksum it verified on a
	// single PUT.
	info, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.StatusCode == http.StatusNotFound {
			return target.Object{}, fmt.Errorf("s3store: stat %s: %w", s.objURL(key), target.ErrNotExist)
		}
		return target.Object{}, s.wrapErr("stat", key, err)
	}
	meta := map[string]string{}
	for k, v := range info.UserMetadata {
		meta[strings.ToLower(k)] = v
	}
	sum := meta[sha256Meta]
	delete(meta, sha256Meta)
	if b, err := base64.StdEncoding.DecodeString(info.ChecksumSHA256); err == nil && len(b) == sha256.Size {
		sum = hex.EncodeToString(b) // a full-object checksum, not a composite of parts
	}
	return target.Object{Key: key, Size: info.Size, ETag: info.ETag, ModTime: info.LastModified, Meta: meta, SHA256: sum}, nil
}

// List calls fn for every object whose key starts with prefix, in lexical
// key order, using a recursive ListObjectsV2 listing.
func (s *Store) List(ctx context.Context, prefix string, fn func(target.Object) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements target.RangeLister: the listing starts with the
// first key after after (S3 StartAfter), and fn's error ends it without a
// request for the next page.
func (s *Store) ListAfter(ctx context.Context, prefix, after string, fn func(target.Object) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := minio.ListObjectsOptions{
		Prefix:     s.prefix + prefix,
		Recursive:  true,
		FetchOwner: new(false), // not needed, and work for the server
	}
	if after != "" {
		opts.StartAfter = s.prefix + after
	}
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return s.wrapErr("list", prefix, obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || key == "" || strings.HasSuffix(key, "/") {
			continue // directory markers are not objects
		}
		if after != "" && key <= after {
			continue // a store that ignores StartAfter lists from the start
		}
		if err := fn(target.Object{
			Key:     key,
			Size:    obj.Size,
			ETag:    obj.ETag,
			ModTime: obj.LastModified,
		}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Open returns the content of key with a GET request. A missing key gives
// an error wrapping target.ErrNotExist.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, target.Object, error) {
	return s.OpenAt(ctx, key, 0)
}

// OpenAt implements target.RangeOpener with a ranged GET
// ("Range: bytes=offset-"), accepted only when the answer's Content-Range
// starts at offset.
func (s *Store) OpenAt(ctx context.Context, key string, offset int64) (io.ReadCloser, target.Object, error) {
	name, err := s.object("open", key)
	if err != nil {
		return nil, target.Object{}, err
	}
	if offset < 0 {
		return nil, target.Object{}, fmt.Errorf("s3store: open %s at negative byte %d", s.objURL(key), offset)
	}
	var opts minio.GetObjectOptions
	if offset != 0 {
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, target.Object{}, fmt.Errorf("s3store: open %s at byte %d: %w", s.objURL(key), offset, err)
		}
	}
	// One GET answers both the content and the object's details.
	rc, info, header, err := s.core.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.StatusCode == http.StatusNotFound && er.Code == "" {
			return nil, target.Object{}, fmt.Errorf("s3store: open %s: %w", s.objURL(key), target.ErrNotExist)
		}
		return nil, target.Object{}, s.wrapErr("open", key, err)
	}
	size := info.Size
	if offset != 0 {
		var start, end int64
		cr := header.Get("Content-Range")
		if n, _ := fmt.Sscanf(cr, "bytes %d-%d/%d", &start, &end, &size); n != 3 || start != offset || end != size-1 {
			rc.Close()
			return nil, target.Object{}, fmt.Errorf("s3store: open %s at byte %d: the server answered Content-Range %q", s.objURL(key), offset, cr)
		}
	}
	return &objectReader{rc: rc, s: s, key: key}, target.Object{Key: key, Size: size, ETag: info.ETag, ModTime: info.LastModified}, nil
}

// objectReader maps read errors (a connection broken mid-body) like
// other errors of the store.
type objectReader struct {
	rc  io.ReadCloser
	s   *Store
	key string
}

func (r *objectReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = r.s.wrapErr("read", r.key, err)
	}
	return n, err
}

func (r *objectReader) Close() error { return r.rc.Close() }

// Delete removes key. Deleting a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := s.object("delete", key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(s.mapErr(err), target.ErrNotExist) {
			return nil
		}
		return s.wrapErr("delete", key, err)
	}
	return nil
}
