package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/target"
)

// TestStreamedItemVerified: an item larger than a part and up to
// --multipart-threshold streams from the upstream into the store in one
// PUT. When the upstream serves it with its last byte or a middle byte
// wrong, the run fails with exit 4 naming the item and its checksum, the
// store holds nothing at the item's key and no upload, and its product is
// not published; once the upstream is right, the next run stores it in
// one PUT, not in parts.
func TestStreamedItemVerified(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		setS3Env(t, srv)
		f := newFixture(t)
		const squash = "noble/amd64/20250709/squashfs"
		good := upstream.Payload(squash, 7<<20+321)
		f.rebuildWith(t, map[string][]byte{squash: good})
		bucket := srv.NewBucket(t)
		st := bucketStore(t, srv, bucket)
		args := append([]string{"sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
			"--part-size", "5MiB", "--multipart-threshold", "16MiB", "--retries", "1", f.srv.Root(), "s3://" + bucket + "/m"}, maasFilter...)

		for _, at := range []int{len(good) - 1, len(good) / 2} {
			bad := append([]byte(nil), good...)
			bad[at] ^= 0x55
			f.tree.Files[squash] = bad
			out, errOut, code := run(t, args...)
			if code != 4 || !strings.Contains(errOut, squash) || !strings.Contains(errOut, "sha256") {
				t.Errorf("byte %d wrong: exit %d, want 4 naming %s and its sha256\n%s%s", at, code, squash, out, errOut)
			}
			if o, err := st.Stat(context.Background(), squash); !errors.Is(err, target.ErrNotExist) {
				t.Errorf("byte %d wrong: the store holds %s (%+v, %v)", at, squash, o, err)
			}
			for up := range srv.Client(t).ListIncompleteUploads(context.Background(), bucket, "", true) {
				t.Errorf("byte %d wrong: incomplete upload of %s left (%v)", at, up.Key, up.Err)
			}
			if data, ok := readAll(st, "streams/v1/"+imagesCID+".json"); ok && strings.Contains(string(data), squash) {
				t.Errorf("byte %d wrong: the products file names %s", at, squash)
			}
		}

		f.tree.Files[squash] = good
		before := countParts(t, srv, bucket)
		if out, errOut, code := run(t, args...); code != 0 {
			t.Fatalf("good upstream: exit %d\n%s%s", code, out, errOut)
		}
		data, ok := readAll(st, squash)
		if !ok || string(data) != string(good) {
			t.Errorf("%s: stored %d bytes, want the upstream's %d", squash, len(data), len(good))
		}
		if n := countParts(t, srv, bucket) - before; n != 0 {
			t.Errorf("%d multipart objects, want none: %s is one streamed PUT", n, squash)
		}
	})
}

// countParts counts the objects under bucket whose ETag says they were
// multipart uploads (an S3 multipart ETag ends in -N).
func countParts(t *testing.T, srv *s3test.Server, bucket string) int {
	n := 0
	for o := range srv.Client(t).ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.Contains(o.ETag, "-") {
			n++
		}
	}
	return n
}
