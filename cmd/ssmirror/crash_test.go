package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// killPoint is where a run is killed: at the at-th request the proxy
// receives, counting only those of method (if set) whose path and query
// contain path (if set) and that steps selects (if set); when mid, after
// half of that request's body has reached the server.
type killPoint struct {
	at           int64
	mid          bool
	method, path string
	steps        *steps
}

// steps selects the requests a killPoint counts. (A pointer, so that
// killPoints stay comparable.)
type steps struct {
	name    string
	selects func(*http.Request) bool
}

func (k killPoint) String() string {
	s := fmt.Sprintf("kill-at-%d", k.at)
	if k.method != "" || k.path != "" {
		name := strings.Trim(k.path, "/?&")
		name = strings.NewReplacer("=", "", "&", "").Replace(name[strings.LastIndex(name, "/")+1:])
		s += "-of-" + strings.Trim(k.method+"-"+name, "-")
	}
	if k.steps != nil {
		s += "-of-" + k.steps.name
	}
	if k.mid {
		s += "-mid-body"
	}
	return s
}

// matches reports whether the request r, logged as line, counts for k. A
// kind of request (method or path set) never counts the requests of
// resume records (.ssmirror/resume/): whether a transfer writes and then
// deletes one depends on the order its parts finish in.
func (k killPoint) matches(r *http.Request, line string) bool {
	if (k.method != "" || k.path != "") && strings.Contains(line, "/.ssmirror/resume/") {
		return false
	}
	return (k.method == "" || k.method == r.Method) && strings.Contains(line, k.path) &&
		(k.steps == nil || k.steps.selects(r))
}

// killProxy sits between ssmirror and the S3 server. It forwards every
// request unchanged and, at the armed point, signals the ssmirror process.
// With SIGKILL it then answers nothing more: the request at the point and
// every later one fail without reaching the server, except that a mid-body
// point first sends the server the request's headers (with the full
// Content-Length) and half of its body, then breaks the connection, so the
// server sees a broken upload. With any other signal the request at the
// point is held, never forwarded, until the process gives it up; the
// requests of its shutdown are forwarded.
type killProxy struct {
	rp       *httputil.ReverseProxy
	upstream *url.URL
	mu       sync.Mutex
	matched  int64 // requests since arm that count for point
	firedAt  int64 // the request number at which the signal was sent
	point    killPoint
	sig      os.Signal
	proc     *os.Process
	ready    chan struct{} // closed once proc is set
	handled  chan struct{} // closed once the request at the point is answered
	killed   bool
	partial  int64 // body bytes a mid-body kill sent the server: half of it, or 0 if that failed
	log      []string
}

func newKillProxy(t *testing.T, endpoint string) (*killProxy, string) {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	kp := &killProxy{rp: httputil.NewSingleHostReverseProxy(u), upstream: u}
	srv := httptest.NewServer(kp)
	t.Cleanup(srv.Close)
	return kp, srv.URL
}

// arm resets the request count and log and makes the proxy send sig at
// pt (at 0: never) to the process attach names.
func (kp *killProxy) arm(pt killPoint, sig os.Signal) {
	kp.mu.Lock()
	kp.point, kp.sig, kp.proc, kp.log = pt, sig, nil, nil
	kp.killed, kp.partial, kp.matched, kp.firedAt = false, 0, 0, 0
	kp.ready, kp.handled = make(chan struct{}), make(chan struct{})
	kp.mu.Unlock()
}

// attach names the process to signal.
func (kp *killProxy) attach(p *os.Process) {
	kp.mu.Lock()
	kp.proc = p
	close(kp.ready)
	kp.mu.Unlock()
}

// start arms the proxy with pt and sig, then starts ssmirror with args
// and attaches it, so that no request of the run goes uncounted.
func (kp *killProxy) start(t *testing.T, pt killPoint, sig os.Signal, args ...string) *proc {
	t.Helper()
	kp.arm(pt, sig)
	p := start(t, nil, args...)
	kp.attach(p.cmd.Process)
	return p
}

// fired returns the number of the request at which the signal was sent
// (0: none), the log of the run's requests, and the body bytes a mid-body
// kill sent the server (half the body; 0 if it could not). Once the
// signal was sent, it waits until the proxy has finished with the request
// at the point (the process may be gone before that).
func (kp *killProxy) fired() (at int64, log []string, partial int64) {
	kp.mu.Lock()
	at, handled := kp.firedAt, kp.handled
	kp.mu.Unlock()
	if at > 0 {
		<-handled
	}
	kp.mu.Lock()
	defer kp.mu.Unlock()
	return kp.firedAt, append([]string(nil), kp.log...), kp.partial
}

