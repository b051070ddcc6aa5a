package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// snapshot returns the bytes of every object in st, by key.
func snapshot(t *testing.T, st target.Store) map[string][]byte {
	t.Helper()
	objs := map[string][]byte{}
	err := st.List(context.Background(), "", func(o target.Object) error {
		objs[o.Key] = readKey(t, st, o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestMetadataPutFails: the store refuses one products file for good. The
// run exits 1 naming it, publishes no index (neither index.json nor
// index.sjson) and nothing after the refused file, and the mirror as
// published before is intact.
func TestMetadataPutFails(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	bucket := srv.NewBucket(t)
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	args := func(endpoint string) []string {
		return syncArgsFor(f, "s3://"+bucket+"/m", []string{"--endpoint", endpoint, "--path-style"})
	}
	if out, errOut, code := run(t, args(srv.Endpoint)...); code != 0 {
		t.Fatalf("first sync: exit %d\n%s%s", code, out, errOut)
	}
	before := snapshot(t, st)
	replaceVersion(t, f, gaNoble, "20991231")
	f.build(t)
	proxy := faultproxy.Start(t, srv.Endpoint)
	products := "streams/v1/" + imagesCID + ".json"
	refuse := proxy.Add(&faultproxy.Rule{Method: "PUT", Path: "/m/" + products, Fault: faultproxy.Status, Code: 403})
	out, errOut, code := run(t, args(proxy.URL)...)
	if code != 1 || !strings.Contains(errOut, products) {
		t.Fatalf("exit %d, want 1 naming %s\n%s%s", code, products, out, errOut)
	}
	if refuse.Applied() == 0 {
		t.Fatal("the products file was never refused; the test is wrong")
	}
	// Nothing was written after the refused file.
	reqs := proxy.Requests()
	for i, r := range reqs {
		if r.Rule != "" {
			for _, later := range reqs[i+1:] {
				if later.Method == "PUT" && !strings.Contains(later.Path, ".ssmirror/lease.json") || later.Method == "DELETE" && !strings.Contains(later.Path, ".ssmirror/lease.json") {
					t.Errorf("%s %s after the refused products file", later.Method, later.Path)
				}
			}
			break
		}
	}
	after := snapshot(t, st)
	for _, k := range []string{plan.IndexJSON, plan.IndexSJSON} {
		if !bytes.Equal(before[k], after[k]) {
			t.Errorf("%s changed although a products file it names was refused", k)
		}
	}
	for k, body := range before {
		if !strings.HasPrefix(k, ".ssmirror/") && !bytes.Equal(after[k], body) {
			t.Errorf("%s changed or vanished", k)
		}
	}
	crashCheck(t, st, f.key.Keyring(), "refused products file")
}
