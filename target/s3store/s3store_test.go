package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/storetest"
)

func TestMain(m *testing.M) {
	isolateEnv()
	s3test.Main(m)
}

// isolateEnv keeps the developer's credentials, profiles and endpoints out
// of the tests, and points the IAM lookup at a closed port.
func isolateEnv() {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "MINIO_") {
			os.Unsetenv(k)
		}
	}
	// Files in a directory nobody creates.
	absent := filepath.Join(os.TempDir(), fmt.Sprintf("s3store-test-%d-absent", os.Getpid()))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(absent, "credentials"))
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(absent, "config"))
	iamEndpoint = "http://127.0.0.1:1"
}

// useCreds makes the credential chain find the server's root key.
func useCreds(t *testing.T, srv *s3test.Server) {
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
}

func config(srv *s3test.Server, bucket string) Config {
	return Config{
		Bucket:      bucket,
		Prefix:      "/mirror/maas/",
		Endpoint:    srv.Endpoint,
		Region:      srv.Region,
		PartSize:    MinPartSize,
		Concurrency: 2,
		// Objects larger than a part are multipart uploads (streamed
		// PUTs have tests of their own: TestStreamedPut).
		MultipartThreshold: MinPartSize,
	}
}

func newStore(t *testing.T, srv *s3test.Server) *Store {
	t.Helper()
	cfg := config(srv, srv.NewBucket(t))
	cfg.InsecureTLS = srv.CertFile != ""
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// checkClean fails if the store's bucket has incomplete multipart uploads
// or objects outside the store's prefix.
func checkClean(t *testing.T, st target.Store) {
	t.Helper()
	s := st.(*Store)
	ctx := context.Background()
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("listing incomplete uploads: %v", u.Err)
		}
		t.Errorf("incomplete multipart upload left behind: %s (upload %s)", u.Key, u.UploadID)
	}
	for o := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("listing bucket: %v", o.Err)
		}
		if !strings.HasPrefix(o.Key, s.prefix) {
			t.Errorf("object outside the prefix %q: %s", s.prefix, o.Key)
		}
	}
}

// TestConformance runs the suite on every real server of the matrix.
func TestConformance(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		useCreds(t, srv)
		storetest.RunOptions(t, func(t *testing.T) target.Store { return newStore(t, srv) },
			storetest.Options{CheckClean: checkClean})
	})
}

// TestConformanceDegraded runs the suite on stores that lack a feature
// (emulated in front of versitygw), after a probe: the store works around
// what is missing (Content-MD5, listing filtered past start-after,
// conflicts tried again). A store that ignores conditional writes cannot
// pass the conditional-write checks; ssmirror refuses it without
// --single-writer (tested in cmd/ssmirror).
func TestConformanceDegraded(t *testing.T) {
	srv := s3test.Shared(t)
	for _, e := range faultproxy.Emulations {
		if e.Name == "ignores-conditional-writes" {
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			storetest.RunOptions(t, func(t *testing.T) target.Store {
				st, _ := emulate(t, srv, e.Name)
				if _, err := st.Probe(context.Background(), true); err != nil {
					t.Fatal(err)
				}
				// An empty store for the suite: the result stays in effect.
				if err := st.Delete(context.Background(), ProbeKey); err != nil {
					t.Fatal(err)
				}
				return st
			}, storetest.Options{CheckClean: checkClean})
		})
	}
}

// TestConformanceTLS runs the suite over HTTPS, where minio-go signs
// requests differently (UNSIGNED-PAYLOAD instead of streaming chunk
// signatures), with a self-signed certificate (Config.InsecureTLS).
func TestConformanceTLS(t *testing.T) {
	srv := s3test.StartTLS(t)
	useCreds(t, srv)
	storetest.RunOptions(t, func(t *testing.T) target.Store { return newStore(t, srv) },
		storetest.Options{CheckClean: checkClean})
}