// counted returns the number of requests since arm that counted for the
// point.
func (kp *killProxy) counted() int64 {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	return kp.matched
}

// killed is the outcome of killRun.
type killed struct {
	p       *proc
	at      int64    // the number of the request at the point (0: not killed)
	line    string   // that request
	log     []string // the run's requests
	partial int64    // as fired returns it
}

// killRun runs ssmirror with args through kp, to be SIGKILLed at pt, and
// disarms kp after it. It fails the test if the proxy signalled the run
// and it did not die of SIGKILL, or if it died of a signal the proxy did
// not send; k.at > 0 only for a real SIGKILL at the point (0: the run
// ended before it).
func (kp *killProxy) killRun(t *testing.T, pt killPoint, args ...string) (k killed) {
	t.Helper()
	k.p = kp.start(t, pt, os.Kill, args...)
	k.p.wait()
	k.at, k.log, k.partial = kp.fired()
	kp.arm(killPoint{}, nil)
	ws, ok := k.p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	sigkill := ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	switch {
	case k.at > 0 && !sigkill:
		t.Errorf("%s: killed, but the run ended %v\n%s", pt, k.p.cmd.ProcessState, k.p.stderr.String())
		k.at = 0
	case k.at == 0 && ok && ws.Signaled():
		t.Errorf("%s: died of a signal the test did not send: %v\n%s", pt, k.p.cmd.ProcessState, k.p.stderr.String())
	}
	if k.at > 0 {
		k.line = k.log[k.at-1]
	}
	return k
}

func (kp *killProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kp.mu.Lock()
	line := r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
	kp.log = append(kp.log, line)
	n := int64(len(kp.log))
	counts := kp.point.matches(r, line)
	if counts {
		kp.matched++
	}
	fire := kp.sig != nil && kp.firedAt == 0 && kp.point.at > 0 && kp.matched == kp.point.at && counts
	if fire {
		kp.firedAt = n
	}
	mid, sig, dead, ready := kp.point.mid, kp.sig, kp.killed, kp.ready
	if fire && sig == os.Kill {
		kp.killed = true
	}
	kp.mu.Unlock()
	var proc *os.Process
	if fire {
		<-ready // the process may send its first request before start has attached it
		kp.mu.Lock()
		proc = kp.proc
		defer close(kp.handled) // this arming's channel
		kp.mu.Unlock()
	}
	switch {
	case dead:
		http.Error(w, "killed", http.StatusServiceUnavailable)
	case fire && sig != os.Kill:
		// The request is held until the process, shutting down, gives it
		// up (a safety net ends the wait for one that does not).
		proc.Signal(sig)
		io.Copy(io.Discard, r.Body) // until it ends or the client goes away
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		http.Error(w, "interrupted", http.StatusServiceUnavailable)
	case fire:
		var head []byte
		if mid && r.ContentLength > 1 {
			head = make([]byte, r.ContentLength/2)
			if _, err := io.ReadFull(r.Body, head); err != nil {
				head = nil
			}
		}
		proc.Kill()
		if head != nil {
			if sent := kp.sendPartial(r, head); sent == int64(len(head)) {
				kp.mu.Lock()
				kp.partial = sent
				kp.mu.Unlock()
			}
		}
		http.Error(w, "killed", http.StatusServiceUnavailable)
	default:
		kp.rp.ServeHTTP(w, r)
	}
}

// sendPartial sends the server r with its full Content-Length but only
// the body bytes in head, then closes the connection, and returns the
// number of body bytes written.
func (kp *killProxy) sendPartial(r *http.Request, head []byte) int64 {
	conn, err := net.Dial("tcp", kp.upstream.Host)
	if err != nil {
		return 0
	}
	defer conn.Close()
	out := r.Clone(context.Background())
	out.URL.Scheme, out.URL.Host = kp.upstream.Scheme, kp.upstream.Host
	out.RequestURI = ""
	out.Header.Del("Expect")
	body := &countingReader{r: io.MultiReader(bytes.NewReader(head), errReader{})}
	out.Body = io.NopCloser(body)
	out.Write(unbuffered{conn}) // fails at errReader: the rest never comes
	return body.n
}

