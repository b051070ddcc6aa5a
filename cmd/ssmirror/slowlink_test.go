package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source/metacache"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// TestLowSpeed syncs into the S3 server from an upstream whose first
// answer for an item trickles in one byte every 20 ms, well inside the
// idle timeout: with --low-speed the transfer is cut once it falls below
// the rate over the window, resumed with a ranged GET, and the run
// completes.
func TestLowSpeed(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	const squash = "noble/amd64/20250709/squashfs"
	var (
		mu     sync.Mutex
		ranges []string
		once   sync.Once
	)
	f.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/"+squash) {
			return false
		}
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		trickled := false
		once.Do(func() {
			upstream.Trickle(w, r, f.srv.File(strings.TrimPrefix(r.URL.Path, "/")), 20*time.Millisecond)
			trickled = true
		})
		return trickled
	})
	bucket := srv.NewBucket(t)
	out, errOut, code := run(t, append([]string{"sync", "-v", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
		"--retries", "4", "--retry-delay", "10ms", "--idle-timeout", "10s", "--low-speed", "10K/300ms",
		f.srv.Root(), "s3://" + bucket + "/m"}, maasFilter...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "below the minimum rate") {
		t.Errorf("the cut was not logged:\n%s", errOut)
	}
	mu.Lock()
	got := append([]string(nil), ranges...)
	mu.Unlock()
	if len(got) != 2 || got[0] != "" || !strings.HasPrefix(got[1], "bytes=") || got[1] == "bytes=0-" {
		t.Errorf("GETs of the item had Range headers %q, want a plain one, then one resuming after the trickled bytes", got)
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	f.checkMirror(t, st, f.expected())
}

// TestBWLimit syncs into the S3 server with --bwlimit: every transfer
// together stays under the limit (the mean rate over the run can only
// exceed it by the limiter's burst, a tenth of a second's worth), and the
// JSON summary reports the limit and the mean rate.
func TestBWLimit(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	bucket := srv.NewBucket(t)
	const limit = 32 << 10
	out, errOut, code := run(t, append([]string{"sync", "--json", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
		"--transfers", "8", "--bwlimit", "32K", f.srv.Root(), "s3://" + bucket + "/m"}, maasFilter...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	sum := summaryEventOf(t, out)
	if sum.BWLimit != "32K" {
		t.Errorf("summary bwlimit %q, want 32K", sum.BWLimit)
	}
	if sum.TransferredBytes < 2*limit {
		t.Fatalf("only %d bytes transferred: too few to measure a rate; the test is wrong", sum.TransferredBytes)
	}
	if sum.BytesPerSecond <= 0 || sum.BytesPerSecond > limit*11/10 {
		t.Errorf("mean rate %d bytes/s, want at most the limit %d (and a burst)", sum.BytesPerSecond, limit)
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	f.checkMirror(t, st, f.expected())
}

// summaryEventOf returns the summary event of a --json run's stdout.
func summaryEventOf(t *testing.T, out string) ui.SummaryEvent {
	t.Helper()
	for l := range strings.Lines(out) {
		var ev ui.SummaryEvent
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Type == "summary" {
			return ev
		}
	}
	t.Fatalf("no summary event in\n%s", out)
	return ui.SummaryEvent{}
}

// TestConditionalMetadata: a re-run sends conditional requests for the
// upstream's metadata files and, answered "not modified", reads them from
// the copies kept in the target: under 2 KB of each comes from upstream
// (here: none), into the S3 server and a directory. With --signed-metadata
// upstream the published files are the copies; otherwise they are kept
// under .ssmirror/upstream/. A changed file is fetched whole; a kept copy
// that does not verify fails the run with exit 4, and is never trusted.
func TestConditionalMetadata(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	for _, kind := range []string{"s3", "dir", "dir-none"} {
		t.Run(kind, func(t *testing.T) {
			mode := "upstream"
			if kind == "dir-none" {
				mode = "none"
			}
			f := newFixture(t)
			dst := filepath.Join(t.TempDir(), "mirror")
			var st target.Store
			if kind == "s3" {
				bucket := srv.NewBucket(t)
				dst = "s3://" + bucket + "/m"
				var err error
				if st, err = s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true}); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"sync", "--json", "--gc-grace", "0", "--signed-metadata", mode, "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style", f.srv.Root(), dst}, maasFilter...)
			if out, errOut, code := run(t, args...); code != 0 {
				t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
			}
			if kind != "s3" {
				var err error
				if st, err = dirstore.New(dst); err != nil {
					t.Fatal(err)
				}
			}
			var meta []string
			for p := range f.tree.Files {
				if strings.HasSuffix(p, ".sjson") {
					meta = append(meta, p)
				}
			}
			before := map[string]int64{}
			for _, p := range meta {
				before[p] = f.srv.Bytes(p)
			}
			out, errOut, code := run(t, args...)
			if code != 0 {
				t.Fatalf("re-run: exit %d\n%s%s", code, out, errOut)
			}
			fetched := 0
			for _, p := range meta {
				n := f.srv.Bytes(p) - before[p]
				if n >= 2048 {
					t.Errorf("the re-run fetched %d bytes of %s, want under 2 KB", n, p)
				}
				if before[p] > 0 {
					fetched++
				}
			}
			if fetched != 4 {
				t.Fatalf("%d signed metadata files were fetched by the first run, want 4 (index and three products); the test is wrong", fetched)
			}
			sum := summaryEventOf(t, out)
			if sum.UpstreamRequests != 4 || sum.UpstreamBytes >= 4*2048 {
				t.Errorf("summary: %d upstream requests, %d bytes; want 4 requests and under 2 KB a file", sum.UpstreamRequests, sum.UpstreamBytes)
			}

			// A new version upstream: the changed files are fetched whole
			// and the mirror follows.
			if err := upstream.AddVersion(f.docs[0], "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04", "20250709", "20250801"); err != nil {
				t.Fatal(err)
			}
			f.build(t)
			if out, errOut, code := run(t, args...); code != 0 {
				t.Fatalf("run after a change: exit %d\n%s%s", code, out, errOut)
			}
			if mode == "upstream" {
				f.checkMirror(t, st, f.expected())
			} else {
				f.checkJSON(t, st, f.expected())
			}

			// A kept copy that no longer verifies (its record updated to
			// match, as an attacker with write access to the target could)
			// fails the run: the copy is verified like a download.
			const products = "streams/v1/com.ubuntu.maas:stable:v3:download.sjson"
			var copies []string
			st.List(context.Background(), metacache.Dir, func(o target.Object) error {
				copies = append(copies, o.Key)
				return nil
			})
			copyKey := metacache.Dir + products
			if mode == "upstream" {
				copyKey = products // published byte for byte: its own copy
				if len(copies) != 0 {
					t.Errorf("copies of published files kept: %v", copies)
				}
			} else if len(copies) != 4 {
				t.Errorf("kept copies %v, want the four signed files", copies)
			}
			body := readKey(t, st, copyKey)
			bad := bytes.Replace(body, []byte(`"20250801"`), []byte(`"20250802"`), 1)
			if bytes.Equal(bad, body) {
				t.Fatal("nothing to change in the kept copy; the test is wrong")
			}
			putKey(t, st, copyKey, bad)
			s1, s2 := sha256.Sum256(body), sha256.Sum256(bad)
			putKey(t, st, metacache.Key, bytes.Replace(readKey(t, st, metacache.Key), []byte(hex.EncodeToString(s1[:])), []byte(hex.EncodeToString(s2[:])), 1))
			out, errOut, code = run(t, args...)
			if code != 4 || !strings.Contains(errOut, products) || !strings.Contains(errOut, "copy kept in the target") {
				t.Errorf("tampered copy: exit %d, want 4 naming %s and the kept copy\n%s%s", code, products, out, errOut)
			}
		})
	}
}

// TestMirrorFailover syncs into the S3 server from a primary upstream
// that fails an item, with a second upstream given as --mirror: once
// answering 503 for good, once cutting the body part way and then
// answering 503. The item comes from the mirror (the cut one from where
// the primary stopped, with a ranged GET), the run completes, metadata
// comes from the primary only, and the summary says how many bytes came
// from where, and at what measured rate.
func TestMirrorFailover(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	const squash = "noble/amd64/20250709/squashfs"
	squashRE := regexp.MustCompile(regexp.QuoteMeta(squash) + "$")
	for _, c := range []struct {
		name  string
		rules []*faultproxy.Rule
		rng   string // the Range header the mirror's GET of the item has
		waste int64  // bytes read from the primary and not used
	}{
		{"unreachable", []*faultproxy.Rule{{PathRE: squashRE, Fault: faultproxy.Status, Code: 503}}, "", 0},
		{"cut", []*faultproxy.Rule{
			{PathRE: squashRE, First: 1, Fault: faultproxy.Truncate, After: 1000},
			{PathRE: squashRE, Fault: faultproxy.Status, Code: 503},
		}, "bytes=1000-", 0},
		// Wrong bytes: the item is tried again as a whole, from the mirror.
		{"wrong bytes", []*faultproxy.Rule{{PathRE: squashRE, Fault: faultproxy.Corrupt, After: 10}}, "", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			primary := faultproxy.Start(t, f.srv.URL)
			for _, r := range c.rules {
				primary.Add(r)
			}
			other := upstream.Serve(t, f.tree)
			var (
				mu     sync.Mutex
				ranges []string
				meta   []string
			)
			other.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				if strings.HasSuffix(r.URL.Path, "/"+squash) {
					ranges = append(ranges, r.Header.Get("Range"))
				}
				if strings.HasPrefix(r.URL.Path, "/streams/") {
					meta = append(meta, r.URL.Path)
				}
				return false
			})
			bucket := srv.NewBucket(t)
			out, errOut, code := run(t, append([]string{"sync", "--json", "-v", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
				"--retries", "2", "--retry-delay", "10ms", "--mirror", other.Root(),
				primary.URL + "/", "s3://" + bucket + "/m"}, maasFilter...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			mu.Lock()
			gotRanges, gotMeta := append([]string(nil), ranges...), append([]string(nil), meta...)
			mu.Unlock()
			if len(gotRanges) != 1 || gotRanges[0] != c.rng {
				t.Errorf("the mirror's GETs of the item had Range headers %q, want [%q]", gotRanges, c.rng)
			}
			if len(gotMeta) != 0 {
				t.Errorf("metadata was read from the mirror: %v", gotMeta)
			}
			if !strings.Contains(errOut, "reading from another mirror") {
				t.Errorf("the failover was not logged:\n%s", errOut)
			}
			sum := summaryEventOf(t, out)
			size := int64(len(f.tree.Files[squash]))
			if c.waste < 0 {
				c.waste = size // the whole wrong body
			}
			if len(sum.BytesBySource) != 2 || sum.BytesBySource[1].Source != other.Root() ||
				sum.BytesBySource[1].Bytes != size-rangeStart(c.rng) ||
				sum.BytesBySource[0].Bytes+sum.BytesBySource[1].Bytes != sum.TransferredBytes+c.waste {
				t.Errorf("bytes by source %+v, want %d from %s and the rest (of %d) from the primary", sum.BytesBySource, size-rangeStart(c.rng), other.Root(), sum.TransferredBytes)
			}
			for _, sb := range sum.BytesBySource {
				if (sb.Bytes > 0) != (sb.Rate > 0) {
					t.Errorf("%s gave %d bytes at a measured %v B/s", sb.Source, sb.Bytes, sb.Rate)
				}
			}
			st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
			if err != nil {
				t.Fatal(err)
			}
			f.checkMirror(t, st, f.expected())
		})
	}
}

// rangeStart is N of "bytes=N-", 0 for "".
func rangeStart(h string) int64 {
	var n int64
	fmt.Sscanf(h, "bytes=%d-", &n)
	return n
}

// TestLowSpeedGivesUp: an upstream that trickles an item for good (ranged
// requests too) does not hang the run: the item fails after its tries,
// the rest is published, and the exit status is 3.
func TestLowSpeedGivesUp(t *testing.T) {
	f := newFixture(t)
	const squash = "noble/amd64/20250709/squashfs"
	f.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/"+squash) {
			return false
		}
		upstream.Trickle(w, r, f.srv.File(squash), 20*time.Millisecond)
		return true
	})
	out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring,
		"--retries", "2", "--retry-delay", "10ms", "--idle-timeout", "10s", "--low-speed", "10K/200ms",
		f.srv.Root(), filepath.Join(t.TempDir(), "m")}, maasFilter...)...)
	if code != 3 || !strings.Contains(errOut, squash) || !strings.Contains(errOut, "below the minimum rate") {
		t.Fatalf("exit %d, want 3 naming the item and the minimum rate\n%s%s", code, out, errOut)
	}
}
