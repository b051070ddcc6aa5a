package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestValidPath(t *testing.T) {
	ok := []string{
		"streams/v1/index.json",
		"streams/v1/com.ubuntu.maas:stable:v3:download.json",
		"jammy/amd64/20250615/ga-22.04/generic/boot-kernel",
		"a",
		"a/b..c/.d",
		"a b/c d", // a space is not a control character
		strings.Repeat("a/", 300) + "b",
	}
	bad := map[string]string{
		"":                         "empty",
		"/etc/passwd":              "absolute",
		"../x":                     "'..' segment",
		"a/../../x":                "'..' segment",
		"a/./b":                    "'.' segment",
		"a//b":                     "empty segment",
		"a/":                       "empty segment",
		`a\b`:                      "backslash",
		"a\x00b":                   "control character",
		"a\nb":                     "control character",
		"a\x7fb":                   "control character",
		strings.Repeat("a", 256):   "segment longer",
		strings.Repeat("ab/", 400): "longer than",
	}
	for _, p := range ok {
		if err := ValidPath(p); err != nil {
			t.Errorf("ValidPath(%q) = %v, want nil", p, err)
		}
	}
	for p, want := range bad {
		err := ValidPath(p)
		if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidPath(%q) = %v, want ErrUnsafePath mentioning %q", p, err, want)
		}
	}
}

const inherit = `{
 "format": "products:1.0", "content_id": "cid", "datatype": "image-ids",
 "label": "top", "arch": "top-arch", "license": {"name": "x"},
 "_aliases": {"crsn": {"ap-1": {"region": "ap-southeast-1", "endpoint": "https://ap"}}},
 "products": {
  "p1": {"arch": "amd64", "release": "jammy", "crsn": "ap-1", "num": 22.04, "flag": true, "list": ["a"],
   "versions": {
    "20250101": {"label": "daily", "items": {
      "k": {"path": "a/k", "size": 3, "sha256": "` + zero64 + `", "ftype": "boot-kernel", "nested": {"x": 1}},
      "meta": {"id": "no-file", "arch": "arm64"}
    }}
   }
  }
 }
}`

const zero64 = "0000000000000000000000000000000000000000000000000000000000000000"

func TestEachInheritsAndExpandsAliases(t *testing.T) {
	doc, err := DecodeProducts("inherit.json", []byte(inherit))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	doc.Each(func(f Flat) bool { got[f.Name] = maps.Clone(f.Attrs); return true })
	k := got["k"]
	want := map[string]string{
		"format": "products:1.0", "content_id": "cid", "datatype": "image-ids",
		"label": "daily", "arch": "amd64", "release": "jammy", "crsn": "ap-1",
		"region": "ap-southeast-1", "endpoint": "https://ap", "num": "22.04", "flag": "True",
		"path": "a/k", "size": "3", "sha256": zero64, "ftype": "boot-kernel",
		"product_name": "p1", "version_name": "20250101", "item_name": "k",
	}
	if !reflect.DeepEqual(k, want) {
		t.Errorf("flattened k:\n got %v\nwant %v", k, want)
	}
	if got["meta"]["arch"] != "arm64" || got["meta"]["label"] != "daily" {
		t.Errorf("item without path: %v", got["meta"])
	}
}