// unbuffered makes Request.Write write straight to the connection (it
// buffers writers that are not io.ByteWriters, and does not flush the
// buffer when the body fails).
type unbuffered struct{ net.Conn }

func (u unbuffered) WriteByte(c byte) error {
	_, err := u.Write([]byte{c})
	return err
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("the client was killed") }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// crashCheck reads the target as a client would and checks the invariant:
// every path the published index.json and index.sjson name (products
// files, items) exists, with its catalog size and SHA-256. A missing index
// passes (nothing published yet; requirePublished is the check where a
// mirror was published before). It returns the items index.json names.
func crashCheck(t *testing.T, st target.Store, kr *gpg.Keyring, label string) map[string]catalog.Item {
	t.Helper()
	items := map[string]catalog.Item{}
	check := func(index string, signed bool) {
		data, ok := readAll(st, index)
		if !ok {
			return
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
			body, ok := readAll(st, e.Path)
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
				items[f.Item.Path] = *f.Item
				checkItem(t, st, label, e.Path, *f.Item)
				return true
			})
		}
	}
	check("streams/v1/index.json", false)
	check("streams/v1/index.sjson", true)
	return items
}

// requirePublished checks, after a failed or killed run on a target where
// a mirror had been published, that both indexes are still there and that
// every item prev (what crashCheck returned before the run) names is still
// readable with its size and SHA-256.
func requirePublished(t *testing.T, st target.Store, label string, prev map[string]catalog.Item) {
	t.Helper()
	for _, index := range []string{"streams/v1/index.json", "streams/v1/index.sjson"} {
		if _, ok := readAll(st, index); !ok {
			t.Errorf("%s: %s is missing although a mirror was published before the run", label, index)
		}
	}
	for _, it := range prev {
		checkItem(t, st, label, "the index published before the run", it)
	}
}

// checkItem checks that the item is readable with its size and SHA-256.
func checkItem(t *testing.T, st target.Store, label, namedBy string, it catalog.Item) {
	t.Helper()
	b, ok := readAll(st, it.Path)
	h := sha256.Sum256(b)
	if !ok || int64(len(b)) != it.Size || hex.EncodeToString(h[:]) != it.SHA256 {
		t.Errorf("%s: %s names %s, which is missing or wrong (%d bytes)", label, namedBy, it.Path, len(b))
	}
}

