package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// smallJob returns a Job that mirrors a signed upstream of n items of a
// few bytes each (5 per version, 1 version per product), served on
// loopback, into s3://bucket/small; the caller opens its Target.
func smallJob(t *testing.T, n int, bucket string) Job {
	t.Helper()
	prods := map[string]any{}
	for p := range n / 5 {
		items := map[string]any{}
		for i := range 5 {
			items[fmt.Sprintf("f%d", i)] = map[string]any{"ftype": "txt", "size": json.Number("16"),
				"path": fmt.Sprintf("files/p%04d/20260101/f%d.txt", p, i)}
		}
		prods[fmt.Sprintf("com.example:p%04d", p)] = map[string]any{"arch": "amd64", "release": "x",
			"versions": map[string]any{"20260101": map[string]any{"items": items}}}
	}
	doc := upstream.Doc{"content_id": "com.example:small", "datatype": "image-downloads", "format": "products:1.0",
		"updated": upstream.Updated, "products": prods}
	job, _ := signedJob(t, []upstream.Doc{doc}, 1)
	job.Config.Target, job.PublicURL = "s3://"+bucket+"/small", "http://mirror.invalid/small/"
	return job
}

// s3Op names the S3 operation of a request, as a store's access log does.
func s3Op(r faultproxy.Request) string {
	q, _ := url.ParseQuery(r.RawQuery)
	key := strings.Count(strings.Trim(r.Path, "/"), "/") > 0
	switch {
	case r.Method == "GET" && q.Has("list-type"):
		return "ListObjectsV2"
	case r.Method == "GET" && q.Has("uploads"):
		return "ListMultipartUploads"
	case r.Method == "GET" && key:
		return "GetObject"
	case r.Method == "HEAD" && key:
		return "HeadObject"
	case r.Method == "HEAD":
		return "HeadBucket"
	case r.Method == "PUT" && key:
		return "PutObject"
	case r.Method == "DELETE" && key:
		return "DeleteObject"
	}
	return r.Method + " " + r.Path + "?" + r.RawQuery
}

// TestNoopRequests: a run with nothing to do, the store opened afresh as
// by a new process, sends the store at most ceil(N/1000)+10 requests for
// a mirror of N items: the listing, a page per 1,000 objects, and a few
// for the lease, the state, the kept upstream metadata and the status
// record; none rewrites what is unchanged.
func TestNoopRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 2,500 objects")
	}
	const n = 2500
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		ctx := context.Background()
		proxy := faultproxy.Start(t, srv.Endpoint)
		bucket := srv.NewBucket(t)
		job := smallJob(t, n, bucket)
		run := func() (*Result, *recorder) {
			t.Helper()
			st, err := s3store.New(ctx, s3store.Config{Bucket: bucket, Prefix: "small", Endpoint: proxy.URL,
				PathStyle: true, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			job.Target = st
			var rec recorder
			res, err := Sync(ctx, job, &rec)
			if err != nil || len(rec.warnings) > 0 {
				t.Fatalf("sync: %v; warnings %q", err, rec.warnings)
			}
			return res, &rec
		}
		if res, rec := run(); !res.Applied || rec.transfers != n {
			t.Fatalf("first run: applied %v, %d transfers (failed: %v)", res.Applied, rec.transfers, rec.failed)
		}
		before := len(proxy.Requests())
		if res, _ := run(); res.Applied || !res.Plan.Empty() {
			t.Errorf("second run: applied %v, %d transfers, %d files published", res.Applied, len(res.Plan.Transfers), len(res.Plan.Publish))
		}
		reqs := proxy.Requests()[before:]
		ops := map[string]int{}
		var lines []string
		for _, r := range reqs {
			ops[s3Op(r)]++
			lines = append(lines, r.Method+" "+r.Path+"?"+r.RawQuery)
		}
		t.Logf("%d requests: %v", len(reqs), ops)
		if limit := (n+999)/1000 + 10; len(reqs) > limit || ops["PutObject"] > 2 {
			t.Errorf("a run with nothing to do sent %d requests, want at most %d, with 2 PUTs at most (the lease, the status record): %v\n%s",
				len(reqs), limit, ops, strings.Join(lines, "\n"))
		}
	})
}