func TestDecodeProductsRejects(t *testing.T) {
	item := func(body string) string {
		return `{"format":"products:1.0","content_id":"c","products":{"p":{"versions":{"v":{"items":{"i":` + body + `}}}}}}`
	}
	cases := map[string]struct{ doc, want string }{
		"malformed":      {`{"format":`, "malformed JSON"},
		"wrong format":   {`{"format":"products:2.0","content_id":"c","products":{}}`, `format is "products:2.0"`},
		"no content id":  {`{"format":"products:1.0","products":{}}`, "content_id missing"},
		"products list":  {`{"format":"products:1.0","content_id":"c","products":[]}`, "products: not an object"},
		"no products":    {`{"format":"products:1.0","content_id":"c"}`, "products: not an object"},
		"unsafe path":    {item(`{"path":"../x","size":1,"sha256":"` + zero64 + `"}`), "unsafe path"},
		"absolute path":  {item(`{"path":"/x","size":1,"sha256":"` + zero64 + `"}`), "absolute"},
		"path not str":   {item(`{"path":7,"size":1,"sha256":"` + zero64 + `"}`), "path: not a string"},
		"no size":        {item(`{"path":"x","sha256":"` + zero64 + `"}`), "size missing"},
		"negative size":  {item(`{"path":"x","size":-1,"sha256":"` + zero64 + `"}`), "out of range"},
		"absurd size":    {item(`{"path":"x","size":1e30,"sha256":"` + zero64 + `"}`), "not an integer"},
		"huge size":      {item(`{"path":"x","size":99999999999999999,"sha256":"` + zero64 + `"}`), "out of range"},
		"string size":    {item(`{"path":"x","size":"1","sha256":"` + zero64 + `"}`), "not an integer"},
		"no checksum":    {item(`{"path":"x","size":1}`), "no checksum"},
		"short sha256":   {item(`{"path":"x","size":1,"sha256":"abc"}`), "sha256: not 64 hex digits"},
		"non-hex md5":    {item(`{"path":"x","size":1,"md5":"` + strings.Repeat("z", 32) + `"}`), "md5: not 32 hex"},
		"item not obj":   {item(`"x"`), "not an object"},
		"versions array": {`{"format":"products:1.0","content_id":"c","products":{"p":{"versions":[]}}}`, "versions: not an object"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeProducts("streams/v1/c.json", []byte(c.doc))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) ||
				!strings.HasPrefix(err.Error(), "streams/v1/c.json: ") {
				t.Fatalf("err = %v, want ErrInvalid naming the file and %q", err, c.want)
			}
		})
	}
}

func TestDecodeIndexRejects(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"format":      {`{"format":"products:1.0","index":{}}`, "format is"},
		"no index":    {`{"format":"index:1.0"}`, "index: not an object"},
		"unsafe path": {`{"format":"index:1.0","index":{"c":{"path":"/etc/x","format":"products:1.0"}}}`, "unsafe path"},
		"products":    {`{"format":"index:1.0","index":{"c":{"path":"a","products":"x"}}}`, "not a list"},
		"truncated":   {`{"format":"index:1.0","index":{"c":{"pa`, "malformed JSON"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeIndex("index.json", []byte(c.doc))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrInvalid with %q", err, c.want)
			}
		})
	}
}

// TestRoundTripKeepsUnknownFields decodes the real MAAS catalogs and checks
// that re-encoding loses nothing.
func TestRoundTripKeepsUnknownFields(t *testing.T) {
	for _, name := range []string{"ubuntu", "bootloaders", "centos"} {
		doc, data := maasProducts(t, name)
		out, err := doc.Encode()
		if err != nil {
			t.Fatal(err)
		}
		// Upstream writes sorted keys with one-space indentation, as
		// Encode does: the bytes come back unchanged.
		if !bytes.Equal(bytes.TrimSpace(out), bytes.TrimSpace(data)) {
			t.Errorf("%s: re-encoded bytes differ from the upstream file", name)
		}
		var a, b any
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: re-encoded document differs from the original", name)
		}
	}
	data, err := os.ReadFile("../../testdata/maas/simplestreams_index.json")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := DecodeIndex("index", data)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := idx.Encode()
	var a, b any
	json.Unmarshal(data, &a)
	json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("index: re-encoded document differs\n%s", out)
	}
}

