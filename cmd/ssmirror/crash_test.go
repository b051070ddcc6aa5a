package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// killProxy sits between ssmirror and the S3 server. It forwards every
// request unchanged and, at the killAt-th request, SIGKILLs the ssmirror
// process: before forwarding, or (midBody) after reading half of the
// request body, so the server sees a broken upload.
type killProxy struct {
	rp      *httputil.ReverseProxy
	n       atomic.Int64
	killAt  int64
	midBody bool
	mu      sync.Mutex
	proc    *os.Process
	log     []string
}

func newKillProxy(t *testing.T, endpoint string) (*killProxy, string) {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	kp := &killProxy{rp: httputil.NewSingleHostReverseProxy(u)}
	srv := httptest.NewServer(kp)
	t.Cleanup(srv.Close)
	return kp, srv.URL
}

func (kp *killProxy) arm(killAt int64, midBody bool, p *os.Process) {
	kp.mu.Lock()
	kp.n.Store(0)
	kp.killAt, kp.midBody, kp.proc, kp.log = killAt, midBody, p, nil
	kp.mu.Unlock()
}

func (kp *killProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := kp.n.Add(1)
	kp.mu.Lock()
	kp.log = append(kp.log, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	kill := n == kp.killAt
	mid, proc := kp.midBody, kp.proc
	kp.mu.Unlock()
	if kill && proc != nil {
		if mid && r.ContentLength > 1 {
			io.CopyN(io.Discard, r.Body, r.ContentLength/2)
		}
		proc.Kill()
		http.Error(w, "killed", http.StatusServiceUnavailable)
		return
	}
	kp.rp.ServeHTTP(w, r)
}

// crashCheck reads the target as a client would and checks the invariant:
// every path the published index.json and index.sjson name (products
// files, items) exists, with its catalog size and SHA-256.
func crashCheck(t *testing.T, st target.Store, kr *gpg.Keyring, label string) {
	t.Helper()
	ctx := context.Background()
	read := func(key string) ([]byte, bool) {
		rc, _, err := st.Open(ctx, key)
		if err != nil {
			return nil, false
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return b, err == nil
	}
	check := func(index string, signed bool) {
		data, ok := read(index)
		if !ok {
			return // nothing published yet
		}
		if signed {
			var err error
			if data, _, err = kr.VerifyClearsigned(index, data, gpg.Options{}); err != nil {
				t.Errorf("%s: %s: %v", label, index, err)
				return
			}
		}
		idx, err := catalog.DecodeIndex(index, data)
		if err != nil {
			t.Errorf("%s: %v", label, err)
			return
		}
		for _, e := range idx.Entries {
			body, ok := read(e.Path)
			if !ok {
				t.Errorf("%s: %s names %s, which is missing", label, index, e.Path)
				continue
			}
			if signed {
				if body, _, err = kr.VerifyClearsigned(e.Path, body, gpg.Options{}); err != nil {
					t.Errorf("%s: %v", label, err)
					continue
				}
			}
			doc, err := catalog.DecodeProducts(e.Path, body)
			if err != nil {
				t.Errorf("%s: %v", label, err)
				continue
			}
			if signed {
				continue // the upstream signed catalog lists what was not selected
			}
			doc.Each(func(f catalog.Flat) bool {
				b, ok := read(f.Item.Path)
				h := sha256.Sum256(b)
				if !ok || int64(len(b)) != f.Item.Size || hex.EncodeToString(h[:]) != f.Item.SHA256 {
					t.Errorf("%s: %s names %s, which is missing or wrong (%d bytes)", label, e.Path, f.Item.Path, len(b))
				}
				return true
			})
		}
	}
	check("streams/v1/index.json", false)
	check("streams/v1/index.sjson", true)
}

// TestCrashConsistency kills a real ssmirror process with SIGKILL at many
// points of a first sync, an update and a garbage collection (listing,
// single uploads, multipart parts, metadata writes, deletes), checks after
// each kill that the target is a consistent mirror, then re-runs and
// checks that the run converges to the same mirror as an uninterrupted
// run, without fetching again what had arrived whole.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("kills many processes")
	}
	s3test.Each(t, testCrashConsistency)
}

