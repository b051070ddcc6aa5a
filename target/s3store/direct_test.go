package s3store

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target"
)

// putLog records the PUTs a store sends: whether minio-go sent them (it
// names itself in User-Agent) and the first status answered to each
// sender; failFirst makes the first PUT sent without minio-go answer 503.
type putLog struct {
	rt        http.RoundTripper
	failFirst bool
	mu        sync.Mutex
	sent      []string // "direct" or "minio-go", in order
}

func (p *putLog) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut {
		return p.rt.RoundTrip(req)
	}
	by := "direct"
	if strings.Contains(req.Header.Get("User-Agent"), "minio-go") {
		by = "minio-go"
	}
	p.mu.Lock()
	p.sent = append(p.sent, by)
	fail := p.failFirst && by == "direct"
	p.failFirst = p.failFirst && !fail
	p.mu.Unlock()
	if fail {
		req.Body.Close()
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("<Error><Code>SlowDown</Code></Error>")), Request: req}, nil
	}
	return p.rt.RoundTrip(req)
}

func (p *putLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sent
	p.sent = nil
	return s
}

// TestDirectPut: an unconditional single PUT to a path-style endpoint is
// one request sent without minio-go, which stores the bytes under the very
// key (one needing escapes too) with its checksum and returns the ETag the
// store reports; a PUT answered 503 is sent again through minio-go, which
// retries it (a refusal, 4xx, is reported as it is: see
// TestServerRejectsWrongChecksum); conditional writes go through minio-go
// alone.
func TestDirectPut(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	log := &putLog{}
	wrapTransport = func(rt http.RoundTripper) http.RoundTripper { log.rt = rt; return log }
	t.Cleanup(func() { wrapTransport = nil })
	s := newStore(t, srv)
	ctx := context.Background()
	data := bytes.Repeat([]byte("small item "), 200)

	check := func(key string, want []string) {
		t.Helper()
		if got := log.take(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("PUTs of %q sent by %v, want %v", key, got, want)
		}
		obj, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatalf("Stat %q: %v", key, err)
		}
		if obj.Size != int64(len(data)) || obj.SHA256 != hexSum(data) {
			t.Errorf("stored %q: size %d, SHA-256 %s; want %d, %s", key, obj.Size, obj.SHA256, len(data), hexSum(data))
		}
		rc, _, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if got, _ := io.ReadAll(rc); !bytes.Equal(got, data) {
			t.Errorf("%q holds %d bytes, not the %d put", key, len(got), len(data))
		}
	}

	for _, key := range []string{"pool/item.bin", "pool/a b+c~d=é%25.bin"} {
		etag, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: sum(data)})
		if err != nil {
			t.Fatalf("Put %q: %v", key, err)
		}
		check(key, []string{"direct"})
		if obj, _ := s.Stat(ctx, key); etag == "" || etag != obj.ETag {
			t.Errorf("Put %q returned ETag %q, the store reports %q", key, etag, obj.ETag)
		}
	}

	log.failFirst = true
	if _, err := s.Put(ctx, "pool/again.bin", bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: sum(data)}); err != nil {
		t.Fatalf("Put after a 503: %v", err)
	}
	check("pool/again.bin", []string{"direct", "minio-go"})

	if _, err := s.Put(ctx, "pool/cond.bin", bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: sum(data), IfAbsent: true}); err != nil {
		t.Fatalf("conditional Put: %v", err)
	}
	check("pool/cond.bin", []string{"minio-go"})
}

func TestDirectPutEndpoints(t *testing.T) {
	for _, c := range []struct {
		endpoint  string
		pathStyle bool
		want      string // the PUT URL of object "k", "" for none
	}{
		{"http://127.0.0.1:9000", false, "http://127.0.0.1:9000/bkt/k"},
		{"http://minio.example:80", false, "http://minio.example/bkt/k"},
		{"https://[::1]:443", true, "https://[::1]/bkt/k"},
		{"https://s3.amazonaws.com", true, ""},
		{"https://storage.googleapis.com", false, ""},
		{"https://storage.googleapis.com", true, "https://storage.googleapis.com/bkt/k"},
	} {
		u, err := parseEndpoint(c.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if d := newDirectPut(&signer{}, *u, "bkt", c.pathStyle); d != nil {
			got = d.scheme + "://" + d.host + d.base + "k"
		}
		if got != c.want {
			t.Errorf("%s (path style %v): direct PUTs to %q, want %q", c.endpoint, c.pathStyle, got, c.want)
		}
	}
}