func TestTLSVerification(t *testing.T) {
	srv := s3test.StartTLS(t)
	useCreds(t, srv)
	cfg := config(srv, srv.NewBucket(t))
	_, err := open(context.Background(), cfg)
	var cert *tls.CertificateVerificationError
	if !errors.As(err, &cert) || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Fatalf("a self-signed certificate without InsecureTLS: %v, want a certificate error saying how to trust it", err)
	}
	t.Log(err)
}

func sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// recorder counts requests and remembers checksum headers of PUTs.
type recorder struct {
	rt           http.RoundTripper
	mu           sync.Mutex
	checksums    []string
	inFlight     atomic.Int32
	maxInFlight  atomic.Int32
	partRequests atomic.Int32
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut {
		if v := req.Header.Get(checksumHeader); v != "" {
			r.mu.Lock()
			r.checksums = append(r.checksums, v)
			r.mu.Unlock()
		}
		if req.URL.Query().Get("partNumber") != "" {
			r.partRequests.Add(1)
			n := r.inFlight.Add(1)
			defer r.inFlight.Add(-1)
			for {
				m := r.maxInFlight.Load()
				if n <= m || r.maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
		}
	}
	return r.rt.RoundTrip(req)
}

func withRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	wrapTransport = func(rt http.RoundTripper) http.RoundTripper { rec.rt = rt; return rec }
	t.Cleanup(func() { wrapTransport = nil })
	return rec
}

// TestServerRejectsWrongChecksum checks, with the client-side verification
// turned off, that the x-amz-checksum-sha256 header is sent and that the
// server refuses a body with another digest and stores nothing, over HTTP
// (streaming chunk signatures) and HTTPS (unsigned payload).
func TestServerRejectsWrongChecksum(t *testing.T) {
	t.Run("http", func(t *testing.T) { testServerRejectsWrongChecksum(t, s3test.Shared(t)) })
	t.Run("https", func(t *testing.T) { testServerRejectsWrongChecksum(t, s3test.StartTLS(t)) })
}

func testServerRejectsWrongChecksum(t *testing.T, srv *s3test.Server) {
	useCreds(t, srv)
	rec := withRecorder(t)
	s := newStore(t, srv)
	s.noLocalVerify = true
	ctx := context.Background()
	data := bytes.Repeat([]byte("ubuntu "), 10000)
	wrong := sum([]byte("not the data"))

	_, err := s.Put(ctx, "streams/v1/index.json", bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: wrong})
	if !errors.Is(err, target.ErrChecksum) {
		t.Fatalf("Put with wrong SHA-256 = %v, want ErrChecksum from the server", err)
	}
	t.Logf("server rejection: %v", err)
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		t.Errorf("error does not come from the server: %v", err)
	}
	if len(rec.checksums) != 1 || rec.checksums[0] != base64.StdEncoding.EncodeToString(wrong) {
		t.Errorf("x-amz-checksum-sha256 headers sent = %q, want [%s]", rec.checksums, base64.StdEncoding.EncodeToString(wrong))
	}
	if _, err := s.client.StatObject(ctx, s.bucket, s.prefix+"streams/v1/index.json", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("after the rejected PUT, StatObject = %v, want NoSuchKey", err)
	}

	// The right digest is accepted.
	if _, err := s.Put(ctx, "streams/v1/index.json", bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: sum(data)}); err != nil {
		t.Fatalf("Put with right SHA-256: %v", err)
	}
	// And a wrong one does not replace the object.
	if _, err := s.Put(ctx, "streams/v1/index.json", strings.NewReader("evil"), 4, target.PutOptions{SHA256: sum(data)}); !errors.Is(err, target.ErrChecksum) {
		t.Fatalf("overwrite with wrong SHA-256 = %v, want ErrChecksum", err)
	}
	r, _, err := s.Open(ctx, "streams/v1/index.json")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); !bytes.Equal(got, data) {
		t.Errorf("object changed by a rejected PUT: %d bytes", len(got))
	}
	checkClean(t, s)
}

// claimed is a body that says it verified its bytes against claim
// (target.VerifiedBody), whatever they are.
type claimed struct {
	io.Reader
	claim []byte
}

func (c claimed) VerifiedSHA256() []byte { return c.claim }

