package s3store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target"
)

// probed are the capabilities each real server is expected to show.
var probed = map[s3test.Kind]target.Capabilities{
	s3test.Versity:   target.Full,
	s3test.MinIO:     target.Full,
	s3test.SeaweedFS: target.Full,
}

// emulated are the capabilities each emulation must show, in front of
// versitygw.
var emulated = map[string]target.Capabilities{
	"ignores-conditional-writes": {ConditionalWrites: false, ChecksumSHA256: true, ContentMD5: true, StartAfter: true, Metadata: true},
	"rejects-checksum-header":    {ConditionalWrites: true, ChecksumSHA256: false, ContentMD5: true, StartAfter: true, Metadata: true},
	"ignores-wrong-checksum":     {ConditionalWrites: true, ChecksumSHA256: false, ContentMD5: true, StartAfter: true, Metadata: true},
	"ignores-start-after":        {ConditionalWrites: true, ChecksumSHA256: true, ContentMD5: true, StartAfter: false, Metadata: true},
	"conflicts-409":              target.Full, // retried
}

func logProbe(t *testing.T, p target.Probe) {
	t.Helper()
	for _, c := range p.Checks {
		t.Logf("%-45s want %-10s got %-40s ok %v", c.Name, c.Want, c.Got, c.OK)
	}
}

func TestProbeRealServers(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		useCreds(t, srv)
		st := newStore(t, srv)
		p, err := st.Probe(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		logProbe(t, p)
		if p.Capabilities != probed[srv.Kind] {
			t.Errorf("%s %s: probe found %+v, want %+v", srv.Kind, srv.Version, p.Capabilities, probed[srv.Kind])
		}
		if p.Server == "" || p.Endpoint != srv.Endpoint {
			t.Errorf("probe identifies the store as server %q at %q", p.Server, p.Endpoint)
		}
		checkClean(t, st)
		n := 0
		st.List(context.Background(), ".ssmirror/", func(o target.Object) error {
			if o.Key != ProbeKey {
				t.Errorf("probe left %s behind", o.Key)
			}
			n++
			return nil
		})
		if n != 1 {
			t.Errorf("%d objects under .ssmirror/, want the probe's result only", n)
		}
	})
}

// emulate returns a store reaching srv through a proxy that emulates name.
func emulate(t *testing.T, srv *s3test.Server, name string) (*Store, *faultproxy.Proxy) {
	t.Helper()
	p := faultproxy.Start(t, srv.Endpoint)
	p.Credentials = &faultproxy.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region}
	p.Emulate(name)
	cfg := config(srv, srv.NewBucket(t))
	cfg.Endpoint = p.URL
	cfg.AccessKey, cfg.SecretKey = srv.AccessKey, srv.SecretKey
	st, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, p
}

