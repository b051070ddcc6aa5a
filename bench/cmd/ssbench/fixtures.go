package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source/gpg"
)

// fixtureVersion is written into every fixture's stamp; bump it when the
// generators change so cached fixtures are rebuilt.
const fixtureVersion = "ssbench-fixtures-1"

// fixture is a mirror tree under the upstream root, with the keyring that
// verifies its signed metadata (empty for unsigned fixtures).
type fixture struct {
	Name    string // directory under the upstream root
	Dir     string
	Keyring string // path of the public keyring, or ""
	Objects int    // files in the tree (items + metadata) after generation

	// Planning catalogs: their shape and the products file's size.
	Items, Products, Versions int
	Bytes                     int64
}

// stamped reports whether dir holds a complete fixture generated with the
// given description.
func stamped(dir, desc string) bool {
	got, err := os.ReadFile(filepath.Join(dir, ".stamp"))
	return err == nil && string(got) == fixtureVersion+" "+desc+"\n"
}

func stamp(dir, desc string) error {
	return os.WriteFile(filepath.Join(dir, ".stamp"), []byte(fixtureVersion+" "+desc+"\n"), 0o644)
}

// newKey generates a throw-away signing key for a fixture.
func newKey(name string) (*gpg.SigningKey, error) {
	return gpg.GenerateKey("ssmirror bench "+name+", a test key not for production", "bench@ssmirror.invalid", time.Now())
}

// maasFixture writes the real MAAS catalog shapes (testdata/maas) with
// payloads of the real sizes divided by scale, signed with a fresh key.
func maasFixture(root, repo string, scale int64) (*fixture, error) {
	f := &fixture{Name: "maas", Dir: filepath.Join(root, "maas"), Keyring: filepath.Join(root, "maas.keyring.gpg")}
	desc := fmt.Sprintf("maas scale=%d", scale)
	if stamped(f.Dir, desc) {
		return f, nil
	}
	os.RemoveAll(f.Dir)
	docs, err := upstream.MAASDocs(filepath.Join(repo, "testdata", "maas"))
	if err != nil {
		return nil, err
	}
	key, err := newKey("maas")
	if err != nil {
		return nil, err
	}
	tree, err := upstream.Build(docs, upstream.Options{Scale: scale, Key: key})
	if err != nil {
		return nil, err
	}
	if err := tree.WriteDir(f.Dir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.Keyring, key.PublicKeyring(), 0o644); err != nil {
		return nil, err
	}
	return f, stamp(f.Dir, desc)
}

// synthItem is one item of a synthetic catalog.
type synthItem struct {
	Name, Path, SHA256 string
	Size               int64
}

// synthVersion is one version of a synthetic product.
type synthVersion struct {
	Name  string
	Items []synthItem
}

// synthProduct is one product of a synthetic catalog.
type synthProduct struct {
	Name     string
	Fields   map[string]any
	Versions []synthVersion
}