// readAll reads the object at key, reporting whether it could.
func readAll(st target.Store, key string) ([]byte, bool) {
	rc, _, err := st.Open(context.Background(), key)
	if err != nil {
		return nil, false
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, err == nil
}

// crashKillPoints is the least number of distinct points (scenario,
// request number, mid-body or not) at which TestCrashConsistency kills
// ssmirror; the README states it. The exact number varies a little from
// run to run: the concurrent transfers' requests (parts, resume records)
// interleave differently, so planned kills fall on the same request more
// or less often.
const crashKillPoints = 65

// TestCrashConsistency kills a real ssmirror process with SIGKILL at
// at least crashKillPoints distinct points of a first sync, an update and a
// garbage collection: evenly spaced requests, the second part of each
// multipart upload and each metadata write (products files, indexes, the
// state) in the middle of its body, deletions. After each kill it checks that the
// process died of SIGKILL, that the target is a consistent mirror
// (crashCheck), that a mirror published before the run is still published
// with every item its index.json named (requirePublished), and that a
// kill in the middle of a part left the server holding the broken
// multipart upload. Then it re-runs and checks that the run converges to
// the same mirror as an uninterrupted run, without fetching again what had
// arrived whole.
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
	// One item big enough for a multipart upload in 5 MiB parts (over the
	// 8 MiB --multipart-threshold), one streamed in one PUT (over a part).
	const (
		big      = "noble/amd64/20250709/squashfs"
		streamed = "noble/amd64/20250709/ga-24.04/generic/boot-initrd"
	)
	items := map[string][]byte{big: upstream.Payload(big, 11<<20+123), streamed: upstream.Payload(streamed, 6<<20+55)}
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
	s3c := srv.Client(t)

	type scenario struct {
		name  string
		tree  *upstream.Tree
		docs  []upstream.Doc
		setup func(prefix string) // brings the prefix to the starting state
		extra []string
	}
	syncArgs := func(prefix string, extra ...string) []string {
		a := append([]string{"sync", "--keyring", f.keyring, "--endpoint", endpoint, "--path-style", "--part-size", "5MiB", "--multipart-threshold", "8MiB", "--transfers", "3"}, extra...)
		a = append(a, f.srv.Root(), "s3://"+bucket+"/"+prefix)
		return append(a, maasFilter...)
	}
	runClean := func(prefix string, tree *upstream.Tree, extra ...string) {
		t.Helper()
		f.srv.Set(tree)
		p := kp.start(t, killPoint{}, nil, syncArgs(prefix, extra...)...)
		if code := p.wait(); code != 0 {
			t.Fatalf("clean run: exit %d\n%s", code, p.stderr.String())
		}
	}
	scenarios := []scenario{
		{"first", treeA, docsA, func(string) {}, nil},
		{"update", treeB, f.docs, func(p string) { runClean(p, treeA) }, nil},
		{"gc", treeB, f.docs, func(p string) { runClean(p, treeA); runClean(p, treeB) }, []string{"--gc-grace", "0"}},
	}
	distinct := map[string]bool{} // scenario, request number, mid-body
	midParts, midStreams := 0, 0
	for _, sc := range scenarios {
		// Count the requests of an uninterrupted run.
		ref := "ref-" + sc.name
		sc.setup(ref)
		runClean(ref, sc.tree, sc.extra...)
		_, log, _ := kp.fired()
		// Positional points stop where every run is sure to get: the
		// writes of resume records (.ssmirror/resume/) are coalesced while
		// parts upload at once, so their number varies from run to run.
		total := int64(len(log))
		for _, line := range log {
			if strings.Contains(line, "/.ssmirror/resume/") {
				total--
			}
		}
		var kills []killPoint
		seen := map[killPoint]bool{}
		add := func(k killPoint) {
			if !seen[k] {
				seen[k] = true
				kills = append(kills, k)
			}
		}
		for at := int64(1); at <= total; at += max(1, total/12) {
			add(killPoint{at: at})
		}
		// The n-th of each kind of request, whatever the order of the
		// concurrent transfers: the second part of each multipart upload,
		// each metadata write (products files, indexes, the state; in the
		// middle of their bodies), deletions.
		nth := map[killPoint]int64{}
		for _, line := range log {
			method, target, _ := strings.Cut(line, " ")
			if strings.Contains(target, "/.ssmirror/resume/") {
				continue // not counted by kinds (killPoint.matches)
			}
			key, _, _ := strings.Cut(target, "?")
			if parts := strings.SplitN(key, "/", 4); len(parts) == 4 {
				key = parts[3] // after /bucket/prefix/
			}
			var kind killPoint
			switch {
			case method == "PUT" && strings.Contains(line, "partNumber=2&"):
				kind = killPoint{mid: true, method: "PUT", path: "partNumber=2&"}
			case method == "PUT" && key == streamed:
				kind = killPoint{mid: true, method: "PUT", path: "/" + key}
			case method == "PUT" && (strings.HasPrefix(key, "streams/v1/") || key == ".ssmirror/state.json"):
				kind = killPoint{mid: true, method: "PUT", path: "/" + key + "?"}
			case method == "DELETE" && len(kills) < 40:
				kind = killPoint{method: "DELETE"}
			default:
				continue
			}
			nth[kind]++
			kind.at = nth[kind]
			add(kind)
		}
		for _, k := range kills {
			label := sc.name + "/" + k.String()
			prefix := strings.ReplaceAll(label, "/", "-")
			sc.setup(prefix)
			st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: prefix, Endpoint: srv.Endpoint, PathStyle: true})
			if err != nil {
				t.Fatal(err)
			}
			prev := crashCheck(t, st, kr, label+"/before")
			_, published := readAll(st, "streams/v1/index.json")
			f.srv.Set(sc.tree)
			run := kp.killRun(t, k, syncArgs(prefix, sc.extra...)...)
			if run.at == 0 {
				t.Errorf("%s: the run was not killed at the point: %v\n%s", label, run.p.cmd.ProcessState, run.p.stderr.String())
				continue
			}
			line, partial := run.line, run.partial
			distinct[fmt.Sprintf("%s %d %v", sc.name, run.at, k.mid)] = true
			crashCheck(t, st, kr, label)
			if published {
				requirePublished(t, st, label, prev)
			}
			if k.mid {
				if partial <= 0 {
					t.Errorf("%s: half the body did not reach the server (%s)", label, line)
				}
				if strings.Contains(line, "partNumber=2&") {
					_, target, _ := strings.Cut(line, " /"+bucket+"/")
					key, _, _ := strings.Cut(target, "?")
					if ups := incompleteUploads(t, s3c, bucket, key); len(ups) == 0 {
						t.Errorf("%s: killed in the middle of a part, but the server holds no incomplete multipart upload", label)
					} else {
						midParts++
					}
				}
				if strings.Contains(line, "/"+streamed) && !strings.Contains(line, "/.ssmirror/") {
					// Half of a streamed PUT reached the server: it must
					// hold nothing at the key.
					if o, err := st.Stat(context.Background(), streamed); !errors.Is(err, target.ErrNotExist) {
						t.Errorf("%s: killed in the middle of the streamed PUT of %s, then Stat = %+v, %v: want nothing there", label, streamed, o, err)
					} else {
						midStreams++
					}
				}
			}

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
	points := len(distinct)
	t.Logf("killed ssmirror with SIGKILL at %d distinct points, %d of them in the middle of a multipart part, %d in the middle of a streamed PUT", points, midParts, midStreams)
	if points < crashKillPoints {
		t.Errorf("killed ssmirror at %d distinct points, want at least %d (the README's number)", points, crashKillPoints)
	}
	if midParts == 0 {
		t.Error("no kill in the middle of a multipart part")
	}
	if midStreams == 0 {
		t.Error("no kill in the middle of a streamed PUT")
	}
}

