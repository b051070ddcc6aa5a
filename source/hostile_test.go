package source_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
)

// A one-product mirror whose documents the cases below make hostile.
const (
	hIndex    = "streams/v1/index.json"
	hProducts = "streams/v1/c.json"
)

func hIndexDoc(entry string) string {
	return `{"format":"index:1.0","updated":"Thu, 24 Jul 2025 08:01:49 +0000","index":{"c":` + entry + `}}`
}

const hEntry = `{"format":"products:1.0","datatype":"image-ids","path":"streams/v1/c.json","products":["p"]}`

func hProductsDoc(item string) string {
	return `{"format":"products:1.0","content_id":"c","datatype":"image-ids","products":{"p":{"arch":"amd64",` +
		`"versions":{"20250615":{"items":{"squashfs":` + item + `}}}}}}`
}

func hItem(fields string) string {
	return `{"ftype":"squashfs","path":"jammy/amd64/20250615/squashfs","size":42,"sha256":"` + strings.Repeat("ab", 32) + `"` + fields + `}`
}

// readMirror serves files and reads them from the unsigned start.
func readMirror(t *testing.T, files map[string]string, opts source.Options) (*source.Mirror, string, error) {
	t.Helper()
	tree := &upstream.Tree{Files: map[string][]byte{}}
	for p, body := range files {
		tree.Files[p] = []byte(body)
	}
	srv := upstream.Serve(t, tree)
	f, err := source.NewHTTP(srv.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := source.Read(context.Background(), f, hIndex, opts)
	return m, srv.URL, err
}

func TestHostileDocuments(t *testing.T) {
	longPath := strings.Repeat("a/", 600) + "x.json"
	cases := []struct {
		name             string
		index, products  string
		file, want       string // the file the error names, and what it says
		is               error
		maxMetadataBytes int64
	}{
		{"control: a sane mirror", hIndexDoc(hEntry), hProductsDoc(hItem("")), "", "", nil, 0},

		{"index truncated", hIndexDoc(hEntry)[:70], "", hIndex, "malformed JSON: unexpected end of JSON input", catalog.ErrInvalid, 0},
		{"products truncated", hIndexDoc(hEntry), hProductsDoc(hItem(""))[:100], hProducts, "malformed JSON: unexpected end of JSON input", catalog.ErrInvalid, 0},
		{"index malformed", `{"format":"index:1.0",,}`, "", hIndex, "malformed JSON: invalid character ','", catalog.ErrInvalid, 0},
		{"index is an HTML page", "<html><body>Service unavailable</body></html>", "", hIndex, "malformed JSON: invalid character '<' looking for beginning of value", catalog.ErrInvalid, 0},

		{"duplicate key in the index", `{"format":"index:1.0","index":{"c":` + hEntry + `},"index":{}}`, "", hIndex, `duplicate key "index"`, catalog.ErrDuplicateKey, 0},
		{"duplicate content id", `{"format":"index:1.0","index":{"c":` + hEntry + `,"c":` + hEntry + `}}`, "", hIndex, `index: duplicate key "c"`, catalog.ErrDuplicateKey, 0},
		{"duplicate entry path", hIndexDoc(`{"path":"streams/v1/c.json","format":"products:1.0","path":"streams/v1/d.json"}`), "", hIndex, `index["c"]: duplicate key "path"`, catalog.ErrDuplicateKey, 0},
		{"duplicate top-level key in products", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"content_id":"c",`, `"content_id":"c","content_id":"d",`, 1), hProducts, `duplicate key "content_id"`, catalog.ErrDuplicateKey, 0},
		{"duplicate item path", hIndexDoc(hEntry), hProductsDoc(hItem(`,"path":"jammy/amd64/20250615/other"`)), hProducts, `products["p"].versions["20250615"].items["squashfs"]: duplicate key "path"`, catalog.ErrDuplicateKey, 0},
		{"duplicate version", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"versions":{`, `"versions":{"20250615":{"items":{}},`, 1), hProducts, `products["p"].versions: duplicate key "20250615"`, catalog.ErrDuplicateKey, 0},

		{"index wrong format", `{"format":"index:2.0","index":{}}`, "", hIndex, `format is "index:2.0", want "index:1.0"`, catalog.ErrInvalid, 0},
		{"products wrong format", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), "products:1.0", "products:2.0", 1), hProducts, `format is "products:2.0"`, catalog.ErrInvalid, 0},
		{"index is a products file", hProductsDoc(hItem("")), "", hIndex, `format is "products:1.0", want "index:1.0"`, catalog.ErrInvalid, 0},

		{"entry path with ..", hIndexDoc(`{"format":"products:1.0","path":"streams/../../etc/passwd.json"}`), "", hIndex, "path: unsafe path \"streams/../../etc/passwd.json\": has a '..' segment", catalog.ErrInvalid, 0},
		{"entry path absolute", hIndexDoc(`{"format":"products:1.0","path":"/etc/c.json"}`), "", hIndex, "absolute", catalog.ErrInvalid, 0},
		{"entry path backslash", hIndexDoc(`{"format":"products:1.0","path":"streams\\v1\\c.json"}`), "", hIndex, "backslash", catalog.ErrInvalid, 0},
		{"entry path NUL", hIndexDoc(`{"format":"products:1.0","path":"streams/v1/c.json\u0000.png"}`), "", hIndex, "control character", catalog.ErrInvalid, 0},
		{"entry path very long", hIndexDoc(`{"format":"products:1.0","path":"` + longPath + `"}`), "", hIndex, "longer than 1024 bytes", catalog.ErrInvalid, 0},
		{"item path with ..", hIndexDoc(hEntry), hProductsDoc(`{"path":"jammy/../../../root/.ssh/authorized_keys","size":1,"sha256":"` + strings.Repeat("ab", 32) + `"}`), hProducts, "has a '..' segment", catalog.ErrInvalid, 0},
		{"item path absolute", hIndexDoc(hEntry), hProductsDoc(`{"path":"/etc/shadow","size":1,"md5":"` + strings.Repeat("ab", 16) + `"}`), hProducts, "absolute", catalog.ErrInvalid, 0},
		{"item path backslash", hIndexDoc(hEntry), hProductsDoc(`{"path":"..\\..\\x","size":1,"md5":"` + strings.Repeat("ab", 16) + `"}`), hProducts, "backslash", catalog.ErrInvalid, 0},
		{"item path NUL", hIndexDoc(hEntry), hProductsDoc(`{"path":"a\u0000b","size":1,"md5":"` + strings.Repeat("ab", 16) + `"}`), hProducts, "control character", catalog.ErrInvalid, 0},
		{"item path very long", hIndexDoc(hEntry), hProductsDoc(`{"path":"` + longPath + `","size":1,"md5":"` + strings.Repeat("ab", 16) + `"}`), hProducts, "longer than 1024 bytes", catalog.ErrInvalid, 0},

		{"negative size", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"size":42`, `"size":-42`, 1), hProducts, "size -42: out of range", catalog.ErrInvalid, 0},
		{"absurd size", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"size":42`, `"size":18446744073709551616`, 1), hProducts, "size 18446744073709551616: not an integer", catalog.ErrInvalid, 0},
		{"size beyond 16 TiB", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"size":42`, `"size":17592186044417`, 1), hProducts, "size 17592186044417: out of range", catalog.ErrInvalid, 0},
		{"fractional size", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"size":42`, `"size":4.2e1`, 1), hProducts, "size 4.2e1: not an integer", catalog.ErrInvalid, 0},
		{"missing size", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"size":42,`, ``, 1), hProducts, "size missing", catalog.ErrInvalid, 0},
		{"missing checksum", hIndexDoc(hEntry), hProductsDoc(`{"path":"jammy/amd64/20250615/squashfs","size":42}`), hProducts, "no checksum (md5, sha256 or sha512)", catalog.ErrInvalid, 0},
		{"checksum not hex", hIndexDoc(hEntry), hProductsDoc(`{"path":"a","size":42,"sha256":"` + strings.Repeat("zz", 32) + `"}`), hProducts, "sha256: not 64 hex digits", catalog.ErrInvalid, 0},

		{"content_id disagrees with the index", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"content_id":"c"`, `"content_id":"evil"`, 1), hProducts, `content_id "evil", but the index lists it as "c"`, catalog.ErrInvalid, 0},
		{"content_id a number", `{"format":"index:1.0","index":{"7":{"format":"products:1.0","path":"streams/v1/c.json"}}}`, strings.Replace(hProductsDoc(hItem("")), `"content_id":"c"`, `"content_id":7`, 1), hProducts, `"content_id": not a string (a number)`, catalog.ErrInvalid, 0},

		{"top level not an object", `[` + hIndexDoc(hEntry) + `]`, "", hIndex, "top level is an array, want an object", catalog.ErrInvalid, 0},
		{"top level null", `null`, "", hIndex, "top level is null, want an object", catalog.ErrInvalid, 0},
		{"products top level a string", hIndexDoc(hEntry), `"products:1.0"`, hProducts, "top level is a string, want an object", catalog.ErrInvalid, 0},
		{"index entry not an object", hIndexDoc(`"streams/v1/c.json"`), "", hIndex, `index["c"]: not an object (a string)`, catalog.ErrInvalid, 0},
		{"products map is a list", hIndexDoc(hEntry), `{"format":"products:1.0","content_id":"c","products":[{"versions":{}}]}`, hProducts, "products: not an object (an array)", catalog.ErrInvalid, 0},
		{"version not an object", hIndexDoc(hEntry), `{"format":"products:1.0","content_id":"c","products":{"p":{"versions":{"20250615":"latest"}}}}`, hProducts, `products["p"].versions["20250615"]: not an object (a string)`, catalog.ErrInvalid, 0},
		{"items null", hIndexDoc(hEntry), `{"format":"products:1.0","content_id":"c","products":{"p":{"versions":{"20250615":{"items":null}}}}}`, hProducts, `products["p"].versions["20250615"].items: not an object (null)`, catalog.ErrInvalid, 0},
		{"path a number", hIndexDoc(hEntry), hProductsDoc(`{"path":7,"size":42,"md5":"` + strings.Repeat("ab", 16) + `"}`), hProducts, "path: not a string", catalog.ErrInvalid, 0},
		{"entry path a number", hIndexDoc(`{"format":"products:1.0","path":7}`), "", hIndex, `index["c"]: path: not a string`, catalog.ErrInvalid, 0},
		{"size a string", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"size":42`, `"size":"42"`, 1), hProducts, `size "42": not an integer`, catalog.ErrInvalid, 0},
		{"checksum a number", hIndexDoc(hEntry), hProductsDoc(`{"path":"a","size":42,"md5":12345}`), hProducts, "md5: not a string", catalog.ErrInvalid, 0},
		{"deeply nested", hIndexDoc(hEntry), strings.Replace(hProductsDoc(hItem("")), `"arch":"amd64"`, `"x":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000), 1), hProducts, "nested deeper than 64 levels", catalog.ErrInvalid, 0},

		{"index over the size limit", hIndexDoc(hEntry), hProductsDoc(hItem("")), hIndex, "larger than 100 bytes", catalog.ErrInvalid, 100},
		{"the larger file at the size limit", hIndexDoc(hEntry), hProductsDoc(hItem("")), "", "", nil, int64(max(len(hIndexDoc(hEntry)), len(hProductsDoc(hItem("")))))}, // sane
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{hIndex: c.index}
			if c.products != "" {
				files[hProducts] = c.products
			}
			m, url, err := readMirror(t, files, source.Options{MaxMetadata: c.maxMetadataBytes})
			if c.want == "" {
				if err != nil || len(m.Products["c"].Products) != 1 {
					t.Fatalf("sane mirror: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !errors.Is(err, c.is) || !strings.HasPrefix(msg, url+"/"+c.file+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("err = %v\nwant one line starting with %s/%s: and wrapping %v, saying %q", err, url, c.file, c.is, c.want)
			}
		})
	}
}

