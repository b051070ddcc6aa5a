package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The fairness check compares the items only: each tool's metadata,
// state and index page are its own.
func TestSameItems(t *testing.T) {
	ok := &run{}
	for _, tc := range []struct {
		name     string
		ss, peer map[string]string
		peerRun  *run
		diff     string
	}{
		{"same items, different metadata and state",
			map[string]string{"a/1.img": "xx", "a/b/2.img": "y", "streams/v1/index.json": "{}", ".ssmirror/state.json": "{}", "index.html": "<p>"},
			map[string]string{"a/1.img": "xx", "a/b/2.img": "y", "streams/v1/index.sjson": "{}", ".data/references.json": "{}"},
			ok, ""},
		{"an item missing", map[string]string{"a/1.img": "x", "a/2.img": "x"}, map[string]string{"a/1.img": "x"}, ok, "1 of ssmirror's items missing"},
		{"an extra item", map[string]string{"a/1.img": "x"}, map[string]string{"a/1.img": "x", "b/2.img": "x"}, ok, "1 items ssmirror does not have"},
		{"another size", map[string]string{"a/1.img": "x"}, map[string]string{"a/1.img": "xy"}, ok, "1 items of another size"},
		{"nothing mirrored", map[string]string{"streams/v1/index.json": "{}"}, map[string]string{}, ok, "no items"},
		{"sstream-mirror failed", map[string]string{"a/1.img": "x"}, map[string]string{"a/1.img": "x"}, &run{Exit: 2}, "sstream-mirror failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, peer := t.TempDir(), t.TempDir()
			writeFiles(t, ss, tc.ss)
			writeFiles(t, peer, tc.peer)
			got := sameItems(ss, peer, tc.peerRun)
			if got.diff != tc.diff {
				t.Errorf("diff = %q, want %q", got.diff, tc.diff)
			}
		})
	}
	if sameItems(t.TempDir(), t.TempDir(), nil) != nil {
		t.Error("sameItems without an sstream-mirror run is not nil")
	}
}

// MinIO's audit webhook posts one record per request, or a batch of them
// (JSON lines or an array); each counts once, by its API name.
func TestAuditLog(t *testing.T) {
	a := &auditLog{}
	srv := httptest.NewServer(http.HandlerFunc(a.serve))
	defer srv.Close()
	for _, body := range []string{
		`{"version":"1","api":{"name":"PutObject","bucket":"b"}}`,
		`{"api":{"name":"PutObject"}}` + "\n" + `{"api":{"name":"HeadObject"}}` + "\n",
		`[{"api":{"name":"ListObjectsV2"}},{"api":{"name":"PutObject"}}]`,
		`{"event":"no api name"}`,
	} {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	n, ops, err := a.since(1)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || ops["PutObject"] != 2 || ops["HeadObject"] != 1 || ops["ListObjectsV2"] != 1 {
		t.Errorf("since(1) = %d %v, want 4 (PutObject 2, HeadObject 1, ListObjectsV2 1)", n, ops)
	}
}

// The peers' snapshot unpacks into the work directory and nowhere else.
func TestUntar(t *testing.T) {
	tarball := func(t *testing.T, names ...string) string {
		p := filepath.Join(t.TempDir(), "x.tar.gz")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		gz := gzip.NewWriter(f)
		tw := tar.NewWriter(gz)
		for _, n := range names {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: 2, Typeflag: tar.TypeReg})
			tw.Write([]byte("hi"))
		}
		tw.Close()
		gz.Close()
		f.Close()
		return p
	}
	dest := t.TempDir()
	if err := untar(tarball(t, "simplestreams/bin/sstream-mirror"), dest); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "simplestreams", "bin", "sstream-mirror")); err != nil || string(b) != "hi" {
		t.Errorf("unpacked file = %q, %v", b, err)
	}
	if err := untar(tarball(t, "../escape"), t.TempDir()); err == nil || !strings.Contains(err.Error(), "leaves the directory") {
		t.Errorf("an entry outside the directory: err = %v", err)
	}
}

// The planning catalogs have the shape the report states: products ×
// versions × 5 items, half amd64, half arm64, in one products file.
func TestPlanFixture(t *testing.T) {
	for _, tc := range []struct{ items, products, versions int }{
		{100000, 5000, 4},
		{1000000, 10000, 20},
	} {
		if p, v, err := planShape(tc.items); err != nil || p != tc.products || v != tc.versions {
			t.Errorf("planShape(%d) = %d products × %d versions, %v; want %d × %d", tc.items, p, v, err, tc.products, tc.versions)
		}
	}
	for _, tc := range []struct{ items, products, versions int }{
		{2000, 100, 4},
	} {
		fx, err := planFixture(t.TempDir(), tc.items)
		if err != nil {
			t.Fatal(err)
		}
		if fx.Products != tc.products || fx.Versions != tc.versions {
			t.Errorf("%d items: %d products × %d versions, want %d × %d", tc.items, fx.Products, fx.Versions, tc.products, tc.versions)
		}
		data, err := os.ReadFile(filepath.Join(fx.Dir, "streams", "v1", "com.example.bench:plan.json"))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != fx.Bytes {
			t.Errorf("%d items: Bytes = %d, file has %d", tc.items, fx.Bytes, len(data))
		}
		var doc struct {
			Format   string `json:"format"`
			Products map[string]struct {
				Arch     string `json:"arch"`
				Versions map[string]struct {
					Items map[string]json.RawMessage `json:"items"`
				} `json:"versions"`
			} `json:"products"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%d items: products file: %v", tc.items, err)
		}
		items, arches := 0, map[string]int{}
		for _, p := range doc.Products {
			arches[p.Arch]++
			for _, v := range p.Versions {
				items += len(v.Items)
			}
		}
		if doc.Format != "products:1.0" || items != tc.items || arches["amd64"] != tc.products/2 || arches["arm64"] != tc.products/2 {
			t.Errorf("%d items: format %q, %d items, arches %v", tc.items, doc.Format, items, arches)
		}
	}
	for _, n := range []int{0, 2010, 1000040} {
		if _, _, err := planShape(n); err == nil {
			t.Errorf("planShape(%d): no error", n)
		}
	}
}
