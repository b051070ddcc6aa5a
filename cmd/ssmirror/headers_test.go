package main

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/internal/s3test"
)

// TestServingHeaders: items are served immutable for a long time, index
// and products files briefly, with the right Content-Type; both
// Cache-Control values can be changed.
func TestServingHeaders(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	bucket := srv.NewBucket(t)
	out, errOut, code := run(t, "sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
		"--metadata-cache-control", "public, max-age=300", f.srv.Root(), "s3://"+bucket+"/m", "arch=amd64", "--max", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	c := srv.Client(t)
	stat := func(key string) minio.ObjectInfo {
		info, err := c.StatObject(context.Background(), bucket, "m/"+key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	_, item := firstItem(t, f)
	cases := []struct{ key, cacheControl, contentType string }{
		{item, "public, max-age=31536000, immutable", "application/octet-stream"},
		{"streams/v1/index.json", "public, max-age=300", "application/json"},
		{"streams/v1/" + imagesCID + ".json", "public, max-age=300", "application/json"},
		{"streams/v1/index.sjson", "public, max-age=300", "text/plain; charset=utf-8"},
	}
	for _, c := range cases {
		info := stat(c.key)
		if got := info.Metadata.Get("Cache-Control"); got != c.cacheControl {
			t.Errorf("%s: Cache-Control %q, want %q", c.key, got, c.cacheControl)
		}
		if !strings.HasPrefix(info.ContentType, c.contentType) {
			t.Errorf("%s: Content-Type %q, want %q", c.key, info.ContentType, c.contentType)
		}
	}
}
