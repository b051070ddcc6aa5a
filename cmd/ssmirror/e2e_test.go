package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/monitor"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// scale shrinks the real MAAS sizes (hundreds of MB) to test sizes.
const scale = 20000

// run executes the command line in-process and returns its output and
// exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCommand()
	root.SetArgs(protectOr(args))
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx := context.Background()
	err := root.ExecuteContext(ctx)
	if err != nil {
		errb.WriteString(errorLine(err) + "\n")
	}
	return out.String(), errb.String(), exitCode(ctx, err)
}

type fixture struct {
	key     *gpg.SigningKey
	keyring string // path to the binary public keyring
	docs    []upstream.Doc
	tree    *upstream.Tree
	srv     *upstream.Server
	pending map[string]bool // objects allowed in the target while their grace period runs
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key, err := gpg.GenerateKey("ssmirror test", "test@example.invalid", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{key: key, keyring: filepath.Join(t.TempDir(), "keyring.gpg")}
	if err := os.WriteFile(f.keyring, key.PublicKeyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	f.docs, err = upstream.MAASDocs("../../testdata/maas")
	if err != nil {
		t.Fatal(err)
	}
	f.build(t)
	f.srv = upstream.Serve(t, f.tree)
	return f
}

// build regenerates the served tree from f.docs.
func (f *fixture) build(t *testing.T) {
	t.Helper()
	tree, err := upstream.Build(f.docs, upstream.Options{Scale: scale, Key: f.key})
	if err != nil {
		t.Fatal(err)
	}
	f.tree = tree
	if f.srv != nil {
		f.srv.Set(tree)
	}
}

// bucketStore is the store at s3://bucket/m on srv, to read a target as a
// client would.
func bucketStore(t *testing.T, srv *s3test.Server, bucket string) *s3store.Store {
	t.Helper()
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true,
		Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// maasFilter is the done-when selection: amd64 images, newest version,
// plus every grub/pxelinux bootloader.
var maasFilter = []string{"arch=amd64", "--max", "1", "--or", "os~(grub|pxelinux)"}

// expected computes, independently of the planner, which item paths the
// MAAS filter selects from f.docs: for every product, the newest version
// among those with matching items.
func (f *fixture) expected() map[string]bool {
	want := map[string]bool{}
	for _, d := range f.docs {
		for _, p := range d["products"].(map[string]any) {
			prod := p.(map[string]any)
			match := prod["arch"] == "amd64" || strings.Contains(str(prod["os"]), "grub") || strings.Contains(str(prod["os"]), "pxelinux")
			if !match {
				continue
			}
			vers := prod["versions"].(map[string]any)
			var names []string
			for v := range vers {
				names = append(names, v)
			}
			sort.Strings(names)
			newest := vers[names[len(names)-1]].(map[string]any)
			for _, it := range newest["items"].(map[string]any) {
				want[it.(map[string]any)["path"].(string)] = true
			}
		}
	}
	return want
}

func str(v any) string { s, _ := v.(string); return s }

// digestHex is the lower-case hex digest of body by algo (sha512, sha256
// or md5).
func digestHex(algo string, body []byte) string {
	switch algo {
	case "sha512":
		h := sha512.Sum512(body)
		return hex.EncodeToString(h[:])
	case "sha256":
		h := sha256.Sum256(body)
		return hex.EncodeToString(h[:])
	}
	h := md5.Sum(body)
	return hex.EncodeToString(h[:])
}

// checkMirror reads the target as a client would (checkJSON); the .sjson
// files must be the upstream bytes.
func (f *fixture) checkMirror(t *testing.T, st target.Store, want map[string]bool) {
	t.Helper()
	f.checkJSON(t, st, want)
	for p, body := range f.tree.Files {
		if strings.HasSuffix(p, ".sjson") && !bytes.Equal(readKey(t, st, p), body) {
			t.Errorf("%s: not the upstream signed bytes", p)
		}
	}
}

// checkJSON reads the target as a client would: the index.json, every
// products file it names, every item with its size and sha256. The items
// must be exactly want, and nothing but them and metadata is in the
// target.
func (f *fixture) checkJSON(t *testing.T, st target.Store, want map[string]bool) {
	t.Helper()
	read := func(key string) []byte { return readKey(t, st, key) }
	idx, err := catalog.DecodeIndex("index.json", read("streams/v1/index.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for cid, e := range idx.Entries {
		doc, err := catalog.DecodeProducts(e.Path, read(e.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e.Products, catalog.SortedKeys(doc.Products)) {
			t.Errorf("%s: index lists products %v, products file has %v", cid, e.Products, catalog.SortedKeys(doc.Products))
		}
		doc.Each(func(fl catalog.Flat) bool {
			got[fl.Item.Path] = true
			body := read(fl.Item.Path)
			sum := fl.Item.Strongest()
			if got := digestHex(sum.Algo, body); int64(len(body)) != fl.Item.Size || got != sum.Hex {
				t.Errorf("%s: size %d %s %s, catalog says %d %s", fl.Item.Path, len(body), sum.Algo, got, fl.Item.Size, sum.Hex)
			}
			if !bytes.Equal(body, f.tree.Files[fl.Item.Path]) {
				t.Errorf("%s: not the upstream bytes", fl.Item.Path)
			}
			return true
		})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mirrored items:\n got %v\nwant %v", catalog.SortedKeys(got), catalog.SortedKeys(want))
	}
	// Nothing else in the target but the mirror.
	st.List(context.Background(), "", func(o target.Object) error {
		if !got[o.Key] && !strings.HasPrefix(o.Key, "streams/v1/") && !plan.ToolObject(o.Key) && !f.pending[o.Key] {
			t.Errorf("unexpected object %s", o.Key)
		}
		return nil
	})
}

func itemRequests(f *fixture) int {
	n := 0
	for p := range f.tree.Files {
		if !strings.HasPrefix(p, "streams/") {
			n += f.srv.Requests(p)
		}
	}
	return n
}

type targetCase struct {
	name string
	// open returns the TARGET argument, extra flags, and the store to
	// inspect it with.
	open func(t *testing.T) (string, []string, target.Store)
}

func targets() []targetCase {
	return []targetCase{
		{"dir", func(t *testing.T) (string, []string, target.Store) {
			dir := filepath.Join(t.TempDir(), "mirror")
			st, err := dirstore.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			return dir, nil, st
		}},
		s3Target("s3", s3test.Versity),
	}
}

// serverTargets is targets with the S3 case on every server of the matrix
// (s3test.Kinds).
func serverTargets() []targetCase {
	cases := targets()[:1]
	for _, k := range s3test.Kinds {
		cases = append(cases, s3Target("s3-"+string(k), k))
	}
	return cases
}

// s3Target is a fresh bucket on the shared server of kind.
func s3Target(name string, kind s3test.Kind) targetCase {
	return targetCase{name, func(t *testing.T) (string, []string, target.Store) {
		srv := s3test.SharedKind(t, kind)
		bucket := srv.NewBucket(t)
		setS3Env(t, srv)
		st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "maas/stable", Endpoint: srv.Endpoint, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		return "s3://" + bucket + "/maas/stable", []string{"--endpoint", srv.Endpoint, "--path-style"}, st
	}}
}

func setS3Env(t *testing.T, srv *s3test.Server) {
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// TestSyncEndToEnd is the core workflow against a directory and the real
// S3 server: first sync, a re-run that transfers nothing, a mirror of the
// mirror, then an upstream change (a new version appears, the old one
// falls out under --max 1).
func TestSyncEndToEnd(t *testing.T) {
	for _, tc := range serverTargets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, st := tc.open(t)
			args := append(append([]string{"sync", "--keyring", f.keyring}, flags...), f.srv.Root(), dst)
			args = append(args, maasFilter...)

			out, errOut, code := run(t, args...)
			if code != 0 {
				t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
			}
			// The first publication in a bucket says how clients read it.
			if guidance := "mc anonymous set download ALIAS/"; strings.HasPrefix(tc.name, "s3") &&
				(!strings.Contains(out, guidance+strings.TrimPrefix(dst, "s3://")+"/") || !strings.Contains(out, "s3:GetObject")) {
				t.Errorf("no read-access guidance after the first publication:\n%s", out)
			}
			want := f.expected()
			f.checkMirror(t, st, want)
			if n := itemRequests(f); n != len(want) {
				t.Errorf("upstream item GETs = %d, want %d (each unique path once)", n, len(want))
			}

			// Second run: nothing to do, no item fetched.
			before := itemRequests(f)
			out, errOut, code = run(t, args...)
			if code != 0 || !strings.Contains(out, "nothing to do") || strings.Contains(out, "mc anonymous") {
				t.Fatalf("re-run exit %d\n%s%s", code, out, errOut)
			}
			if n := itemRequests(f) - before; n != 0 {
				t.Errorf("re-run fetched %d items", n)
			}

			// Mirror of the mirror, read through its unsigned index.json.
			second := filepath.Join(t.TempDir(), "second")
			srcArg := dst + "/streams/v1/index.json"
			out, errOut, code = run(t, append(append([]string{"sync"}, flags...), srcArg, second)...)
			if code != 0 {
				t.Fatalf("mirror of mirror exit %d\n%s%s", code, out, errOut)
			}
			st2, _ := dirstore.New(second)
			sameObjects(t, st, st2)

			// Upstream publishes a newer version of an amd64 product.
			const prod = "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04"
			old := newestVersion(t, f.docs[0], prod)
			if err := upstream.AddVersion(f.docs[0], prod, old, "20991231"); err != nil {
				t.Fatal(err)
			}
			f.build(t)
			oldWant := want
			out, errOut, code = run(t, args...)
			if code != 0 {
				t.Fatalf("update exit %d\n%s%s", code, out, errOut)
			}
			want = f.expected()
			// Within the grace period (default 24 h) the dropped
			// version's files stay readable for clients holding the old
			// index.
			f.pending = map[string]bool{}
			for p := range oldWant {
				if !want[p] {
					f.pending[p] = true
					readKey(t, st, p)
				}
			}
			if len(f.pending) == 0 {
				t.Fatal("the update dropped nothing; the test is wrong")
			}
			f.checkMirror(t, st, want)
			// With no grace period they go.
			f.pending = nil
			out, errOut, code = run(t, append([]string{args[0], "--gc-grace", "0"}, args[1:]...)...)
			if code != 0 {
				t.Fatalf("gc exit %d\n%s%s", code, out, errOut)
			}
			f.checkMirror(t, st, want)
			for p := range f.tree.Files {
				if strings.Contains(p, "/"+old+"/") && strings.HasPrefix(p, "noble/amd64/") {
					if _, _, err := st.Open(context.Background(), p); err == nil && !want[p] {
						t.Errorf("%s of the dropped version is still in the target", p)
					}
				}
			}
			if !strings.Contains(errOut, "deleted noble/amd64/"+old) {
				t.Errorf("update did not report deleting the old version:\n%s", errOut)
			}
		})
	}
}

func newestVersion(t *testing.T, doc upstream.Doc, prod string) string {
	vers := doc["products"].(map[string]any)[prod].(map[string]any)["versions"].(map[string]any)
	var names []string
	for v := range vers {
		names = append(names, v)
	}
	sort.Strings(names)
	return names[len(names)-1]
}

// sameObjects checks that two stores hold the same items with the same
// bytes (metadata may differ: the copy is unsigned).
func sameObjects(t *testing.T, a, b target.Store) {
	t.Helper()
	ctx := context.Background()
	list := func(s target.Store) map[string]int64 {
		m := map[string]int64{}
		s.List(ctx, "", func(o target.Object) error {
			// The status record and the browse page name the source and
			// the time of the run; the probe result and the kept upstream
			// copies are the tool's own, not published.
			if !strings.HasSuffix(o.Key, ".sjson") && o.Key != monitor.StatusKey && o.Key != plan.BrowsePage && o.Key != s3store.ProbeKey && !strings.HasPrefix(o.Key, ".ssmirror/upstream") {
				m[o.Key] = o.Size
			}
			return nil
		})
		return m
	}
	la, lb := list(a), list(b)
	if !reflect.DeepEqual(la, lb) {
		t.Fatalf("objects differ:\n%v\n%v", la, lb)
	}
	for k := range la {
		ra, _, _ := a.Open(ctx, k)
		rb, _, _ := b.Open(ctx, k)
		var ba, bb bytes.Buffer
		ba.ReadFrom(ra)
		bb.ReadFrom(rb)
		ra.Close()
		rb.Close()
		if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
			t.Errorf("%s differs", k)
		}
	}
}

var _ = json.Marshal

// TestNoOpRequests: a re-run with nothing to do sends the store a listing
// and the metadata, reads the store's probe result
// (.ssmirror/capabilities.json) and writes the status record
// (monitor.StatusKey): at most ceil(N/1000)+17 requests for N objects. The
// MAAS selection has three content ids, so seven metadata files. The
// upstream answers "not modified" for its four signed files, which the run
// reads once each from the target (they are published byte for byte: their
// own kept copies), and one request reads their record; their listed ETags
// spare reading them again.
func TestNoOpRequests(t *testing.T) {
	srv := s3test.Shared(t)
	f := newFixture(t)
	proxy := faultproxy.Start(t, srv.Endpoint)
	bucket := srv.NewBucket(t)
	setS3Env(t, srv)
	args := append([]string{"sync", "--keyring", f.keyring, "--endpoint", proxy.URL, "--path-style",
		f.srv.Root(), "s3://" + bucket + "/m"}, maasFilter...)
	if out, errOut, code := run(t, args...); code != 0 {
		t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := st.List(context.Background(), "", func(target.Object) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	before := len(proxy.Requests())
	out, errOut, code := run(t, args...)
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("re-run: exit %d, want 0 and nothing to do\n%s%s", code, out, errOut)
	}
	reqs := proxy.Requests()[before:]
	var lines []string
	reads := map[string]int{}
	for _, r := range reqs {
		lines = append(lines, r.Method+" "+r.Path+"?"+r.RawQuery)
		if r.Method == "GET" && strings.HasSuffix(r.Path, ".sjson") {
			if reads[r.Path]++; reads[r.Path] > 1 || strings.Contains(r.Path, "/.ssmirror/") {
				t.Errorf("the re-run read %s (%d times), want the published file once", r.Path, reads[r.Path])
			}
		}
	}
	if limit := (n+999)/1000 + 17; len(reqs) > limit {
		t.Errorf("the re-run sent %d requests for %d objects, want at most %d:\n%s", len(reqs), n, limit, strings.Join(lines, "\n"))
	}
}