// TestVerifiedBody: a single PUT does not hash a body again that verified
// itself against PutOptions.SHA256 (target.BytesBody, the source's
// verifying reader); a body verified against another digest is hashed and
// refused before anything is sent; and were a body to lie, the server's
// check of the checksum header still refuses it.
func TestVerifiedBody(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	rec := withRecorder(t)
	s := newStore(t, srv)
	ctx := context.Background()
	data := bytes.Repeat([]byte("ubuntu "), 1000)
	const key = "streams/v1/index.json"

	_, err := s.Put(ctx, key, claimed{strings.NewReader("evil"), sum([]byte("evil"))}, 4, target.PutOptions{SHA256: sum(data)})
	var er minio.ErrorResponse
	if !errors.Is(err, target.ErrChecksum) || errors.As(err, &er) {
		t.Errorf("Put of a body verified against another digest = %v, want ErrChecksum before sending", err)
	}
	if len(rec.checksums) != 0 {
		t.Errorf("%d PUTs sent for a body the store could refuse itself", len(rec.checksums))
	}

	_, err = s.Put(ctx, key, claimed{strings.NewReader("evil"), sum(data)}, 4, target.PutOptions{SHA256: sum(data)})
	if !errors.Is(err, target.ErrChecksum) || !errors.As(err, &er) {
		t.Errorf("Put of a body that lies about its digest = %v, want ErrChecksum from the server", err)
	}

	body, digest := target.BytesBody(data)
	if _, err := s.Put(ctx, key, body, int64(len(data)), target.PutOptions{SHA256: digest}); err != nil {
		t.Fatalf("Put of target.BytesBody: %v", err)
	}
	r, _, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes, want the body's %d", len(got), len(data))
	}
}

func TestMultipartConcurrencyBound(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	rec := withRecorder(t)
	cfg := config(srv, srv.NewBucket(t))
	cfg.Concurrency = 3
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, (8*MinPartSize+100)/7)
	if _, err := s.Put(context.Background(), "big", bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: sum(data)}); err != nil {
		t.Fatal(err)
	}
	wantParts := (len(data) + MinPartSize - 1) / MinPartSize
	if got := rec.partRequests.Load(); int(got) != wantParts {
		t.Errorf("uploaded %d parts, want %d", got, wantParts)
	}
	if m := rec.maxInFlight.Load(); m > 3 {
		t.Errorf("%d parts in flight at once, want at most 3", m)
	}
	t.Logf("max parts in flight: %d", rec.maxInFlight.Load())
}

func TestMetadataStored(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	s := newStore(t, srv)
	ctx := context.Background()
	for _, size := range []int{100, MinPartSize*2 + 1} { // single PUT and multipart
		data := bytes.Repeat([]byte("x"), size)
		key := "meta/obj.json"
		if _, err := s.Put(ctx, key, bytes.NewReader(data), int64(size), target.PutOptions{
			ContentType: "application/json", CacheControl: "public, max-age=300", SHA256: sum(data),
		}); err != nil {
			t.Fatalf("Put(%d bytes): %v", size, err)
		}
		info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if info.ContentType != "application/json" {
			t.Errorf("%d bytes: Content-Type = %q, want application/json", size, info.ContentType)
		}
		if got := info.Metadata.Get("Cache-Control"); got != "public, max-age=300" {
			t.Errorf("%d bytes: Cache-Control = %q, want %q", size, got, "public, max-age=300")
		}
	}
	// Default content type.
	if _, err := s.Put(ctx, "plain", strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+"plain", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "application/octet-stream" {
		t.Errorf("default Content-Type = %q", info.ContentType)
	}
}

// open is New followed by the store's first request, a probe (the first
// thing a sync does), whose error is New's when New succeeded: New sends
// no request.
func open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, err = s.Probe(ctx, false)
	return s, err
}

