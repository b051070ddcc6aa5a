// Package upstream builds SimpleStreams mirror trees for tests and for the
// example stream in testdata: real catalog shapes with generated payloads
// of scaled sizes, recomputed checksums and metadata clearsigned with a
// given key. It serves a tree over a real HTTP server (httptest).
//
// It is a test helper; nothing in the product imports it.
package upstream

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/source/gpg"
)

// Updated is the timestamp written into generated documents.
const Updated = "Thu, 24 Jul 2025 08:01:49 +0000"

// Doc is a products document as generic JSON (numbers kept as json.Number).
type Doc = map[string]any

// LoadDocs reads products documents from files.
func LoadDocs(paths ...string) ([]Doc, error) {
	var docs []Doc
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var d Doc
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// Tree is a mirror: file contents by path relative to the mirror root.
type Tree struct {
	Files map[string][]byte
	Docs  []Doc // the products documents as written, with real checksums
}

// Options controls Build.
type Options struct {
	Scale int64             // divide real sizes by this (at least 1); sizes stay >= 1
	Key   *gpg.SigningKey   // sign .sjson files with it; nil writes only .json
	Items map[string][]byte // explicit payloads by path, overriding generated ones
	// MD5Only lists paths whose catalog entry gets an md5 and no other
	// checksum, as in streams older than SHA-256.
	MD5Only map[string]bool
}

// Build generates payloads for every item of docs (modifying their size and
// checksums in place) and writes products and index files, .json always
// and .sjson when opts.Key is set.
func Build(docs []Doc, opts Options) (*Tree, error) {
	if opts.Scale < 1 {
		opts.Scale = 1
	}
	t := &Tree{Files: map[string][]byte{}, Docs: docs}
	index := map[string]any{}
	sindex := map[string]any{}
	for _, d := range docs {
		cid, _ := d["content_id"].(string)
		prods, _ := d["products"].(map[string]any)
		for _, p := range prods {
			vers, _ := p.(map[string]any)["versions"].(map[string]any)
			for _, v := range vers {
				items, _ := v.(map[string]any)["items"].(map[string]any)
				for _, it := range items {
					item := it.(map[string]any)
					path, ok := item["path"].(string)
					if !ok {
						continue
					}
					body, ok := opts.Items[path]
					if !ok {
						if prev, seen := t.Files[path]; seen {
							body = prev
						} else {
							n, _ := item["size"].(json.Number).Int64()
							body = Payload(path, max(n/opts.Scale, 1))
						}
					}
					t.Files[path] = body
					setSums(item, body)
					if opts.MD5Only[path] {
						delete(item, "sha256")
						delete(item, "sha512")
						s := md5.Sum(body)
						item["md5"] = hex.EncodeToString(s[:])
					}
				}
			}
		}
		names := make([]string, 0, len(prods))
		for n := range prods {
			names = append(names, n)
		}
		sort.Strings(names)
		entry := func(ext string) map[string]any {
			return map[string]any{
				"datatype": d["datatype"], "format": "products:1.0", "updated": Updated,
				"path": "streams/v1/" + cid + ext, "products": names,
			}
		}
		body := encode(d)
		t.Files["streams/v1/"+cid+".json"] = body
		index[cid] = entry(".json")
		if opts.Key != nil {
			signed, err := opts.Key.ClearSign(body)
			if err != nil {
				return nil, err
			}
			t.Files["streams/v1/"+cid+".sjson"] = signed
			sindex[cid] = entry(".sjson")
		}
	}
	top := func(idx map[string]any) []byte {
		return encode(map[string]any{"format": "index:1.0", "updated": Updated, "index": idx})
	}
	t.Files["streams/v1/index.json"] = top(index)
	if opts.Key != nil {
		signed, err := opts.Key.ClearSign(top(sindex))
		if err != nil {
			return nil, err
		}
		t.Files["streams/v1/index.sjson"] = signed
	}
	return t, nil
}

func setSums(item map[string]any, body []byte) {
	item["size"] = json.Number(fmt.Sprint(len(body)))
	s256 := sha256.Sum256(body)
	item["sha256"] = hex.EncodeToString(s256[:])
	if _, ok := item["md5"]; ok {
		s := md5.Sum(body)
		item["md5"] = hex.EncodeToString(s[:])
	}
	if _, ok := item["sha512"]; ok {
		s := sha512.Sum512(body)
		item["sha512"] = hex.EncodeToString(s[:])
	}
}

func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Payload returns n deterministic pseudo-random bytes derived from name.
func Payload(name string, n int64) []byte {
	seed := sha256.Sum256([]byte(name))
	r := rand.NewChaCha8(seed)
	b := make([]byte, n)
	r.Read(b)
	return b
}

// WriteDir writes the tree under dir.
func (t *Tree) WriteDir(dir string) error {
	for p, body := range t.Files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Server serves a tree over HTTP and counts requests by path. Its content
// can be replaced while it runs.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	tree     *Tree
	requests map[string]int
	bytes    map[string]int64
	total    atomic.Int64
	hook     func(w http.ResponseWriter, r *http.Request) bool
}

// SetHook sets a function that sees every request first and may handle it
// itself (fault injection), returning true if it did; nil removes it. It
// may be called while the server runs.
func (s *Server) SetHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// Serve starts a server for t, stopped when the test ends.
func Serve(tb testing.TB, t *Tree) *Server {
	s := &Server{tree: t, requests: map[string]int{}, bytes: map[string]int64{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Root returns the mirror root URL (with a trailing slash).
func (s *Server) Root() string { return s.URL + "/" }

// Set replaces the served tree.
func (s *Server) Set(t *Tree) {
	s.mu.Lock()
	s.tree = t
	s.mu.Unlock()
}

// Requests returns how often path was requested.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// Bytes returns the number of body bytes sent for path.
func (s *Server) Bytes(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes[path]
}

// Total returns the number of requests served.
func (s *Server) Total() int64 { return s.total.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.total.Add(1)
	p := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	s.requests[p]++
	body, ok := s.tree.Files[p]
	hook := s.hook
	s.mu.Unlock()
	cw := &countingWriter{ResponseWriter: w, s: s, path: p}
	if hook != nil && hook(cw, r) {
		return
	}
	if !ok {
		http.NotFound(cw, r)
		return
	}
	// Validators as a web server sends them: conditional requests are
	// answered 304 Not Modified.
	sum := sha256.Sum256(body)
	cw.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(cw, r, p, ModTime, bytes.NewReader(body))
}

// ModTime is the Last-Modified time of every served file.
var ModTime = time.Date(2025, 7, 24, 8, 1, 49, 0, time.UTC)

// countingWriter counts the body bytes written for path as they are
// written: a hook that returns has had its bytes counted.
type countingWriter struct {
	http.ResponseWriter
	s    *Server
	path string
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.s.mu.Lock()
	c.s.bytes[c.path] += int64(n)
	c.s.mu.Unlock()
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// Hijack).
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// File returns the served content of path, or nil.
func (s *Server) File(path string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tree.Files[path]
}

// Trickle answers r with body (from N on for a "bytes=N-" Range) one byte
// every gap, until the client goes away: every byte comes well inside any
// idle timeout, so only a minimum rate can cut the body. It is meant for
// hooks.
func Trickle(w http.ResponseWriter, r *http.Request, body []byte, gap time.Duration) {
	var off int
	if rng := r.Header.Get("Range"); rng != "" {
		if _, err := fmt.Sscanf(rng, "bytes=%d-", &off); err != nil || off < 0 || off >= len(body) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, len(body)-1, len(body)))
		w.Header().Set("Content-Length", fmt.Sprint(len(body)-off))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
	}
	rc := http.NewResponseController(w)
	for i := off; i < len(body); i++ {
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		rc.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(gap):
		}
	}
}

// AddVersion copies version from of product in doc to a new version to,
// with every item path's "/from/" segment replaced by "/to/" (so the new
// version has files of its own). It returns an error if the product or
// version does not exist.
func AddVersion(doc Doc, product, from, to string) error {
	prods, _ := doc["products"].(map[string]any)
	prod, ok := prods[product].(map[string]any)
	if !ok {
		return fmt.Errorf("no product %q", product)
	}
	vers := prod["versions"].(map[string]any)
	v, ok := vers[from].(map[string]any)
	if !ok {
		return fmt.Errorf("product %q has no version %q", product, from)
	}
	var cp map[string]any
	data, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&cp); err != nil {
		return err
	}
	for _, it := range cp["items"].(map[string]any) {
		item := it.(map[string]any)
		if p, ok := item["path"].(string); ok {
			item["path"] = strings.ReplaceAll(p, "/"+from+"/", "/"+to+"/")
		}
	}
	vers[to] = cp
	return nil
}

// MAASDocs loads the real MAAS catalogs shipped in testdata/maas (images,
// bootloaders, centos). dir is the path to that folder.
func MAASDocs(dir string) ([]Doc, error) {
	return LoadDocs(
		filepath.Join(dir, "simplestreams_ubuntu.json"),
		filepath.Join(dir, "simplestreams_bootloaders.json"),
		filepath.Join(dir, "simplestreams_centos.json"),
	)
}
