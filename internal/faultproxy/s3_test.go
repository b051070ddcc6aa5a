package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssmirror/ssmirror/internal/s3test"
)

// TestS3SignedRequestsPassThrough puts the proxy between a real S3 server
// and a SigV4-signing client: untouched requests must still verify (the
// proxy keeps the Host header and every signed header), and S3 faults
// reach the client as S3 errors.
func TestS3SignedRequestsPassThrough(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := Start(t, srv.Endpoint)
	c, err := minio.New(strings.TrimPrefix(p.URL, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		Region:       srv.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := bytes.Repeat([]byte("object body "), 1000)
	key := "streams/v1/com.ubuntu.maas:stable:v3:download.json"

	slow := p.Add(&Rule{Method: "PUT", First: 1, Fault: Status}) // 503 SlowDown
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		t.Fatalf("PutObject through the proxy (SlowDown once, then signed retry): %v", err)
	}
	if slow.Applied() != 1 || slow.Seen() < 2 {
		t.Errorf("SlowDown rule: seen %d applied %d, want >=2 and 1 (the client retried)", slow.Seen(), slow.Applied())
	}

	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GetObject through the proxy: %v (%d bytes)", err, len(got))
	}

	// A 403 is not retried by the client and comes back as S3 AccessDenied.
	p.Clear()
	p.Add(&Rule{Method: "HEAD", Nth: 1, Fault: Status, Code: 403})
	_, err = c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	var er minio.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != 403 {
		t.Errorf("StatObject with a 403 fault: %v", err)
	}
	// A truncated GET body surfaces as a read error, not as short content.
	p.Clear()
	p.Add(&Rule{Method: "GET", Fault: Truncate, After: 100})
	obj, err = c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err == nil {
		got, err = io.ReadAll(obj)
		obj.Close()
	}
	if err == nil {
		t.Errorf("truncated GET read %d bytes without error", len(got))
	}
}