// TestHostileLargeIndex: an index of many megabytes, real-shaped (its
// entries list every product), parses within the limit and is refused
// above it.
func TestHostileLargeIndex(t *testing.T) {
	names := make([]string, 0, 200_000)
	for i := range 200_000 {
		names = append(names, fmt.Sprintf(`"com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04-%06d"`, i))
	}
	entry := `{"format":"products:1.0","datatype":"image-ids","path":"streams/v1/c.json","products":[` + strings.Join(names, ",") + `]}`
	index := hIndexDoc(entry)
	if len(index) < 10<<20 {
		t.Fatalf("index is only %d bytes", len(index))
	}
	files := map[string]string{hIndex: index, hProducts: hProductsDoc(hItem(""))}

	m, _, err := readMirror(t, files, source.Options{MaxMetadata: 16 << 20})
	if err != nil || len(m.Index.Entries["c"].Products) != 200_000 {
		t.Fatalf("%d-byte index under a 16 MiB limit: %v", len(index), err)
	}
	_, url, err := readMirror(t, files, source.Options{MaxMetadata: 8 << 20})
	want := fmt.Sprintf("%s/%s: invalid catalog: larger than %d bytes", url, hIndex, 8<<20)
	if !errors.Is(err, catalog.ErrInvalid) || err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// TestHostileRedirects: the HTTP fetcher follows a few redirects, stops
// at a loop, and gives up after 10, naming the URL.
func TestHostileRedirects(t *testing.T) {
	files := map[string]string{hIndex: hIndexDoc(hEntry), hProducts: hProductsDoc(hItem(""))}
	tree := &upstream.Tree{Files: map[string][]byte{}}
	for p, b := range files {
		tree.Files["real/"+p] = []byte(b)
	}
	srv := upstream.Serve(t, tree)
	// /hops/N/P redirects to /hops/N-1/P, and /hops/0/P to /real/P;
	// /loop/P redirects to /loop2/P and back.
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		var n int
		var rest string
		switch {
		case strings.HasPrefix(r.URL.Path, "/loop/"):
			http.Redirect(w, r, "/loop2/"+strings.TrimPrefix(r.URL.Path, "/loop/"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/loop2/"):
			http.Redirect(w, r, "/loop/"+strings.TrimPrefix(r.URL.Path, "/loop2/"), http.StatusMovedPermanently)
		case func() bool { _, err := fmt.Sscanf(r.URL.Path, "/hops/%d/", &n); return err == nil }():
			rest = strings.SplitN(r.URL.Path, "/", 4)[3]
			if n == 0 {
				http.Redirect(w, r, "/real/"+rest, http.StatusFound)
			} else {
				http.Redirect(w, r, fmt.Sprintf("/hops/%d/%s", n-1, rest), http.StatusTemporaryRedirect)
			}
		default:
			return false
		}
		return true
	})
	read := func(root string) error {
		f, err := source.NewHTTP(srv.URL+root, source.DefaultHTTPClient())
		if err != nil {
			t.Fatal(err)
		}
		_, err = source.Read(context.Background(), f, hIndex, source.Options{})
		return err
	}
	if err := read("/hops/8/"); err != nil { // 9 redirects per document
		t.Errorf("9 redirects: %v", err)
	}
	err := read("/hops/10/") // 11
	want := fmt.Sprintf(`GET %s/hops/10/%s: Get "/hops/0/%s": stopped after 10 redirects (the last to %s/hops/0/%s)`, srv.URL, hIndex, hIndex, srv.URL, hIndex)
	if err == nil || err.Error() != want || source.Classify(err) {
		t.Errorf("11 redirects: %v\nwant %s, not transient", err, want)
	}
	err = read("/loop/")
	want = fmt.Sprintf(`GET %s/loop/%s: Get "/loop/%s": redirect loop: %s/loop2/%s redirects back to %s/loop/%s`, srv.URL, hIndex, hIndex, srv.URL, hIndex, srv.URL, hIndex)
	if err == nil || err.Error() != want {
		t.Errorf("loop: %v\nwant %s", err, want)
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestHostileGzip: a server that gzips although identity was asked. The
// metadata is decoded (and still verified); an item is refused, since its
// size and checksum are of the stored bytes.
func TestHostileGzip(t *testing.T) {
	tree, key := signedTree(t)
	srv := upstream.Serve(t, tree)
	var encode func(path string) bool
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		p := strings.TrimPrefix(r.URL.Path, "/")
		body, ok := tree.Files[p]
		if !ok || !encode(p) {
			return false
		}
		if r.Header.Get("Accept-Encoding") != "identity" {
			t.Errorf("%s: Accept-Encoding %q, want identity", p, r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(body))
		return true
	})
	f, _ := source.NewHTTP(srv.Root(), nil)
	ctx := context.Background()

	encode = func(p string) bool { return strings.HasPrefix(p, "streams/") }
	for start, opts := range map[string]source.Options{source.DefaultStart: {Keyring: key.Keyring()}, hIndex: {}} {
		m, err := source.Read(ctx, f, start, opts)
		if err != nil {
			t.Fatalf("%s, gzipped: %v", start, err)
		}
		if len(m.Products) != 3 || !bytes.Equal(m.Raw[start], tree.Files[start]) {
			t.Errorf("%s: %d products; raw bytes equal to the stored file: %v", start, len(m.Products), bytes.Equal(m.Raw[start], tree.Files[start]))
		}
	}
	// Fetch gives the decoded bytes, whose length it cannot know.
	rc, size, err := f.Fetch(ctx, hIndex)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || size != -1 || !bytes.Equal(b, tree.Files[hIndex]) {
		t.Errorf("Fetch of the gzipped index: size %d, %v; decoded bytes equal to the stored file: %v; want size -1", size, err, bytes.Equal(b, tree.Files[hIndex]))
	}
	// A gzip bomb is held to the metadata limit (of decoded bytes).
	bomb := bytes.Repeat([]byte(" "), 50<<20)
	tree.Files[hIndex] = append(bomb, tree.Files[hIndex]...)
	if _, err := source.Read(ctx, f, hIndex, source.Options{MaxMetadata: 1 << 20}); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("gzip bomb: %v", err)
	}
	// A broken gzip stream is an error naming the file.
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write([]byte("not gzip at all"))
		return true
	})
	if _, err := source.Read(ctx, f, hIndex, source.Options{}); err == nil ||
		err.Error() != "GET "+srv.URL+"/"+hIndex+": Content-Encoding gzip: gzip: invalid header" {
		t.Errorf("broken gzip: %v", err)
	}

	// Items: refused, clearly, and not retried.
	var item string
	for p := range tree.Files {
		if !strings.HasPrefix(p, "streams/") {
			item = p
			break
		}
	}
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(tree.Files[item]))
		return true
	})
	_, _, err = f.Fetch(ctx, item)
	want := fmt.Sprintf(`GET %s/%s: unrequested Content-Encoding "gzip" refused (sizes and checksums are of the stored bytes; only gzip metadata is decoded)`, srv.URL, item)
	if err == nil || err.Error() != want || source.Classify(err) {
		t.Errorf("gzipped item: %v\nwant %s, not transient", err, want)
	}
	// Other encodings are refused for metadata too.
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Encoding", "br")
		w.Write([]byte("x"))
		return true
	})
	if _, err := source.Read(ctx, f, hIndex, source.Options{}); err == nil || !strings.Contains(err.Error(), `unrequested Content-Encoding "br" refused`) {
		t.Errorf("brotli metadata: %v", err)
	}
}