// incompleteUploads lists, on the server, the multipart uploads of the
// object key that were neither completed nor aborted. (MinIO lists uploads
// only for a whole object key, not for a shorter prefix.)
func incompleteUploads(t *testing.T, c *minio.Client, bucket, key string) []string {
	t.Helper()
	var ids []string
	for up := range c.ListIncompleteUploads(context.Background(), bucket, key, false) {
		if up.Err != nil {
			t.Fatalf("listing multipart uploads: %v", up.Err)
		}
		if up.Key == key {
			ids = append(ids, up.UploadID)
		}
	}
	return ids
}

// TestInterruptS3: SIGINT while a multipart upload to the S3 server is
// under way (its second part in flight) stops the run with status 130;
// the server then holds no incomplete multipart upload, nothing was
// published, and the lease was released.
func TestInterruptS3(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	const big = "noble/amd64/20250709/squashfs"
	tree, err := upstream.Build(f.docs, upstream.Options{Scale: scale, Key: f.key, Items: map[string][]byte{big: upstream.Payload(big, 11<<20+123)}})
	if err != nil {
		t.Fatal(err)
	}
	f.tree = tree
	f.srv.Set(tree)
	kp, endpoint := newKillProxy(t, srv.Endpoint)
	bucket := srv.NewBucket(t)
	args := func(prefix string) []string {
		a := []string{"sync", "--keyring", f.keyring, "--endpoint", endpoint, "--path-style", "--part-size", "5MiB", "--multipart-threshold", "5MiB", "--transfers", "3", f.srv.Root(), "s3://" + bucket + "/" + prefix}
		return append(a, maasFilter...)
	}
	second := killPoint{at: 1, method: "PUT", path: "partNumber=2&"} // the first second part
	p := kp.start(t, second, os.Interrupt, args("m")...)
	code, ok := p.waitWithin(2 * time.Minute)
	if !ok {
		t.Fatal("ssmirror did not stop after SIGINT")
	}
	firedAt, log, _ := kp.fired()
	kp.arm(killPoint{}, nil)
	if code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, p.stderr.String())
	}
	if firedAt == 0 {
		t.Fatalf("the run ended before a second part (%d requests)", len(log))
	}
	aborted := false
	for _, line := range log[firedAt:] {
		aborted = aborted || strings.HasPrefix(line, "DELETE ") && strings.Contains(line, "uploadId=")
	}
	if !aborted {
		t.Errorf("the multipart upload was not aborted; requests after SIGINT:\n%s", strings.Join(log[firedAt:], "\n"))
	}
	if ups := incompleteUploads(t, srv.Client(t), bucket, "m/"+big); len(ups) != 0 {
		t.Errorf("incomplete multipart uploads left on the server: %v", ups)
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	st.List(context.Background(), "", func(o target.Object) error {
		if strings.HasPrefix(o.Key, "streams/") {
			t.Errorf("published %s although interrupted", o.Key)
		}
		return nil
	})
	if hasKey(st, ".ssmirror/lease.json") {
		t.Error("the lease was not released")
	}
}
