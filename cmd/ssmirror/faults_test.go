package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// TestFaults syncs through a fault-injecting proxy in front of the
// upstream and one in front of the S3 server. Transient faults are retried
// and the mirror completes; an item that keeps failing is reported, the
// rest is published, its product keeps its previous state, and the exit
// status says which kind of failure it was.
func TestFaults(t *testing.T) { s3test.Each(t, testFaults) }

// testFaults is TestFaults on one server.
func testFaults(t *testing.T, srv *s3test.Server) {
	setS3Env(t, srv)
	const squash = "noble/amd64/20250709/squashfs"
	squashRE := regexp.MustCompile(regexp.QuoteMeta(squash) + "$") // not the .manifest
	cases := []struct {
		name     string
		upstream []*faultproxy.Rule
		store    []*faultproxy.Rule
		code     int
		// with a failure: the product that must not have advanced
		heldBack string
		// ssmirror itself retried (net/http may retry a reset on its own)
		logged bool
	}{
		{name: "reset", upstream: []*faultproxy.Rule{{PathRE: squashRE, First: 2, Fault: faultproxy.Reset}}},
		{name: "truncated body resumed", upstream: []*faultproxy.Rule{{PathRE: squashRE, First: 1, Fault: faultproxy.Truncate, After: 1000}}, logged: true},
		{name: "stall", upstream: []*faultproxy.Rule{{PathRE: squashRE, First: 1, Fault: faultproxy.StallBody, After: 100}}, logged: true},
		{name: "slowdown", upstream: []*faultproxy.Rule{{Path: "/noble/", First: 3, Fault: faultproxy.Status, Code: 503}}, logged: true},
		{name: "server error", upstream: []*faultproxy.Rule{{Path: "/jammy/", First: 2, Fault: faultproxy.Status, Code: 500}}, logged: true},
		{name: "wrong bytes once", upstream: []*faultproxy.Rule{{PathRE: squashRE, First: 1, Fault: faultproxy.Corrupt, After: 10}}, logged: true},
		{name: "html page once", upstream: []*faultproxy.Rule{{PathRE: squashRE, First: 1, Fault: faultproxy.HTML}}, logged: true},
		{name: "metadata reset", upstream: []*faultproxy.Rule{{Path: "/streams/v1/index.sjson", First: 1, Fault: faultproxy.Reset}}},
		{name: "store slowdown", store: []*faultproxy.Rule{{Method: "PUT", Every: 3, Fault: faultproxy.Status, Code: 503}}},
		{name: "store reply lost", store: []*faultproxy.Rule{{Method: "PUT", Nth: 2, Fault: faultproxy.Reset, AfterForward: true}}},
		{
			name:     "wrong bytes always",
			upstream: []*faultproxy.Rule{{PathRE: squashRE, Fault: faultproxy.Corrupt, After: 10}},
			code:     4, heldBack: "24.04:amd64",
		},
		{
			name:     "unreachable item",
			upstream: []*faultproxy.Rule{{PathRE: squashRE, Fault: faultproxy.Status, Code: 503}},
			code:     3, heldBack: "24.04:amd64",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			up := faultproxy.Start(t, f.srv.URL)
			store := faultproxy.Start(t, srv.Endpoint)
			for _, r := range c.upstream {
				up.Add(r)
			}
			for _, r := range c.store {
				store.Add(r)
			}
			bucket := srv.NewBucket(t)
			out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, "--endpoint", store.URL, "--path-style",
				"--retries", "4", "--retry-delay", "10ms", "--idle-timeout", "300ms",
				up.URL + "/", "s3://" + bucket + "/m"}, maasFilter...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
			applied := int64(0)
			for _, r := range append(c.upstream, c.store...) {
				applied += r.Applied()
			}
			if applied == 0 {
				t.Fatal("no fault was injected; the test is wrong")
			}
			st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
			if err != nil {
				t.Fatal(err)
			}
			if c.code == 0 {
				f.checkMirror(t, st, f.expected())
				if c.logged && !strings.Contains(errOut, "msg=retrying") {
					t.Errorf("the retry was not logged:\n%s", errOut)
				}
				return
			}
			crashCheck(t, st, f.key.Keyring(), c.name)
			idx := string(readKey(t, st, "streams/v1/"+imagesCID+".json"))
			if strings.Contains(idx, c.heldBack) {
				t.Errorf("the product with the failing item was published")
			}
			if !strings.Contains(idx, "22.04:amd64") {
				t.Errorf("the other products were not published")
			}
			if !strings.Contains(errOut, squash) {
				t.Errorf("the failing item is not named:\n%s", errOut)
			}
		})
	}
}

// TestS3SourceResumes mirrors a mirror from one bucket into another
// through a proxy that cuts an item's body after 1,000 bytes: the read
// goes on from there with a ranged GET instead of starting over, and the
// copy is complete and verified.
func TestS3SourceResumes(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	from, to := srv.NewBucket(t), srv.NewBucket(t)
	out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
		f.srv.Root(), "s3://" + from + "/m"}, maasFilter...)...)
	if code != 0 {
		t.Fatalf("first mirror: exit %d\n%s%s", code, out, errOut)
	}

	const squash = "noble/amd64/20250709/squashfs"
	proxy := faultproxy.Start(t, srv.Endpoint)
	cut := proxy.Add(&faultproxy.Rule{Method: "GET", PathRE: regexp.MustCompile("^/" + from + "/m/.*" + regexp.QuoteMeta(squash) + "$"),
		First: 1, Fault: faultproxy.Truncate, After: 1000})
	out, errOut, code = run(t, append([]string{"sync", "--keyring", f.keyring, "--endpoint", proxy.URL, "--path-style",
		"--retries", "4", "--retry-delay", "10ms", "s3://" + from + "/m/", "s3://" + to + "/m"}, maasFilter...)...)
	if code != 0 {
		t.Fatalf("mirror of the mirror: exit %d\n%s%s", code, out, errOut)
	}
	if cut.Applied() != 1 {
		t.Fatalf("the body was cut %d times, want 1; the test is wrong", cut.Applied())
	}
	var ranges []string
	for _, r := range proxy.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, squash) {
			ranges = append(ranges, r.Header.Get("Range"))
		}
	}
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes=1000-" {
		t.Errorf("GETs of the item had Range headers %q, want a plain one, then \"bytes=1000-\"", ranges)
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: to, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	f.checkMirror(t, st, f.expected())
}