func TestProbeEmulations(t *testing.T) {
	srv := s3test.Shared(t)
	for _, e := range faultproxy.Emulations {
		t.Run(e.Name, func(t *testing.T) {
			st, _ := emulate(t, srv, e.Name)
			p, err := st.Probe(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			logProbe(t, p)
			want, ok := emulated[e.Name]
			if !ok {
				t.Fatalf("no expected capabilities for %s", e.Name)
			}
			if p.Capabilities != want {
				t.Errorf("probe found %+v, want %+v", p.Capabilities, want)
			}
		})
	}
}

// TestProbeCached checks that the result is kept in the store and reused
// while the endpoint and the server stay the same, and probed again when
// either changes.
func TestProbeCached(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	st := newStore(t, srv)
	ctx := context.Background()
	first, err := st.Probe(ctx, false)
	if err != nil || first.Cached {
		t.Fatalf("first probe: cached %v, %v", first.Cached, err)
	}
	again, err := st.Probe(ctx, false)
	if err != nil || !again.Cached || !again.Time.Equal(first.Time) || again.Capabilities != first.Capabilities {
		t.Fatalf("second probe: cached %v at %v (first at %v), %v", again.Cached, again.Time, first.Time, err)
	}
	if fresh, err := st.Probe(ctx, true); err != nil || fresh.Cached {
		t.Fatalf("fresh probe: cached %v, %v", fresh.Cached, err)
	}
	// Another server identity at the same place.
	other, err := New(ctx, config(srv, st.bucket))
	if err != nil {
		t.Fatal(err)
	}
	v := "SomeOtherStore/2.0"
	other.server.v.Store(&v)
	if p, err := other.Probe(ctx, false); err != nil || p.Cached || p.Server != v {
		t.Fatalf("probe of another server: cached %v, server %q, %v", p.Cached, p.Server, err)
	}
	// Another endpoint (the same server through a proxy).
	px := faultproxy.Start(t, srv.Endpoint)
	cfg := config(srv, st.bucket)
	cfg.Endpoint = px.URL
	viaProxy, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := viaProxy.Probe(ctx, false); err != nil || p.Cached || p.Endpoint != px.URL {
		t.Fatalf("probe at another endpoint: cached %v, endpoint %q, %v", p.Cached, p.Endpoint, err)
	}
}

// TestContentMD5WhenChecksumRejected: on a store that rejects the checksum
// header (B2), single PUTs and parts carry Content-MD5, which the server
// verifies: a body damaged on the way is refused and never visible at its
// key, and Stat still reports the verified SHA-256.
func TestContentMD5WhenChecksumRejected(t *testing.T) {
	srv := s3test.Shared(t)
	for _, name := range []string{"rejects-checksum-header", "ignores-wrong-checksum"} {
		t.Run(name, func(t *testing.T) {
			st, px := emulate(t, srv, name)
			// One part in flight: the refused part is the only one, so no
			// other part reaches the server after the upload was aborted.
			st.concurrency = 1
			ctx := context.Background()
			if _, err := st.Probe(ctx, true); err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{1000, 3 * MinPartSize / 2} { // single PUT, multipart
				data := bytes.Repeat([]byte("x"), size)
				key := "streams/v1/item-" + strings.Repeat("m", size%7)
				corrupt := px.Add(&faultproxy.Rule{Method: http.MethodPut, Path: key, Nth: 1, Fault: faultproxy.CorruptRequest, After: 100})
				_, err := st.Put(ctx, key, bytes.NewReader(data), int64(size), target.PutOptions{SHA256: sum(data)})
				if corrupt.Applied() != 1 {
					t.Fatalf("size %d: the body was not damaged on the way", size)
				}
				if size <= MinPartSize {
					if !errors.Is(err, target.ErrChecksum) {
						t.Fatalf("size %d: Put of a body damaged on the way = %v, want ErrChecksum from the server", size, err)
					}
					if _, err := st.Stat(ctx, key); !errors.Is(err, target.ErrNotExist) {
						t.Errorf("size %d: after the refused PUT, Stat = %v, want ErrNotExist", size, err)
					}
				} else {
					// The damaged part is refused (and sent again by the
					// client, or the upload aborted).
					parts := 0
					for _, r := range px.Requests() {
						if r.Method == http.MethodPut && strings.Contains(r.RawQuery, "partNumber=1&") {
							parts++
						}
					}
					if err == nil && parts < 2 {
						t.Errorf("size %d: the damaged part was accepted", size)
					}
				}
				if _, err := st.Put(ctx, key, bytes.NewReader(data), int64(size), target.PutOptions{SHA256: sum(data)}); err != nil {
					t.Fatalf("size %d: Put: %v", size, err)
				}
				o, err := st.Stat(ctx, key)
				if err != nil || o.SHA256 != hexSum(data) {
					t.Errorf("size %d: Stat = %+v, %v; want SHA256 %s", size, o, err, hexSum(data))
				}
				var md5s int
				for _, r := range px.Requests() {
					if r.Method == http.MethodPut && strings.Contains(r.Path, key) {
						if r.Header.Get("Content-Md5") != "" {
							md5s++
						}
						if r.Header.Get("X-Amz-Checksum-Sha256") != "" {
							t.Errorf("size %d: a PUT still sent x-amz-checksum-sha256", size)
						}
					}
				}
				if md5s == 0 {
					t.Errorf("size %d: no PUT carried Content-MD5", size)
				}
			}
			checkClean(t, st)
		})
	}
}

// TestConflictRetried: a conditional PUT answered 409
// ConditionalRequestConflict is tried again.
func TestConflictRetried(t *testing.T) {
	st, px := emulate(t, s3test.Shared(t), "conflicts-409")
	ctx := context.Background()
	rules := px.Requests
	for i := range 4 {
		etag, err := st.Put(ctx, "k", strings.NewReader("a"), 1, target.PutOptions{IfAbsent: i == 0})
		if err != nil {
			t.Fatalf("conditional Put %d: %v", i, err)
		}
		if _, err := st.Put(ctx, "k", strings.NewReader("b"), 1, target.PutOptions{IfMatch: etag}); err != nil {
			t.Fatalf("If-Match Put %d: %v", i, err)
		}
	}
	conflicts := 0
	for _, r := range rules() {
		if r.Fault == faultproxy.Status {
			conflicts++
		}
	}
	if conflicts == 0 {
		t.Error("no request was answered 409")
	}
	if _, err := st.Put(ctx, "k", strings.NewReader("c"), 1, target.PutOptions{IfAbsent: true}); !errors.Is(err, target.ErrPrecondition) {
		t.Errorf("IfAbsent on an existing key = %v, want ErrPrecondition", err)
	}
}

func hexSum(b []byte) string { return hex.EncodeToString(sum(b)) }

// TestProbeRemovesStaleScratchKeys: the scratch keys of a probe that was
// killed are removed by a later probe once they are old (staleProbe).
func TestProbeRemovesStaleScratchKeys(t *testing.T) {
	srv := s3test.Shared(t)
	useCreds(t, srv)
	st := newStore(t, srv)
	ctx := context.Background()
	const left = ".ssmirror/probe-000000000000/a"
	if _, err := st.Put(ctx, left, strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Probe(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, left); err != nil {
		t.Fatalf("a fresh scratch key was removed: %v", err)
	}
	defer func(d time.Duration) { staleProbe = d }(staleProbe)
	staleProbe = 0
	if _, err := st.Probe(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, left); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("stale scratch key still there: %v", err)
	}
}