// TestEncodeUnusualFields: keys that JSON must escape, object and list
// values (indented like the rest), and the boundary sizes 0 and MaxSize
// come back as they went in, in a sorted, one-space indented encoding
// whatever the layout read.
func TestEncodeUnusualFields(t *testing.T) {
	doc := `{
 "content_id": "c",
 "format": "products:1.0",
 "odd \"key\" <&>\\": "v",
 "products": {
  "p": {
   "list": [
    1,
    {
     "a": "b"
    }
   ],
   "obj": {
    "x": [
     "y"
    ]
   },
   "versions": {
    "v": {
     "items": {
      "empty": {
       "path": "e",
       "sha256": "` + zero64 + `",
       "size": 0
      },
      "largest": {
       "path": "l",
       "sha256": "` + zero64 + `",
       "size": 17592186044416
      }
     }
    }
   }
  }
 }
}
`
	if MaxSize != 17592186044416 {
		t.Fatalf("MaxSize is %d; update the document", int64(MaxSize))
	}
	var compact bytes.Buffer // decoded from compact JSON, encoded indented
	if err := json.Compact(&compact, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	p, err := DecodeProducts("c.json", compact.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	p.Each(func(f Flat) bool { sizes[f.Item.Path] = f.Item.Size; return true })
	if sizes["e"] != 0 || sizes["l"] != MaxSize || len(sizes) != 2 {
		t.Errorf("sizes %v", sizes)
	}
	out, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != doc {
		t.Errorf("re-encoded:\n%s\nwant:\n%s", out, doc)
	}
}

func TestRealCatalogCounts(t *testing.T) {
	doc, _ := maasProducts(t, "ubuntu")
	n, versions := 0, map[string]bool{}
	doc.Each(func(f Flat) bool {
		n++
		versions[f.Product+"@"+f.Version] = true
		if f.Attrs["os"] != "ubuntu" || f.Item.Size <= 0 || f.Item.Strongest().Algo != "sha256" {
			t.Errorf("%s %s %s: unexpected %v", f.Product, f.Version, f.Name, f.Attrs)
		}
		return true
	})
	if n != 32 || len(versions) != 8 || len(doc.Products) != 4 {
		t.Errorf("got %d items, %d versions, %d products; want 32, 8, 4", n, len(versions), len(doc.Products))
	}
}

func TestSameContentAndStrongest(t *testing.T) {
	a := &Item{Size: 1, MD5: "m", SHA256: "s"}
	if got := a.Strongest(); got.Algo != "sha256" {
		t.Errorf("Strongest = %v", got)
	}
	if got := (&Item{SHA512: "x", SHA256: "y"}).Strongest(); got.Algo != "sha512" {
		t.Errorf("Strongest = %v", got)
	}
	cases := []struct {
		b    *Item
		want bool
	}{
		{&Item{Size: 1, SHA256: "s"}, true},
		{&Item{Size: 2, SHA256: "s"}, false},
		{&Item{Size: 1, SHA256: "t"}, false},
		{&Item{Size: 1, SHA512: "x"}, false}, // nothing in common to compare
		{&Item{Size: 1, MD5: "m", SHA256: "s"}, true},
	}
	for i, c := range cases {
		if got := a.SameContent(c.b); got != c.want {
			t.Errorf("case %d: SameContent = %v, want %v", i, got, c.want)
		}
	}
}

func FuzzDecodeProducts(f *testing.F) {
	f.Add([]byte(inherit))
	if data, err := os.ReadFile("../../testdata/maas/simplestreams_bootloaders.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := DecodeProducts("fuzz", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted malformed JSON %q", data)
		}
		doc.Each(func(f Flat) bool {
			if f.Item.Path != "" && ValidPath(f.Item.Path) != nil {
				t.Fatalf("accepted unsafe path %q", f.Item.Path)
			}
			return true
		})
		out, err := doc.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeProducts("again", out); err != nil {
			t.Fatalf("re-encoded document does not decode: %v", err)
		}
		if like, err := doc.EncodeLike(data); err != nil || !bytes.Equal(like, out) {
			t.Fatalf("EncodeLike(the document) differs from Encode (err %v)", err)
		}
		// Flattening only the keys a predicate reads selects the same.
		match := func(a map[string]string) bool { return a["arch"] == "amd64" || a["ftype"] != "" }
		if all, some := doc.Select(nil, match), doc.Select([]string{"arch", "ftype"}, match); !reflect.DeepEqual(all, some) {
			t.Fatalf("Select of the keys read kept %d products, of all %d", len(some), len(all))
		}
	})
}