// TestMissingBucket: a missing bucket is named, with the endpoint, by the
// store's first request, whichever it is.
func TestMissingBucket(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	ctx := context.Background()
	s, err := New(ctx, config(srv, "no-such-bucket"))
	if err != nil {
		t.Fatalf("New = %v, want no request and no error", err)
	}
	for name, first := range map[string]func() error{
		"probe": func() error { _, err := s.Probe(ctx, false); return err },
		"list":  func() error { return s.List(ctx, "", func(target.Object) error { return nil }) },
		"open":  func() error { _, _, err := s.Open(ctx, "x"); return err },
		"put":   func() error { _, err := s.Put(ctx, "x", strings.NewReader("x"), 1, target.PutOptions{}); return err },
	} {
		err := first()
		if !errors.Is(err, target.ErrNoBucket) {
			t.Fatalf("%s = %v, want ErrNoBucket", name, err)
		}
		if want := "bucket no-such-bucket does not exist at " + srv.Endpoint; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not contain %q", name, err, want)
		}
	}
}

func TestWrongSecret(t *testing.T) {
	srv := s3test.Shared(t)
	bucket := srv.NewBucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
	_, err := open(context.Background(), config(srv, bucket))
	if !errors.Is(err, target.ErrAccess) {
		t.Fatalf("a wrong secret: %v, want ErrAccess", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("error shows the secret: %v", err)
	}
	t.Log(err)

	t.Setenv("AWS_ACCESS_KEY_ID", "unknown-key")
	_, err = open(context.Background(), config(srv, bucket))
	if !errors.Is(err, target.ErrAccess) {
		t.Fatalf("an unknown key: %v, want ErrAccess", err)
	}
}

func TestCredentialSources(t *testing.T) {
	srv := s3test.Shared(t)
	bucket := srv.NewBucket(t)
	ctx := context.Background()

	t.Run("none", func(t *testing.T) {
		_, err := New(ctx, config(srv, bucket))
		if !errors.Is(err, target.ErrAccess) {
			t.Fatalf("New without credentials = %v, want ErrAccess", err)
		}
		for _, want := range []string{"AWS_ACCESS_KEY_ID", "anonymous"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		cfg := config(srv, bucket)
		cfg.Anonymous = true
		_, err := open(ctx, cfg)
		// The bucket is private, so the server refuses unsigned requests.
		if !errors.Is(err, target.ErrAccess) {
			t.Fatalf("anonymous on a private bucket: %v, want ErrAccess", err)
		}
	})
	t.Run("minio-env", func(t *testing.T) {
		t.Setenv("MINIO_ROOT_USER", srv.AccessKey)
		t.Setenv("MINIO_ROOT_PASSWORD", srv.SecretKey)
		if _, err := open(ctx, config(srv, bucket)); err != nil {
			t.Fatalf("with MINIO_ROOT_USER: %v", err)
		}
	})
	t.Run("aws-profile", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "credentials")
		os.WriteFile(file, []byte("[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n"+
			"[mirror]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+"\n"), 0o600)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
		t.Setenv("AWS_PROFILE", "mirror")
		if _, err := open(ctx, config(srv, bucket)); err != nil {
			t.Fatalf("with AWS_PROFILE=mirror: %v", err)
		}
	})
	t.Run("endpoint-env", func(t *testing.T) {
		useCreds(t, srv)
		t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
		cfg := config(srv, bucket)
		cfg.Endpoint = ""
		cfg.Region = "" // discovered from the bucket
		s, err := New(ctx, cfg)
		if err != nil {
			t.Fatalf("New with AWS_ENDPOINT_URL: %v", err)
		}
		if s.endpoint != srv.Endpoint {
			t.Errorf("endpoint = %q, want %q", s.endpoint, srv.Endpoint)
		}
		if _, err := s.Put(ctx, "x", strings.NewReader("x"), 1, target.PutOptions{SHA256: sum([]byte("x"))}); err != nil {
			t.Errorf("Put without a configured region: %v", err)
		}
	})
}

func TestPrefix(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	ctx := context.Background()
	bucket := srv.NewBucket(t)
	for _, tc := range []struct{ prefix, objPrefix, str string }{
		{"", "", "s3://" + bucket + "/"},
		{"/", "", "s3://" + bucket + "/"},
		{"a", "a/", "s3://" + bucket + "/a"},
		{"/a/b/", "a/b/", "s3://" + bucket + "/a/b"},
	} {
		cfg := config(srv, bucket)
		cfg.Prefix = tc.prefix
		s, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if s.String() != tc.str {
			t.Errorf("prefix %q: String() = %q, want %q", tc.prefix, s.String(), tc.str)
		}
		key := "k-" + strings.ReplaceAll(tc.prefix, "/", "_")
		if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.StatObject(ctx, bucket, tc.objPrefix+key, minio.StatObjectOptions{}); err != nil {
			t.Errorf("prefix %q: object %s not found: %v", tc.prefix, tc.objPrefix+key, err)
		}
	}
	// A store on prefix "a" sees neither "a/b/..." objects' prefix stripped
	// wrongly nor objects outside "a/".
	cfg := config(srv, bucket)
	cfg.Prefix = "a"
	s, _ := New(ctx, cfg)
	var keys []string
	s.List(ctx, "", func(o target.Object) error { keys = append(keys, o.Key); return nil })
	if got, want := strings.Join(keys, ","), "b/k-_a_b_,k-a"; got != want {
		t.Errorf("List under prefix a = %q, want %q", got, want)
	}

	if _, err := New(ctx, Config{Bucket: bucket, Prefix: "a//b", Endpoint: srv.Endpoint}); err == nil {
		t.Error("New with prefix a//b succeeded")
	}
}

func TestNewConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{},
		{Bucket: "Bad_Bucket"},
		{Bucket: "ok-bucket", Endpoint: "127.0.0.1:9000"},
		{Bucket: "ok-bucket", Endpoint: "ftp://host"},
		{Bucket: "ok-bucket", Endpoint: "http://host/path"},
		{Bucket: "ok-bucket", Endpoint: "http://user:topsecret@host"},
		{Bucket: "ok-bucket", Endpoint: "http://host", PartSize: 1 << 20},
		{Bucket: "ok-bucket", Endpoint: "http://host", PartSize: 6 << 30},
		{Bucket: "ok-bucket", Endpoint: "http://host", Concurrency: -1},
		{Bucket: "ok-bucket", Endpoint: "http://host", Prefix: "a/../b"},
	} {
		_, err := New(ctx, cfg)
		if err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}

func TestPartSizeFor(t *testing.T) {
	s := &Store{partSize: DefaultPartSize}
	for _, size := range []int64{0, 1, DefaultPartSize, DefaultPartSize + 1, 100 << 30, MaxParts * DefaultPartSize, MaxParts*DefaultPartSize + 1, 1 << 40, 5 << 40} {
		ps := s.partSizeFor(size)
		if ps < DefaultPartSize {
			t.Errorf("partSizeFor(%d) = %d, below the configured size", size, ps)
		}
		if parts := (size + ps - 1) / ps; parts > MaxParts {
			t.Errorf("partSizeFor(%d) = %d gives %d parts", size, ps, parts)
		}
		if ps%(1<<20) != 0 {
			t.Errorf("partSizeFor(%d) = %d is not a whole number of MiB", size, ps)
		}
	}
	if ps := s.partSizeFor(100 << 30); ps != DefaultPartSize {
		t.Errorf("partSizeFor(100 GiB) = %d, want the default", ps)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, bucket, prefix string
		ok                 bool
	}{
		{"s3://bucket", "bucket", "", true},
		{"s3://bucket/", "bucket", "", true},
		{"s3://bucket/prefix", "bucket", "prefix", true},
		{"s3://bucket/a/b/", "bucket", "a/b", true},
		{"S3://my.bucket-1/maas/images", "my.bucket-1", "maas/images", true},
		{"s3://bucket/a:b/c", "bucket", "a:b/c", true},
		{"", "", "", false},
		{"bucket/prefix", "", "", false},
		{"https://bucket/prefix", "", "", false},
		{"s3://", "", "", false},
		{"s3:///prefix", "", "", false},
		{"s3://ab", "", "", false},
		{"s3://" + strings.Repeat("a", 64), "", "", false},
		{"s3://Bucket", "", "", false},
		{"s3://my_bucket", "", "", false},
		{"s3://-bucket", "", "", false},
		{"s3://bucket-", "", "", false},
		{"s3://my..bucket", "", "", false},
		{"s3://192.168.1.1", "", "", false},
		{"s3://xn--bucket", "", "", false},
		{"s3://bucket-s3alias", "", "", false},
		{"s3://key:secret@bucket/p", "", "", false},
		{"s3://host:9000/bucket", "", "", false},
		{"s3://bucket/a//b", "", "", false},
		{"s3://bucket/a/../b", "", "", false},
		{"s3://bucket/a\\b", "", "", false},
	} {
		b, p, err := ParseURL(tc.in)
		if tc.ok {
			if err != nil || b != tc.bucket || p != tc.prefix {
				t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tc.in, b, p, err, tc.bucket, tc.prefix)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseURL(%q) = %q, %q; want an error", tc.in, b, p)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL error shows credentials: %v", err)
		}
	}
}

