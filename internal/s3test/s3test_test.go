package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func roundTrip(t *testing.T, s *Server) {
	t.Helper()
	ctx := context.Background()
	bucket := s.NewBucket(t)
	c := s.Client(t)
	data := []byte("hello")
	if _, err := c.PutObject(ctx, bucket, "a/b:c", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	obj, err := c.GetObject(ctx, bucket, "a/b:c", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if got, err := io.ReadAll(obj); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetObject = %q, %v", got, err)
	}
}

func TestStart(t *testing.T) {
	s := Start(t)
	roundTrip(t, s)
	if b1, b2 := s.NewBucket(t), s.NewBucket(t); b1 == b2 {
		t.Errorf("NewBucket returned %s twice", b1)
	}
}

func TestStartTLS(t *testing.T) {
	s := StartTLS(t)
	if s.CertFile == "" || s.Endpoint[:8] != "https://" {
		t.Fatalf("StartTLS: endpoint %s, cert %q", s.Endpoint, s.CertFile)
	}
	roundTrip(t, s)
}

func TestShared(t *testing.T) {
	s1 := Shared(t)
	s2 := Shared(t)
	if s1 != s2 {
		t.Error("Shared started two servers")
	}
	roundTrip(t, s1)
}

func TestBinaryFromEnv(t *testing.T) {
	bin, err := Binary(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSMIRROR_VERSITYGW", bin)
	if got, err := Binary(t.Logf); err != nil || got != bin {
		t.Errorf("Binary with SSMIRROR_VERSITYGW = %q, %v", got, err)
	}
	t.Setenv("SSMIRROR_VERSITYGW", "/nonexistent/versitygw")
	if _, err := Binary(t.Logf); err == nil {
		t.Error("Binary with a missing SSMIRROR_VERSITYGW succeeded")
	}
}

func TestSidecar(t *testing.T) {
	forceSidecar = true
	defer func() { forceSidecar = false }()
	s := Start(t)
	roundTrip(t, s)
	// Metadata such as the content type survives without xattrs.
	ctx := context.Background()
	bucket := s.NewBucket(t)
	c := s.Client(t)
	if _, err := c.PutObject(ctx, bucket, "x.json", bytes.NewReader([]byte("{}")), 2, minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	info, err := c.StatObject(ctx, bucket, "x.json", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "application/json" {
		t.Errorf("content type with sidecar metadata = %q", info.ContentType)
	}
}

func TestEach(t *testing.T) {
	Each(t, func(t *testing.T, s *Server) {
		if s.Version == "" {
			t.Errorf("%s: no version", s.Kind)
		}
		t.Logf("%s %s at %s", s.Kind, s.Version, s.Endpoint)
		roundTrip(t, s)
		if SharedKind(t, s.Kind) != s {
			t.Errorf("SharedKind(%s) started a second server", s.Kind)
		}
	})
}

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		env  string
		kind Kind
		want bool
	}{
		{"", MinIO, false},
		{"all", SeaweedFS, true},
		{"versitygw, minio", MinIO, true},
		{"versitygw,minio", SeaweedFS, false},
	} {
		t.Setenv("SSMIRROR_REQUIRE_SERVERS", tc.env)
		if got := Required(tc.kind); got != tc.want {
			t.Errorf("SSMIRROR_REQUIRE_SERVERS=%q: Required(%s) = %v", tc.env, tc.kind, got)
		}
	}
}

// RunMinIO passes its extra environment to MinIO: here an audit webhook,
// whose record of the PutObject must reach the listener.
func TestRunMinIOEnv(t *testing.T) {
	if _, err := cachedBinary(MinIO); err != nil {
		if Required(MinIO) {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	puts := make(chan struct{}, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"name":"PutObject"`)) {
			puts <- struct{}{}
		}
	}))
	defer hook.Close()
	s, err := RunMinIO(t.TempDir(), []string{"MINIO_AUDIT_WEBHOOK_ENABLE_t=on", "MINIO_AUDIT_WEBHOOK_ENDPOINT_t=" + hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.Kind != MinIO || s.Version == "" {
		t.Errorf("RunMinIO: kind %s, version %q", s.Kind, s.Version)
	}
	roundTrip(t, s)
	<-puts // the test's deadline fails it if the record never comes
}

// TestWeedVolumes: each bucket holding data takes a SeaweedFS volume of its
// own, so the server must have room for more buckets than a package's tests
// make under -cpu 1,2 (over a thousand), whatever the disk's free space.
func TestWeedVolumes(t *testing.T) {
	s := SharedKind(t, SeaweedFS)
	resp, err := http.Get(s.master + "/dir/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Topology struct{ Max, Free int } }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("master /dir/status: %v", err)
	}
	if st.Topology.Free < 4000 {
		t.Errorf("SeaweedFS has room for %d more volumes (of %d), want at least 4000", st.Topology.Free, st.Topology.Max)
	}
}