func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte(`{"format":"index:1.0","index":{"c":{"path":"streams/v1/c.json","format":"products:1.0","products":["p"]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := DecodeIndex("fuzz", data)
		if err != nil {
			return
		}
		for _, e := range idx.Entries {
			if ValidPath(e.Path) != nil {
				t.Fatalf("accepted unsafe path %q", e.Path)
			}
		}
	})
}

// TestSelect: the concurrent selection keeps exactly the items a plain
// walk with the same predicate keeps, sharing their Fields and Items,
// and leaves out the versions and products that keep none.
func TestSelect(t *testing.T) {
	var docs []*Products
	for _, name := range []string{"simplestreams_ubuntu.json", "simplestreams_bootloaders.json"} {
		data, err := os.ReadFile("../../testdata/maas/" + name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := DecodeProducts(name, data)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	inh, err := DecodeProducts("inherit.json", []byte(inherit))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, inh)
	cases := map[string]struct {
		keys  []string // what match reads
		match func(map[string]string) bool
	}{
		"everything":         {[]string{}, func(map[string]string) bool { return true }},
		"nothing":            {[]string{}, func(map[string]string) bool { return false }},
		"one arch":           {[]string{"arch"}, func(a map[string]string) bool { return a["arch"] == "amd64" }},
		"kernels only":       {[]string{"ftype"}, func(a map[string]string) bool { return a["ftype"] == "boot-kernel" }},
		"newest version":     {[]string{}, func(a map[string]string) bool { return strings.HasPrefix(a["version_name"], "2025") }},
		"alias-expanded key": {[]string{"region"}, func(a map[string]string) bool { return a["region"] == "ap-southeast-1" }},
		"one item of each":   {[]string{"label"}, func(a map[string]string) bool { return a["item_name"] == "boot-kernel" || a["item_name"] == "k" }},
		"two keys":           {[]string{"release", "label"}, func(a map[string]string) bool { return a["release"] == "jammy" && a["label"] != "daily" }},
	}
	for name, c := range cases {
		match := c.match
		for _, doc := range docs {
			want := map[string]*Product{}
			doc.Each(func(f Flat) bool {
				if !match(f.Attrs) {
					return true
				}
				src := doc.Products[f.Product]
				if want[f.Product] == nil {
					want[f.Product] = &Product{Fields: src.Fields, Versions: map[string]*Version{}}
				}
				v := want[f.Product].Versions[f.Version]
				if v == nil {
					v = &Version{Fields: src.Versions[f.Version].Fields, Items: map[string]*Item{}}
					want[f.Product].Versions[f.Version] = v
				}
				v.Items[f.Name] = f.Item
				return true
			})
			if got := doc.Select(nil, match); !reflect.DeepEqual(selection(got), selection(want)) {
				t.Errorf("%s, %s: Select kept %d products, a plain walk %d", name, doc.ContentID(), len(got), len(want))
			}
			if got := doc.Select(c.keys, match); !reflect.DeepEqual(selection(got), selection(want)) {
				t.Errorf("%s, %s: Select of keys %q kept %d products, a plain walk %d", name, doc.ContentID(), c.keys, len(got), len(want))
			}
		}
	}
}

// TestEachItemsDoNotLeak: what an item sets (its fields, the aliases they
// select, fields named like the names Each adds) is its own: the next
// item of the version sees the version's attributes again.
func TestEachItemsDoNotLeak(t *testing.T) {
	doc := `{"format": "products:1.0", "content_id": "cid", "label": "top",
 "_aliases": {"crsn": {"ap-1": {"region": "ap-southeast-1", "label": "from-alias"}}},
 "products": {"p": {"arch": "amd64", "versions": {"v": {"label": "daily", "items": {
  "a": {"path": "a", "size": 1, "sha256": "` + zero64 + `", "label": "mine", "crsn": "ap-1", "content_id": "x", "item_name": "y", "extra": 1},
  "b": {"path": "b", "size": 2, "md5": "` + strings.Repeat("0", 32) + `"}
 }}}}}}`
	d, err := DecodeProducts("leak.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	d.Each(func(f Flat) bool { got[f.Name] = maps.Clone(f.Attrs); return true })
	wantA := map[string]string{"format": "products:1.0", "content_id": "cid", "label": "from-alias", "arch": "amd64",
		"path": "a", "size": "1", "sha256": zero64, "crsn": "ap-1", "region": "ap-southeast-1", "extra": "1",
		"product_name": "p", "version_name": "v", "item_name": "a"}
	wantB := map[string]string{"format": "products:1.0", "content_id": "cid", "label": "daily", "arch": "amd64",
		"path": "b", "size": "2", "md5": strings.Repeat("0", 32), "product_name": "p", "version_name": "v", "item_name": "b"}
	if !reflect.DeepEqual(got["a"], wantA) {
		t.Errorf("a:\n got %v\nwant %v", got["a"], wantA)
	}
	if !reflect.DeepEqual(got["b"], wantB) {
		t.Errorf("b:\n got %v\nwant %v", got["b"], wantB)
	}
}

// TestEncodeLike: a document that encodes to the bytes given comes back
// as those very bytes, not a copy; any other gives Encode's bytes, in a
// slice of its own.
func TestEncodeLike(t *testing.T) {
	doc, _ := maasProducts(t, "ubuntu")
	want, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	same, err := doc.EncodeLike(want)
	if err != nil || &same[0] != &want[0] || len(same) != len(want) {
		t.Fatalf("EncodeLike(its own encoding) made a copy (err %v)", err)
	}
	changed := bytes.Clone(want)
	changed[len(changed)/2] ^= 1
	for name, like := range map[string][]byte{
		"a byte differs": changed, "shorter": want[:len(want)-10], "longer": append(bytes.Clone(want), ' '),
		"empty": {}, "nil": nil,
	} {
		got, err := doc.EncodeLike(like)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: EncodeLike differs from Encode (err %v)", name, err)
		}
		if len(like) > 0 && len(got) > 0 && &got[0] == &like[0] {
			t.Errorf("%s: EncodeLike returned the other bytes", name)
		}
	}
	// A file cut short anywhere, held in a slice that ends where it
	// does (no byte past the cut can be read).
	for cut := range len(want) {
		if cut > 4096 && cut < len(want)-4096 && cut%997 != 0 {
			continue
		}
		like := bytes.Clone(want[:cut])
		like = like[:cut:cut]
		if got, err := doc.EncodeLike(like); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: EncodeLike differs from Encode (err %v)", cut, err)
		}
	}
}

// maasProducts decodes the real MAAS products file of testdata/maas
// named simplestreams_NAME.json, and returns it with its text.
func maasProducts(t *testing.T, name string) (*Products, []byte) {
	t.Helper()
	data, err := os.ReadFile("../../testdata/maas/simplestreams_" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := DecodeProducts(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return doc, data
}

// selection is what a selection keeps: each product's and version's
// fields, and the items.
func selection(m map[string]*Product) map[string]any {
	out := map[string]any{}
	for pname, p := range m {
		vs := map[string]any{}
		for vname, v := range p.Versions {
			vs[vname] = []any{v.Fields, v.Items}
		}
		out[pname] = []any{p.Fields, vs}
	}
	return out
}