// testCrashConsistency is TestCrashConsistency on one server.
func testCrashConsistency(t *testing.T, srv *s3test.Server) {
	setS3Env(t, srv)
	f := newFixture(t)
	// One item big enough for a multipart upload in 5 MiB parts.
	const big = "noble/amd64/20250709/squashfs"
	items := map[string][]byte{big: upstream.Payload(big, 11<<20+123)}
	rebuild := func() {
		tree, err := upstream.Build(f.docs, upstream.Options{Scale: scale, Key: f.key, Items: items})
		if err != nil {
			t.Fatal(err)
		}
		f.tree = tree
		f.srv.Set(tree)
	}
	rebuild()
	treeA := f.tree
	docsA, _ := upstream.MAASDocs("../../testdata/maas")
	const prod = "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04"
	old := newestVersion(t, f.docs[0], prod)
	if err := upstream.AddVersion(f.docs[0], prod, old, "20991231"); err != nil {
		t.Fatal(err)
	}
	items["noble/amd64/20991231/squashfs"] = upstream.Payload("new"+big, 11<<20+7)
	rebuild()
	treeB := f.tree
	kr := f.key.Keyring()
	kp, endpoint := newKillProxy(t, srv.Endpoint)
	bucket := srv.NewBucket(t)

	type scenario struct {
		name  string
		tree  *upstream.Tree
		docs  []upstream.Doc
		setup func(prefix string) // brings the prefix to the starting state
		extra []string
	}
	syncArgs := func(prefix string, extra ...string) []string {
		a := append([]string{"sync", "--keyring", f.keyring, "--endpoint", endpoint, "--path-style", "--part-size", "5MiB", "--transfers", "3"}, extra...)
		a = append(a, f.srv.Root(), "s3://"+bucket+"/"+prefix)
		return append(a, maasFilter...)
	}
	runClean := func(prefix string, tree *upstream.Tree, extra ...string) {
		t.Helper()
		f.srv.Set(tree)
		kp.arm(0, false, nil)
		p := start(t, nil, syncArgs(prefix, extra...)...)
		if code := p.wait(); code != 0 {
			t.Fatalf("clean run: exit %d\n%s", code, p.stderr.String())
		}
	}
	scenarios := []scenario{
		{"first", treeA, docsA, func(string) {}, nil},
		{"update", treeB, f.docs, func(p string) { runClean(p, treeA) }, nil},
		{"gc", treeB, f.docs, func(p string) { runClean(p, treeA); runClean(p, treeB) }, []string{"--gc-grace", "0"}},
	}
	points := 0
	for _, sc := range scenarios {
		// Count the requests of an uninterrupted run.
		ref := "ref-" + sc.name
		sc.setup(ref)
		runClean(ref, sc.tree, sc.extra...)
		total := kp.n.Load()
		log := append([]string(nil), kp.log...)
		var kills []struct {
			at  int64
			mid bool
		}
		for at := int64(1); at <= total; at += max(1, total/12) {
			kills = append(kills, struct {
				at  int64
				mid bool
			}{at, false})
		}
		for i, line := range log {
			if strings.HasPrefix(line, "PUT ") && (strings.Contains(line, "partNumber=2") || strings.Contains(line, "index.json") || strings.Contains(line, "state.json")) {
				kills = append(kills, struct {
					at  int64
					mid bool
				}{int64(i + 1), true})
			}
			if strings.HasPrefix(line, "DELETE ") && len(kills) < 40 {
				kills = append(kills, struct {
					at  int64
					mid bool
				}{int64(i + 1), false})
			}
		}
		for _, k := range kills {
			label := fmt.Sprintf("%s/kill-at-%d-mid-%v", sc.name, k.at, k.mid)
			prefix := strings.ReplaceAll(label, "/", "-")
			sc.setup(prefix)
			st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: prefix, Endpoint: srv.Endpoint, PathStyle: true})
			if err != nil {
				t.Fatal(err)
			}
			f.srv.Set(sc.tree)
			p := start(t, nil, syncArgs(prefix, sc.extra...)...)
			kp.arm(k.at, k.mid, p.cmd.Process)
			code := p.wait()
			kp.arm(0, false, nil)
			if code == 0 {
				continue // finished before the kill point (the order varies)
			}
			points++
			crashCheck(t, st, kr, label)

			// Objects whole in the target now must not be fetched again.
			present := map[string]bool{}
			st.List(context.Background(), "", func(o target.Object) error {
				if want, ok := sc.tree.Files[o.Key]; ok && int64(len(want)) == o.Size && !strings.HasPrefix(o.Key, "streams/") {
					present[o.Key] = true
				}
				return nil
			})
			before := map[string]int{}
			for k := range present {
				before[k] = f.srv.Requests(k)
			}
			q := start(t, nil, syncArgs(prefix, sc.extra...)...)
			if code := q.wait(); code != 0 {
				t.Errorf("%s: re-run exit %d\n%s", label, code, q.stderr.String())
				continue
			}
			for k := range present {
				if n := f.srv.Requests(k) - before[k]; n != 0 {
					t.Errorf("%s: re-run fetched %s again although it had arrived whole", label, k)
				}
			}
			crashCheck(t, st, kr, label+"/re-run")
			f.docs = sc.docs
			f.tree = sc.tree
			f.pending = map[string]bool{}
			if sc.name == "update" {
				for p := range treeA.Files {
					f.pending[p] = true // kept for the grace period
				}
			}
			f.checkMirror(t, st, f.expected())
		}
	}
	t.Logf("killed ssmirror at %d points", points)
	if points < 20 {
		t.Errorf("only %d kill points hit, want at least 20", points)
	}
}