// gridProducts returns products×versions×items items of size bytes each,
// with paths under prefix. With payload set, each item's content is
// written under dir (upstream.Payload of its path) and its checksum is
// real; otherwise no file is written and the checksum is a stand-in (the
// catalog is only planned, never transferred).
func gridProducts(dir, prefix string, products, versions, items int, size int64, payload bool) ([]synthProduct, error) {
	out := make([]synthProduct, 0, products)
	for p := range products {
		sp, err := gridProduct(dir, prefix, p, versions, items, size, payload)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// gridProduct returns product number p of gridProducts.
func gridProduct(dir, prefix string, p, versions, items int, size int64, payload bool) (synthProduct, error) {
	arches := []string{"amd64", "arm64"}
	arch := arches[p%len(arches)]
	release := fmt.Sprintf("r%02d", (p/len(arches))%20)
	sp := synthProduct{
		Name: fmt.Sprintf("com.example.bench:%s:p%06d:%s", prefix, p, arch),
		Fields: map[string]any{
			"arch": arch, "os": "ubuntu", "release": release, "label": "stable",
			"subarch": "generic", "kflavor": "generic",
		},
	}
	for v := range versions {
		sv := synthVersion{Name: fmt.Sprintf("2025%02d01.%d", v%12+1, v)}
		for i := range items {
			path := fmt.Sprintf("%s/p%06d/%s/item%d.bin", prefix, p, sv.Name, i)
			it := synthItem{Name: fmt.Sprintf("item%d", i), Path: path, Size: size}
			if payload {
				body := upstream.Payload(path, size)
				sum := sha256.Sum256(body)
				it.SHA256 = hex.EncodeToString(sum[:])
				full := filepath.Join(dir, filepath.FromSlash(path))
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					return sp, err
				}
				if err := os.WriteFile(full, body, 0o644); err != nil {
					return sp, err
				}
			} else {
				sum := sha256.Sum256([]byte(path))
				it.SHA256 = hex.EncodeToString(sum[:])
			}
			sv.Items = append(sv.Items, it)
		}
		sp.Versions = append(sp.Versions, sv)
	}
	return sp, nil
}

// productDoc is the products:1.0 entry of one product.
func productDoc(p synthProduct) map[string]any {
	vm := make(map[string]any, len(p.Versions))
	for _, v := range p.Versions {
		im := make(map[string]any, len(v.Items))
		for _, it := range v.Items {
			im[it.Name] = map[string]any{
				"ftype": "bin", "path": it.Path, "size": it.Size, "sha256": it.SHA256,
			}
		}
		vm[v.Name] = map[string]any{"items": im, "label": "stable"}
	}
	entry := map[string]any{"versions": vm}
	for k, v := range p.Fields {
		entry[k] = v
	}
	return entry
}

// writeCatalog writes the products document of cid and the index under
// dir/streams/v1: .json always, .sjson too when key is set.
func writeCatalog(dir, cid string, prods []synthProduct, key *gpg.SigningKey) error {
	pm := make(map[string]any, len(prods))
	names := make([]string, 0, len(prods))
	for _, p := range prods {
		pm[p.Name] = productDoc(p)
		names = append(names, p.Name)
	}
	sort.Strings(names)
	doc := map[string]any{
		"format": "products:1.0", "content_id": cid, "datatype": "image-downloads",
		"updated": upstream.Updated, "products": pm,
	}
	body, err := encodeJSON(doc)
	if err != nil {
		return err
	}
	sdir := filepath.Join(dir, "streams", "v1")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(sdir, cid+".json"), body, 0o644); err != nil {
		return err
	}
	return writeIndex(dir, cid, names, body, key)
}

// writeIndex writes the index of the products document cid (names are
// its products) under dir/streams/v1: index.json, and with key set the
// signed products document (body) and index.sjson too.
func writeIndex(dir, cid string, names []string, body []byte, key *gpg.SigningKey) error {
	sdir := filepath.Join(dir, "streams", "v1")
	index := func(ext string) ([]byte, error) {
		return encodeJSON(map[string]any{
			"format": "index:1.0", "updated": upstream.Updated,
			"index": map[string]any{cid: map[string]any{
				"datatype": "image-downloads", "format": "products:1.0", "updated": upstream.Updated,
				"path": "streams/v1/" + cid + ext, "products": names,
			}},
		})
	}
	idx, err := index(".json")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(sdir, "index.json"), idx, 0o644); err != nil {
		return err
	}
	if key == nil {
		return nil
	}
	signed, err := key.ClearSign(body)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(sdir, cid+".sjson"), signed, 0o644); err != nil {
		return err
	}
	if idx, err = index(".sjson"); err != nil {
		return err
	}
	if signed, err = key.ClearSign(idx); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(sdir, "index.sjson"), signed, 0o644)
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// smallFixture writes a signed catalog of products×versions×items items of
// size bytes each, with their payloads.
func smallFixture(root string, products, versions, items int, size int64) (*fixture, error) {
	f := &fixture{Name: "small", Dir: filepath.Join(root, "small"), Keyring: filepath.Join(root, "small.keyring.gpg")}
	desc := fmt.Sprintf("small %dx%dx%d size=%d", products, versions, items, size)
	if stamped(f.Dir, desc) {
		return f, nil
	}
	os.RemoveAll(f.Dir)
	key, err := newKey("small")
	if err != nil {
		return nil, err
	}
	prods, err := gridProducts(f.Dir, "small", products, versions, items, size, true)
	if err != nil {
		return nil, err
	}
	if err := writeCatalog(f.Dir, "com.example.bench:small", prods, key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.Keyring, key.PublicKeyring(), 0o644); err != nil {
		return nil, err
	}
	return f, stamp(f.Dir, desc)
}

