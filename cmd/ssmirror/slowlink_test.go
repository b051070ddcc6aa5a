package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
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
func summaryEventOf(t *testing.T, out string) summaryEvent {
	t.Helper()
	for l := range strings.Lines(out) {
		var ev summaryEvent
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Type == "summary" {
			return ev
		}
	}
	t.Fatalf("no summary event in\n%s", out)
	return summaryEvent{}
}
