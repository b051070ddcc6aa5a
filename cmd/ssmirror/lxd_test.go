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

// lxdStream builds an image stream shaped like images.linuxcontainers.org
// (products os:release:arch:variant, versions YYYYMMDD_HH:MM, a metadata
// tarball with combined_squashfs_sha256 plus a squashfs rootfs) for amd64
// and arm64, two versions each. meta is the tarball's ftype and name:
// lxd.tar.xz for LXD, incus.tar.xz for Incus (whose products also carry
// requirements).
func lxdStream(t *testing.T, meta string) (*upstream.Tree, []lxdImage) {
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
				meta: upstream.Payload(dir+meta, 700+int64(i)),
				root: upstream.Payload(dir+"rootfs.squashfs", 5000+int64(i))}
			sum := sha256.Sum256(append(append([]byte{}, img.meta...), img.root...))
			img.fingerprint = hex.EncodeToString(sum[:])
			items[dir+meta], items[dir+"rootfs.squashfs"] = img.meta, img.root
			versions[v] = map[string]any{"items": map[string]any{
				meta: map[string]any{"ftype": meta, "path": dir + meta,
					"combined_squashfs_sha256": img.fingerprint},
				"root.squashfs": map[string]any{"ftype": "squashfs", "path": dir + "rootfs.squashfs"},
			}}
			images = append(images, img)
		}
		prod := map[string]any{
			"aliases": "ubuntu/jammy,ubuntu/22.04",
			"arch":    arch, "os": "Ubuntu", "release": "jammy", "release_title": "22.04",
			"variant": "default", "versions": versions,
		}
		if meta == "incus.tar.xz" {
			prod["requirements"] = map[string]any{"cgroup": "v2"}
		}
		products[pname] = prod
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
	// lxc and incus close connections without a word; that is not worth a log line.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// imageClient is a command-line client of LXD's image protocol: lxc
// (Debian's lxd-client) or incus (incus-client).
type imageClient struct {
	program string // lxc or incus
	meta    string // the metadata tarball it reads: lxd.tar.xz or incus.tar.xz
	conf    string // the environment variable naming its config directory
	require string // the environment variable that makes the client required
	pkg     string // the Debian package, for messages
}

// TestLXDClient publishes an LXD image stream into the real S3 server and
// reads it back with the real LXD client (lxc, Debian's lxd-client)
// through HTTPS in front of the bucket, as the README's "Use with LXD"
// recipe does: remote add, image list, and image export, which checks the
// bytes of both halves of an image against its fingerprint.
func TestLXDClient(t *testing.T) {
	testImageClient(t, imageClient{program: "lxc", meta: "lxd.tar.xz", conf: "LXD_CONF", require: "SSMIRROR_REQUIRE_LXC", pkg: "lxd-client"})
}

// TestIncusClient is TestLXDClient with an Incus image stream
// (incus.tar.xz and rootfs, products with requirements) and the real Incus
// client (incus, Debian's incus-client from bookworm-backports).
func TestIncusClient(t *testing.T) {
	testImageClient(t, imageClient{program: "incus", meta: "incus.tar.xz", conf: "INCUS_CONF", require: "SSMIRROR_REQUIRE_INCUS", pkg: "incus-client"})
}

func testImageClient(t *testing.T, c imageClient) {
	lxc, err := exec.LookPath(c.program)
	if err != nil {
		if os.Getenv(c.require) != "" {
			t.Fatalf("%s is set but %s is not installed", c.require, c.program)
		}
		t.Skipf("%s is not installed (Debian's %s; .ci/run installs it)", c.program, c.pkg)
	}
	tree, images := lxdStream(t, c.meta)
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

	// The client trusts the web server the way a machine trusts its CA: through
	// the system certificate pool, here SSL_CERT_FILE.
	conf := t.TempDir()
	ca := filepath.Join(conf, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: web.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	lxcRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(lxc, args...)
		cmd.Env = append(os.Environ(), c.conf+"="+conf, "HOME="+conf, "SSL_CERT_FILE="+ca)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s%s", c.program, strings.Join(args, " "), err, stdout.String(), stderr.String())
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
		t.Fatalf("%s image list: %v", c.program, err)
	}
	want := images[1] // amd64, 20250102_07:42
	if len(listed) != 1 || listed[0].Fingerprint != want.fingerprint {
		t.Fatalf("%s image list mirror: shows %+v, want only %s (%s %s)", c.program, listed, want.fingerprint, want.product, want.version)
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
	// The client adds the architecture-qualified forms itself.
	if fmt.Sprint(aliases) != "[ubuntu/22.04 ubuntu/22.04/amd64 ubuntu/jammy ubuntu/jammy/amd64]" {
		t.Errorf("aliases %v", aliases)
	}

	// Export by alias: the client downloads both files from the mirror and checks
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
