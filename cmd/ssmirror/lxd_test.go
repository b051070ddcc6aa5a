package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// lxdImage is one image of the generated LXD stream: its metadata tarball
// and its rootfs, and the fingerprint LXD gives it.
type lxdImage struct {
	product, version string
	meta, root       []byte
	fingerprint      string
}

// lxdStream builds an LXD image stream shaped like images.linuxcontainers.org
// (products os:release:arch:variant, versions YYYYMMDD_HH:MM, lxd.tar.xz
// with combined_squashfs_sha256 plus a squashfs rootfs) for amd64 and
// arm64, two versions each.
func lxdStream(t *testing.T) (*upstream.Tree, []lxdImage) {
	t.Helper()
	products := map[string]any{}
	items := map[string][]byte{}
	var images []lxdImage
	for _, arch := range []string{"amd64", "arm64"} {
		pname := "ubuntu:jammy:" + arch + ":default"
		versions := map[string]any{}
		for i, v := range []string{"20250101_07:42", "20250102_07:42"} {
			dir := "images/ubuntu/jammy/" + arch + "/default/" + v + "/"
			img := lxdImage{product: pname, version: v,
				meta: upstream.Payload(dir+"lxd.tar.xz", 700+int64(i)),
				root: upstream.Payload(dir+"rootfs.squashfs", 5000+int64(i))}
			sum := sha256.Sum256(append(append([]byte{}, img.meta...), img.root...))
			img.fingerprint = hex.EncodeToString(sum[:])
			items[dir+"lxd.tar.xz"], items[dir+"rootfs.squashfs"] = img.meta, img.root
			versions[v] = map[string]any{"items": map[string]any{
				"lxd.tar.xz": map[string]any{"ftype": "lxd.tar.xz", "path": dir + "lxd.tar.xz",
					"combined_squashfs_sha256": img.fingerprint},
				"root.squashfs": map[string]any{"ftype": "squashfs", "path": dir + "rootfs.squashfs"},
			}}
			images = append(images, img)
		}
		products[pname] = map[string]any{
			"aliases": "ubuntu/jammy,ubuntu/22.04",
			"arch":    arch, "os": "Ubuntu", "release": "jammy", "release_title": "22.04",
			"variant": "default", "versions": versions,
		}
	}
	doc := upstream.Doc{"content_id": "images", "datatype": "image-downloads",
		"format": "products:1.0", "updated": upstream.Updated, "products": products}
	tree, err := upstream.Build([]upstream.Doc{doc}, upstream.Options{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	return tree, images
}

// storeServer serves the objects of st over HTTPS, as a web server or CDN
// in front of the bucket would.
func storeServer(t *testing.T, st target.Store) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, obj, err := st.Open(r.Context(), strings.TrimPrefix(r.URL.Path, "/"))
		if errors.Is(err, target.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Length", strconv.FormatInt(obj.Size, 10))
		if r.Method != http.MethodHead {
			io.Copy(w, rc)
		}
	}))
	// lxc closes connections without a word; that is not worth a log line.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestLXDClient publishes an LXD image stream into the real S3 server and
// reads it back with the real LXD client (lxc, Debian's lxd-client)
// through HTTPS in front of the bucket, as the README's "Use with LXD"
// recipe does: remote add, image list, and image export, which checks the
// bytes of both halves of an image against its fingerprint.
func TestLXDClient(t *testing.T) {
	lxc, err := exec.LookPath("lxc")
	if err != nil {
		if os.Getenv("SSMIRROR_REQUIRE_LXC") != "" {
			t.Fatal("SSMIRROR_REQUIRE_LXC is set but lxc is not installed")
		}
		t.Skip("lxc is not installed (Debian's lxd-client; .ci/run installs it)")
	}
	tree, images := lxdStream(t)
	up := upstream.Serve(t, tree)

	s3 := s3test.Shared(t)
	setS3Env(t, s3)
	bucket := s3.NewBucket(t)
	out, errOut, code := run(t, "sync", "--signed-metadata", "none", "--endpoint", s3.Endpoint, "--path-style",
		up.Root()+"streams/v1/index.json", "s3://"+bucket+"/lxd", "arch=amd64", "--max", "1")
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Endpoint: s3.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	web := storeServer(t, st)

	// lxc trusts the web server the way a machine trusts its CA: through
	// the system certificate pool, here SSL_CERT_FILE.
	conf := t.TempDir()
	ca := filepath.Join(conf, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: web.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	lxcRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(lxc, args...)
		cmd.Env = append(os.Environ(), "LXD_CONF="+conf, "HOME="+conf, "SSL_CERT_FILE="+ca)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("lxc %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	lxcRun("remote", "add", "mirror", web.URL+"/lxd/", "--protocol=simplestreams", "--public")

	// The listing shows exactly the newest amd64 image.
	var listed []struct {
		Fingerprint string            `json:"fingerprint"`
		Size        int64             `json:"size"`
		Properties  map[string]string `json:"properties"`
		Aliases     []struct {
			Name string `json:"name"`
		} `json:"aliases"`
	}
	if err := json.Unmarshal([]byte(lxcRun("image", "list", "mirror:", "--format", "json")), &listed); err != nil {
		t.Fatalf("lxc image list: %v", err)
	}
	want := images[1] // amd64, 20250102_07:42
	if len(listed) != 1 || listed[0].Fingerprint != want.fingerprint {
		t.Fatalf("lxc image list mirror: shows %+v, want only %s (%s %s)", listed, want.fingerprint, want.product, want.version)
	}
	if got := listed[0].Size; got != int64(len(want.meta)+len(want.root)) {
		t.Errorf("listed size %d, want %d", got, len(want.meta)+len(want.root))
	}
	if got := listed[0].Properties["serial"]; got != want.version {
		t.Errorf("listed serial %q, want %q", got, want.version)
	}
	var aliases []string
	for _, a := range listed[0].Aliases {
		aliases = append(aliases, a.Name)
	}
	sort.Strings(aliases)
	// lxc adds the architecture-qualified forms itself.
	if fmt.Sprint(aliases) != "[ubuntu/22.04 ubuntu/22.04/amd64 ubuntu/jammy ubuntu/jammy/amd64]" {
		t.Errorf("aliases %v", aliases)
	}

	// Export by alias: lxc downloads both files from the mirror and checks
	// them against the fingerprint.
	dir := t.TempDir()
	lxcRun("image", "export", "mirror:ubuntu/jammy", dir+"/")
	got := map[string]bool{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case bytes.Equal(data, want.meta):
			got["meta"] = true
		case bytes.Equal(data, want.root):
			got["root"] = true
		default:
			t.Errorf("exported %s (%d bytes) is neither half of the image", e.Name(), len(data))
		}
	}
	if !got["meta"] || !got["root"] {
		t.Errorf("export wrote %v, want the metadata and the rootfs", entries)
	}
}