// TestHostileTransport: metadata broken in transit. Bare, the read fails
// with an error naming the file; through a Retrying fetcher it is
// resumed. A corrupted signed document fails verification.
func TestHostileTransport(t *testing.T) {
	tree, key := signedTree(t)
	up := upstream.Serve(t, tree)
	proxy := faultproxy.Start(t, up.URL)
	bare, _ := source.NewHTTP(proxy.URL+"/", nil)
	retrying := source.NewRetrying(bare, source.RetryPolicy{BaseDelay: time.Millisecond})
	ctx := context.Background()
	opts := source.Options{Keyring: key.Keyring()}
	products := "streams/v1/com.ubuntu.maas:stable:v3:download.sjson"

	proxy.Add(&faultproxy.Rule{Path: products, First: 1, Fault: faultproxy.Truncate, After: 500})
	_, err := source.Read(ctx, bare, source.DefaultStart, opts)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), proxy.URL+"/"+products+": ") {
		t.Errorf("truncated, bare: %v", err)
	}
	proxy.Clear()
	rule := proxy.Add(&faultproxy.Rule{Path: products, First: 1, Fault: faultproxy.Truncate, After: 500})
	before := len(proxy.Requests())
	if _, err := source.Read(ctx, retrying, source.DefaultStart, opts); err != nil {
		t.Errorf("truncated, retrying: %v", err)
	}
	var ranges []string // of the products file (documents are read concurrently)
	for _, req := range proxy.Requests()[before:] {
		if req.Path == "/"+products {
			ranges = append(ranges, req.Header.Get("Range"))
		}
	}
	if rule.Applied() != 1 || fmt.Sprint(ranges) != "[ bytes=500-]" {
		t.Errorf("the products file was not resumed: Range headers %q", ranges)
	}

	proxy.Clear()
	proxy.Add(&faultproxy.Rule{Path: "index.sjson", Fault: faultproxy.Corrupt, After: 300})
	if _, err := source.Read(ctx, retrying, source.DefaultStart, opts); !errors.Is(err, gpg.ErrVerification) {
		t.Errorf("corrupted signed index: %v", err)
	}
	proxy.Clear()
	proxy.Add(&faultproxy.Rule{Path: "index.sjson", Fault: faultproxy.HTML})
	if _, err := source.Read(ctx, retrying, source.DefaultStart, opts); err == nil || !strings.Contains(err.Error(), proxy.URL+"/"+source.DefaultStart) {
		t.Errorf("HTML page for the signed index: %v", err)
	}
}