// planFixture writes an unsigned catalog of items items (metadata only,
// half amd64, half arm64), for planning only: 5 items per version, 4
// versions per product up to 100,000 items, 20 from 1,000,000 on (the
// shape of a long-lived mirror). The products file is compact JSON (a
// million items make about 160 MB), written one product at a time, so it
// takes little memory here.
func planFixture(root string, items int) (*fixture, error) {
	products, versions, err := planShape(items)
	if err != nil {
		return nil, err
	}
	f := &fixture{Name: fmt.Sprintf("plan-%d", items), Items: items, Products: products, Versions: versions}
	f.Dir = filepath.Join(root, f.Name)
	const cid = "com.example.bench:plan"
	productsFile := filepath.Join(f.Dir, "streams", "v1", cid+".json")
	desc := fmt.Sprintf("plan compact %dx%dx%d", products, versions, 5)
	if stamped(f.Dir, desc) {
		if st, err := os.Stat(productsFile); err == nil {
			f.Bytes = st.Size()
			return f, nil
		}
	}
	os.RemoveAll(f.Dir)
	if err := os.MkdirAll(filepath.Dir(productsFile), 0o755); err != nil {
		return nil, err
	}
	out, err := os.Create(productsFile)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	fmt.Fprintf(w, `{"content_id":%q,"datatype":"image-downloads","format":"products:1.0","products":{`, cid)
	var names []string
	for p := range products {
		// One product at a time, from the same generator as the other
		// catalogs.
		sp, err := gridProduct("", "plan", p, versions, 5, 150<<20, false)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(productDoc(sp))
		if err != nil {
			return nil, err
		}
		if p > 0 {
			w.WriteString(",")
		}
		fmt.Fprintf(w, "%q:%s", sp.Name, body)
		names = append(names, sp.Name)
	}
	fmt.Fprintf(w, "},\"updated\":%q}\n", upstream.Updated)
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	if err := writeIndex(f.Dir, cid, names, nil, nil); err != nil {
		return nil, err
	}
	st, err := os.Stat(productsFile)
	if err != nil {
		return nil, err
	}
	f.Bytes = st.Size()
	return f, stamp(f.Dir, desc)
}

// planShape returns the products and versions of a planning catalog of
// items items (see planFixture).
func planShape(items int) (products, versions int, err error) {
	versions = 4
	if items >= 1000000 {
		versions = 20
	}
	if items <= 0 || items%(versions*5*2) != 0 {
		return 0, 0, fmt.Errorf("%d items: not a multiple of %d (%d versions × 5 items × 2 architectures)", items, versions*5*2, versions)
	}
	return items / (versions * 5), versions, nil
}

// bigFixture writes a signed catalog with one item of size bytes. The
// payload is generated once into cacheDir (it is large) and linked into
// the tree.
func bigFixture(root, cacheDir string, size int64) (*fixture, error) {
	f := &fixture{Name: "big", Dir: filepath.Join(root, "big"), Keyring: filepath.Join(root, "big.keyring.gpg")}
	desc := fmt.Sprintf("big size=%d", size)
	if stamped(f.Dir, desc) {
		return f, nil
	}
	os.RemoveAll(f.Dir)
	payload, sum, err := cachedPayload(cacheDir, size)
	if err != nil {
		return nil, err
	}
	const path = "big/20250101/big.img"
	full := filepath.Join(f.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, err
	}
	// A hard link when the cache is on the same file system, else a
	// symbolic link (both servers follow it).
	if err := os.Link(payload, full); err != nil {
		if err := os.Symlink(payload, full); err != nil {
			return nil, err
		}
	}
	prods := []synthProduct{{
		Name:   "com.example.bench:big:amd64",
		Fields: map[string]any{"arch": "amd64", "os": "ubuntu", "release": "big"},
		Versions: []synthVersion{{Name: "20250101", Items: []synthItem{
			{Name: "disk", Path: path, SHA256: sum, Size: size},
		}}},
	}}
	key, err := newKey("big")
	if err != nil {
		return nil, err
	}
	if err := writeCatalog(f.Dir, "com.example.bench:big", prods, key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.Keyring, key.PublicKeyring(), 0o644); err != nil {
		return nil, err
	}
	return f, stamp(f.Dir, desc)
}

// cachedPayload returns the path and SHA-256 of a deterministic
// pseudo-random file of size bytes in cacheDir, generating it if needed.
func cachedPayload(cacheDir string, size int64) (path, sum string, err error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", "", err
	}
	path = filepath.Join(cacheDir, fmt.Sprintf("payload-%d.bin", size))
	sumFile := path + ".sha256"
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		if s, err := os.ReadFile(sumFile); err == nil && len(s) == 64 {
			return path, string(s), nil
		}
	}
	seed := sha256.Sum256([]byte("ssmirror bench payload"))
	r := rand.NewChaCha8(seed)
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(out, h), 1<<20)
	if _, err := io.CopyN(w, r, size); err != nil {
		out.Close()
		return "", "", err
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return "", "", err
	}
	if err := out.Close(); err != nil {
		return "", "", err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(sumFile, []byte(sum), 0o644); err != nil {
		return "", "", err
	}
	return path, sum, os.Rename(tmp, path)
}