// TestMemoryBudget: however many uploads run at once, the buffered object
// data stays within Config.Memory, and every upload completes.
func TestMemoryBudget(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	cfg := config(srv, srv.NewBucket(t))
	cfg.PartSize = MinPartSize
	cfg.Memory = 2*MinPartSize + 1<<20
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		size := int64(3*MinPartSize + 1000*i)
		if i%2 == 1 {
			size = 1 << 20 // small objects share the budget too
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := bytes.Repeat([]byte{byte(i)}, int(size))
			if _, err := s.Put(context.Background(), fmt.Sprintf("obj-%d", i), bytes.NewReader(data), size, target.PutOptions{SHA256: sum(data)}); err != nil {
				t.Errorf("put %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if s.mem.peak > cfg.Memory || s.mem.peak < 2*MinPartSize {
		t.Errorf("peak buffered %d bytes, want between two parts and the budget %d", s.mem.peak, cfg.Memory)
	}
	if s.mem.free != s.mem.total {
		t.Errorf("budget not returned: %d of %d free", s.mem.free, s.mem.total)
	}
}

// TestAbortIncompleteUploads: uploads older than the threshold are
// aborted, younger ones (a run in progress) are left alone.
func TestAbortIncompleteUploads(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	s := newStore(t, srv)
	ctx := context.Background()
	name := s.prefix + "stale/object"
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, name, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.AbortIncompleteUploads(ctx, time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("young upload: aborted %v, %v", got, err)
	}
	got, err := s.AbortIncompleteUploads(ctx, 0)
	if err != nil || len(got) != 1 || got[0] != "stale/object" {
		t.Fatalf("aborted %v, %v; want [stale/object]", got, err)
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.UploadID == id {
			t.Error("the upload is still there")
		}
	}
}

// TestConnectionsReused: when more requests than minio-go keeps idle
// connections by default (16) finish at once, as a wave of multipart parts
// does, a store keeps their connections for the next wave instead of
// closing them and opening new ones. The server is a stand-in that
// answers every PUT and counts connections (the shared versitygw closes
// each one).
func TestConnectionsReused(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s, err := New(context.Background(), Config{Bucket: "bucket", Endpoint: srv.URL, PathStyle: true,
		Region: "us-east-1", AccessKey: "k", SecretKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	const inFlight, waves = 48, 10
	for wave := range waves {
		var wg sync.WaitGroup
		for i := range inFlight {
			wg.Go(func() {
				body := fmt.Sprintf("object %d/%d", wave, i)
				if _, err := s.Put(context.Background(), fmt.Sprintf("k/%d/%d", wave, i), strings.NewReader(body), int64(len(body)), target.PutOptions{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := conns.Load(); n > 2*inFlight {
		t.Errorf("%d connections for %d waves of %d PUTs, want about %d", n, waves, inFlight, inFlight)
	}
}

// failReader fails the test if it is read.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("the body was read")
	return 0, io.ErrUnexpectedEOF
}

// TestHugeClaimRefused: an object whose size would need parts larger than
// the configured part size and the whole upload memory (a catalog claiming
// 16 TiB, its body sent without a length) is refused before anything is
// read, buffered or sent; the memory bound holds for any claimed size.
func TestHugeClaimRefused(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	cfg := config(srv, srv.NewBucket(t))
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{1 << 44, MaxParts*DefaultMemory + 1<<30} {
		_, err := s.Put(context.Background(), "huge", failReader{t}, size, target.PutOptions{})
		if !errors.Is(err, target.ErrTooLarge) || !strings.Contains(err.Error(), "huge") {
			t.Errorf("size %d: err = %v, want ErrTooLarge naming the key", size, err)
		}
	}
	if s.mem.peak != 0 {
		t.Errorf("peak buffered %d bytes, want 0", s.mem.peak)
	}
	// The largest size whose parts fit the memory is still uploaded in
	// parts (not refused up front).
	if ps := s.partSizeFor(MaxParts * DefaultMemory); ps > DefaultMemory {
		t.Errorf("part size %d for %d bytes exceeds the memory %d", ps, int64(MaxParts*DefaultMemory), int64(DefaultMemory))
	}
}

// holdPart holds the first part request once its whole body was read,
// as a server that has the part and has not yet stored it, until proceed
// is closed; then it forwards it. It records whether the client gave the
// request up (its context cancelled) meanwhile.
type holdPart struct {
	rt        http.RoundTripper
	once      sync.Once
	sent      chan struct{} // closed when the body was read in full
	proceed   chan struct{}
	abandoned atomic.Bool
}

func (h *holdPart) RoundTrip(req *http.Request) (*http.Response, error) {
	held := false
	if req.Method == http.MethodPut && req.URL.Query().Get("partNumber") != "" {
		h.once.Do(func() { held = true })
	}
	if !held {
		return h.rt.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body.Close()
	close(h.sent)
	<-h.proceed
	if err := req.Context().Err(); err != nil {
		h.abandoned.Store(true)
		return nil, err
	}
	fwd := req.Clone(req.Context())
	fwd.Body = io.NopCloser(bytes.NewReader(body))
	return h.rt.RoundTrip(fwd)
}

// TestCancelWaitsForSentPart: a Put cancelled while the server holds a
// part's whole body and has not answered waits for that answer before it
// aborts the upload. A server may store such a part after the abort, and
// the upload is then listed again (versitygw recreates its directory): the
// cancelled Put would leave an incomplete upload behind.
func TestCancelWaitsForSentPart(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	h := &holdPart{sent: make(chan struct{}), proceed: make(chan struct{})}
	wrapTransport = func(rt http.RoundTripper) http.RoundTripper { h.rt = rt; return h }
	t.Cleanup(func() { wrapTransport = nil })
	s := newStore(t, srv)
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, (3*MinPartSize+100)/7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "big", bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: sum(data)})
		done <- err
	}()
	<-h.sent
	cancel()
	close(h.proceed)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: %v, want context.Canceled", err)
	}
	if h.abandoned.Load() {
		t.Error("the cancelled Put gave up a part the server held in full, before its answer")
	}
	checkClean(t, s)
}

// TestResumableWithinBudget: resumable uploads that hold the whole memory
// budget in part buffers still write their resume records and complete
// (a record's write waited for the budget its own upload held, and every
// transfer of a sync stopped).
func TestResumableWithinBudget(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	cfg := config(srv, srv.NewBucket(t))
	cfg.PartSize = MinPartSize
	cfg.Memory = 2 * MinPartSize
	cfg.Concurrency = 2
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := bytes.Repeat([]byte{byte(i)}, 3*MinPartSize+100)
				_, err := s.PutResumable(context.Background(), fmt.Sprintf("big-%d", i), int64(len(data)), target.Sum{Algo: "sha256", Digest: sum(data)},
					target.PutOptions{SHA256: sum(data)}, func(from target.Resumed) (io.Reader, error) { return bytes.NewReader(data[from.Offset:]), nil })
				if err != nil {
					t.Errorf("put %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("resumable uploads within the memory budget never finished")
	}
	if s.mem.peak > cfg.Memory {
		t.Errorf("peak buffered %d bytes, over the budget %d", s.mem.peak, cfg.Memory)
	}
}

// TestConditionalOutsideBudget: while item uploads hold the whole upload
// memory (parts of items streaming slowly from the upstream), a
// conditional write (a lease renewal, the index) is still sent at once.
func TestConditionalOutsideBudget(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	cfg := config(srv, srv.NewBucket(t))
	cfg.PartSize = MinPartSize
	cfg.Memory = MinPartSize
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.mem.acquire(s.mem.total) // the parts of slow items
	lease := []byte(`{"holder":"test"}`)
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), ".ssmirror/lease.json", bytes.NewReader(lease), int64(len(lease)), target.PutOptions{IfAbsent: true})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("conditional put: %v", err)
		}
	case <-time.After(time.Minute):
		s.mem.release(s.mem.total)
		t.Fatal("a conditional write waited for the upload memory that item uploads held")
	}
	s.mem.release(s.mem.total)
}

// trickle sends the bodies of PUT requests slowly after their first 64
// KiB, as a slow link does, so a server that answers before reading the
// body has answered long before the body is through. It counts the PUTs.
type trickle struct {
	rt   http.RoundTripper
	puts atomic.Int32
}

func (tr *trickle) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.Body != nil {
		tr.puts.Add(1)
		req.Body = &slowBody{ReadCloser: req.Body}
	}
	return tr.rt.RoundTrip(req)
}

type slowBody struct {
	io.ReadCloser
	n int
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.n >= 64<<10 {
		time.Sleep(2 * time.Millisecond)
	}
	p = p[:min(len(p), 32<<10)]
	n, err := b.ReadCloser.Read(p)
	b.n += n
	return n, err
}

// TestConditionalLarge: conditional writes larger than a part are one PUT
// each, with the store's conditions. A server refuses a conditional PUT whose
// condition fails as soon as it has its headers, and closes the connection
// without reading more than 256 KiB of a larger body. The client then sees
// a reset, not the 412. A large conditional write whose condition already
// fails must still end in ErrPrecondition, with no body sent.
func TestConditionalLarge(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		useCreds(t, srv)
		tr := &trickle{}
		wrapTransport = func(rt http.RoundTripper) http.RoundTripper { tr.rt = rt; return tr }
		t.Cleanup(func() { wrapTransport = nil })
		cfg := config(srv, srv.NewBucket(t))
		cfg.PartSize = MinPartSize
		s, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		body := bytes.Repeat([]byte("x"), MinPartSize+1<<20) // larger than a part: still one PUT
		put := func(opts target.PutOptions) (string, error) {
			opts.SHA256 = sum(body)
			return s.Put(ctx, "streams/v1/index.json", bytes.NewReader(body), int64(len(body)), opts)
		}
		tag, err := put(target.PutOptions{IfAbsent: true})
		if err != nil {
			t.Fatalf("if absent: %v", err)
		}
		body[0] = 'y'
		tag2, err := put(target.PutOptions{IfMatch: tag})
		if err != nil {
			t.Fatalf("if match: %v", err)
		}
		before := tr.puts.Load()
		if _, err := put(target.PutOptions{IfAbsent: true}); !errors.Is(err, target.ErrPrecondition) {
			t.Errorf("if absent again: err = %v, want ErrPrecondition", err)
		}
		if _, err := put(target.PutOptions{IfMatch: tag}); !errors.Is(err, target.ErrPrecondition) {
			t.Errorf("if match a replaced ETag: err = %v, want ErrPrecondition", err)
		}
		if n := tr.puts.Load() - before; n != 0 {
			t.Errorf("%d PUT requests sent for writes whose condition had already failed, want 0", n)
		}
		obj, err := s.Stat(ctx, "streams/v1/index.json")
		if err != nil || obj.Size != int64(len(body)) || obj.ETag != tag2 {
			t.Errorf("stat = %+v, %v; want %d bytes, ETag %s", obj, err, len(body), tag2)
		}
	})
}