// TestRedirectDowngrade: an HTTPS source that redirects to plain HTTP is
// refused, naming both URLs, and not retried; HTTPS to HTTPS and HTTP to
// HTTP redirects are followed.
func TestRedirectDowngrade(t *testing.T) {
	files := map[string]string{hIndex: hIndexDoc(hEntry), hProducts: hProductsDoc(hItem(""))}
	tree := &upstream.Tree{Files: map[string][]byte{}}
	for p, b := range files {
		tree.Files["real/"+p] = []byte(b)
	}
	plain := upstream.Serve(t, tree)
	var tlsSrv *httptest.Server
	tlsSrv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/down/"):
			http.Redirect(w, r, plain.URL+"/real/"+strings.TrimPrefix(r.URL.Path, "/down/"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/same/"):
			http.Redirect(w, r, tlsSrv.URL+"/real/"+strings.TrimPrefix(r.URL.Path, "/same/"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/real/"):
			w.Write(tree.Files[strings.TrimPrefix(r.URL.Path, "/")])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(tlsSrv.Close)
	client := source.DefaultHTTPClient()
	client.Transport.(*http.Transport).TLSClientConfig = tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig
	read := func(root string) error {
		f, err := source.NewHTTP(root, client)
		if err != nil {
			t.Fatal(err)
		}
		_, err = source.Read(context.Background(), f, hIndex, source.Options{})
		return err
	}
	if err := read(tlsSrv.URL + "/same/"); err != nil {
		t.Errorf("https to https: %v", err)
	}
	err := read(tlsSrv.URL + "/down/")
	want := fmt.Sprintf("refused a redirect from HTTPS to http: %s/down/%s redirects to %s/real/%s", tlsSrv.URL, hIndex, plain.URL, hIndex)
	if err == nil || !strings.Contains(err.Error(), want) || source.Classify(err) {
		t.Errorf("https to http: %v\nwant %s, not transient", err, want)
	}
	if plain.Requests("real/"+hIndex) != 0 {
		t.Error("the plain HTTP URL was requested")
	}
}

// TestMetadataTotal: the documents of one mirror are bounded together, not
// only one by one: an index naming many large products files is refused
// with an error naming the file that crossed the bound.
func TestMetadataTotal(t *testing.T) {
	files := map[string]string{}
	entries := []string{}
	pad := strings.Repeat("x", 100_000)
	for i := range 4 {
		cid := fmt.Sprintf("c%d", i)
		path := "streams/v1/" + cid + ".json"
		entries = append(entries, fmt.Sprintf(`%q:{"format":"products:1.0","datatype":"image-ids","path":%q,"products":["p"]}`, cid, path))
		files[path] = `{"format":"products:1.0","content_id":"` + cid + `","datatype":"image-ids","pad":"` + pad + `","products":{"p":{"arch":"amd64",` +
			`"versions":{"20250615":{"items":{"squashfs":` + hItem("") + `}}}}}}`
	}
	files[hIndex] = `{"format":"index:1.0","updated":"Thu, 24 Jul 2025 08:01:49 +0000","index":{` + strings.Join(entries, ",") + `}}`
	exact := 0 // every file is read once
	for _, f := range files {
		exact += len(f)
	}
	for _, total := range []int64{500_000, int64(exact)} {
		if _, _, err := readMirror(t, files, source.Options{MaxMetadataTotal: total}); err != nil {
			t.Fatalf("within the bound of %d bytes: %v", total, err)
		}
	}
	_, url, err := readMirror(t, files, source.Options{MaxMetadataTotal: 300_000})
	if !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), url+"/streams/v1/c") ||
		!strings.Contains(err.Error(), "more than 300000 bytes in all") {
		t.Errorf("err = %v, want ErrInvalid naming a products file and the bound", err)
	}
	// The default bound holds what one document may be, several times.
	if source.DefaultMaxMetadataTotal < 4*source.DefaultMaxMetadata {
		t.Errorf("DefaultMaxMetadataTotal %d is less than four documents", source.DefaultMaxMetadataTotal)
	}
}
