package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func productsDoc(item string) string {
	return `{"format":"products:1.0","content_id":"c","products":{"p":{"arch":"amd64","versions":{"v":{"items":{"i":` + item + `}}}}}}`
}

const goodItem = `{"path":"a/b","size":1,"sha256":"` + zero64 + `"}`

func TestStrictDuplicateKeys(t *testing.T) {
	products := map[string]struct{ doc, want string }{
		"top":             {`{"format":"products:1.0","content_id":"c","content_id":"d","products":{}}`, `c.json: duplicate key "content_id"`},
		"product name":    {`{"format":"products:1.0","content_id":"c","products":{"p":{"versions":{}},"p":{"versions":{}}}}`, `c.json: products: duplicate key "p"`},
		"product field":   {`{"format":"products:1.0","content_id":"c","products":{"p":{"arch":"a","versions":{},"arch":"b"}}}`, `c.json: products["p"]: duplicate key "arch"`},
		"version name":    {`{"format":"products:1.0","content_id":"c","products":{"p":{"versions":{"v":{"items":{}},"v":{"items":{}}}}}}`, `c.json: products["p"].versions: duplicate key "v"`},
		"item name":       {productsDoc(goodItem + `,"i":` + goodItem), `c.json: products["p"].versions["v"].items: duplicate key "i"`},
		"item path":       {productsDoc(`{"path":"a/b","size":1,"sha256":"` + zero64 + `","path":"../../etc/passwd"}`), `c.json: products["p"].versions["v"].items["i"]: duplicate key "path"`},
		"escaped key":     {productsDoc(`{"path":"a/b","size":1,"sha256":"` + zero64 + `","\u0073ize":2}`), `items["i"]: duplicate key "size"`},
		"invalid utf8":    {productsDoc(`{"path":"a/b","size":1,"sha256":"` + zero64 + `","x` + "\xff" + `":1,"x` + "\xfe" + `":2}`), "items[\"i\"]: duplicate key \"x\ufffd\""},
		"nested unknown":  {productsDoc(`{"path":"a/b","size":1,"sha256":"` + zero64 + `","extra":{"k":[{"a":1,"a":2}]}}`), `items["i"].extra.k[0]: duplicate key "a"`},
		"aliases":         {`{"format":"products:1.0","content_id":"c","_aliases":{"crsn":{"x":{"r":"1","r":"2"}}},"products":{}}`, `c.json: _aliases.crsn.x: duplicate key "r"`},
		"big object":      {`{"format":"products:1.0","content_id":"c","products":{},` + manyKeys(40, 35) + `}`, `c.json: duplicate key "k35"`},
		"big, early key":  {`{"format":"products:1.0","content_id":"c","products":{},"a":{` + manyKeys(bigObject, 1) + `}}`, `c.json: a: duplicate key "k1"`}, // the first key past the small-object limit
		"raw high bytes":  {productsDoc(`{"path":"a/b","size":1,"sha256":"` + zero64 + `","` + "\x80" + `":1,"` + "\xff" + `":2}`), "items[\"i\"]: duplicate key \"\ufffd\""},
		"in an array":     {productsDoc(`{"path":"a/b","size":1,"sha256":"` + zero64 + `","extra":[{},{},{"a":1,"a":2}]}`), `items["i"].extra[2]: duplicate key "a"`},
		"ident key":       {productsDoc(`{"path":"a/b","size":1,"sha256":"` + zero64 + `","extra":{"az-AZ09_":{"a":1,"a":2}}}`), `items["i"].extra.az-AZ09_: duplicate key "a"`},
		"big then nested": {`{"format":"products:1.0","content_id":"c","products":{},"a":{` + manyKeys(40, -1) + `},"b":{"k1":1,"k1":2}}`, `c.json: b: duplicate key "k1"`},
	}
	for name, c := range products {
		t.Run("products/"+name, func(t *testing.T) {
			_, err := DecodeProducts("c.json", []byte(c.doc))
			if !errors.Is(err, ErrDuplicateKey) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant ErrDuplicateKey with %q", err, c.want)
			}
		})
	}
	index := map[string]struct{ doc, want string }{
		"top":         {`{"format":"index:1.0","index":{},"index":{}}`, `index.json: duplicate key "index"`},
		"content id":  {`{"format":"index:1.0","index":{"c":{"path":"a.json"},"c":{"path":"b.json"}}}`, `index.json: index: duplicate key "c"`},
		"entry field": {`{"format":"index:1.0","index":{"c":{"path":"a.json","format":"products:1.0","path":"b.json"}}}`, `index.json: index["c"]: duplicate key "path"`},
		"in a list":   {`{"format":"index:1.0","index":{"c":{"path":"a.json","products":[{"x":1,"x":1}]}}}`, `index.json: index["c"].products[0]: duplicate key "x"`},
	}
	for name, c := range index {
		t.Run("index/"+name, func(t *testing.T) {
			_, err := DecodeIndex("index.json", []byte(c.doc))
			if !errors.Is(err, ErrDuplicateKey) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant ErrDuplicateKey with %q", err, c.want)
			}
		})
	}
}

// manyKeys renders n members "k0":0, ..., "k<n-1>":<n-1>, then "k<dup>"
// again when dup >= 0.
func manyKeys(n, dup int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if dup >= 0 {
		fmt.Fprintf(&b, `"k%d":0,`, dup)
	}
	return strings.TrimSuffix(b.String(), ",")
}

func TestStrictAcceptsDistinctKeys(t *testing.T) {
	ok := []string{
		`{}`,
		` {"a":1} `,
		`{"a":{"a":{"a":1}},"b":[{"a":1},{"a":1}]}`, // the same key in different objects
		`{"a":1,"A":1,"a ":1,"\u00e9":1,"é ":1}`,
		`{"` + strings.Repeat("\\\\", 3) + `":1,"\\\"":2}`, // escaped backslashes and quotes
		`{` + manyKeys(100, -1) + `}`,
		`{"a":{` + manyKeys(40, -1) + `},"b":{` + manyKeys(40, -1) + `}}`, // sibling big objects
		`{"x":[` + strings.Repeat("[", MaxDepth-2) + strings.Repeat("]", MaxDepth-2) + `]}`,
		`{"s":"a \" b \\","n":-1.5e+10,"t":true,"f":false,"z":null,"e":[],"o":{}}`,
	}
	for _, doc := range ok {
		if err := StrictJSON("x.json", []byte(doc)); err != nil {
			t.Errorf("StrictJSON(%s) = %v", doc, err)
		}
	}
	for _, name := range []string{"ubuntu", "bootloaders", "centos", "index"} {
		data, err := os.ReadFile("../../testdata/maas/simplestreams_" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		top := rProducts
		if name == "index" {
			top = rIndex
		}
		if err := checkStrict(name, data, top); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStrictShape(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
	cases := map[string]struct {
		doc, want string
		index     bool
	}{
		"top array":           {doc: `[{"format":"products:1.0"}]`, want: "c.json: top level is an array, want an object"},
		"top string":          {doc: `"products:1.0"`, want: "top level is a string, want an object"},
		"top number":          {doc: ` 7 `, want: "top level is a number, want an object"},
		"top null":            {doc: `null`, want: "top level is null, want an object"},
		"top true":            {doc: `true`, want: "top level is a boolean, want an object", index: true},
		"empty":               {doc: ``, want: "c.json: malformed JSON: unexpected end of JSON input"},
		"truncated":           {doc: productsDoc(goodItem)[:60], want: "malformed JSON: unexpected end of JSON input"},
		"ends after {":        {doc: `{`, want: "malformed JSON: unexpected end of JSON input"},
		"ends after a key":    {doc: `{"format"`, want: "malformed JSON: unexpected end of JSON input"},
		"ends after [":        {doc: `{"format":"products:1.0","x":[`, want: "malformed JSON: unexpected end of JSON input"},
		"ends in an object":   {doc: `{"format":"products:1.0","x":{`, want: "malformed JSON: unexpected end of JSON input"},
		"ends after a number": {doc: `{"format":"products:1.0","x":1`, want: "malformed JSON: unexpected end of JSON input"},
		"trailing":            {doc: productsDoc(goodItem) + `{}`, want: "malformed JSON: invalid character '{' after top-level value"},
		"two documents":       {doc: `{"format":"index:1.0","index":{}} x`, want: "malformed JSON: invalid character 'x'", index: true},
		"bad literal":         {doc: `{"format":"index:1.0","index":{},"x":nul}`, want: "malformed JSON: invalid character", index: true},
		"missing colon":       {doc: `{"format" "index:1.0"}`, want: "malformed JSON: invalid character '\"' after object key", index: true},
		"too deep":            {doc: deep, want: "c.json: a" + strings.Repeat("[0]", MaxDepth-1) + ": nested deeper than 64 levels"},
		"products list":       {doc: `{"format":"products:1.0","content_id":"c","products":[]}`, want: "c.json: products: not an object (an array)"},
		"products null":       {doc: `{"format":"products:1.0","content_id":"c","products":null}`, want: "c.json: products: not an object (null)"},
		"product string":      {doc: `{"format":"products:1.0","content_id":"c","products":{"p":"x"}}`, want: `products["p"]: not an object (a string)`},
		"versions list":       {doc: `{"format":"products:1.0","content_id":"c","products":{"p":{"versions":[]}}}`, want: `products["p"].versions: not an object (an array)`},
		"version not object":  {doc: `{"format":"products:1.0","content_id":"c","products":{"p":{"versions":{"v":7}}}}`, want: `products["p"].versions["v"]: not an object (a number)`},
		"items list":          {doc: `{"format":"products:1.0","content_id":"c","products":{"p":{"versions":{"v":{"items":[1]}}}}}`, want: `products["p"].versions["v"].items: not an object (an array)`},
		"item not object":     {doc: productsDoc(`["a/b"]`), want: `products["p"].versions["v"].items["i"]: not an object (an array)`},
		"content_id number":   {doc: `{"format":"products:1.0","content_id":7,"products":{}}`, want: `c.json: "content_id": not a string (a number)`},
		"format not string":   {doc: `{"format":["products:1.0"],"content_id":"c","products":{}}`, want: `"format": not a string (an array)`},
		"index list":          {doc: `{"format":"index:1.0","index":[]}`, want: "c.json: index: not an object (an array)", index: true},
		"index entry string":  {doc: `{"format":"index:1.0","index":{"c":"streams/v1/c.json"}}`, want: `index["c"]: not an object (a string)`, index: true},
		"index format number": {doc: `{"format":1.0,"index":{}}`, want: `"format": not a string (a number)`, index: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			if c.index {
				_, err = DecodeIndex("c.json", []byte(c.doc))
			} else {
				_, err = DecodeProducts("c.json", []byte(c.doc))
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "c.json: ") {
				t.Fatalf("err = %v\nwant ErrInvalid with %q", err, c.want)
			}
		})
	}
}

// refDuplicate is the slow reference: it walks the document with
// encoding/json's tokenizer and a map per object. ok is false when data is
// not one JSON object.
func refDuplicate(data []byte) (dup, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var value func() error
	value = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				if seen[k.(string)] {
					dup = true
				}
				seen[k.(string)] = true
				if err := value(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := value(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if !json.Valid(data) || bytes.TrimSpace(data)[0] != '{' {
		return false, false
	}
	if err := value(); err != nil {
		return false, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, false
	}
	return dup, true
}

func FuzzStrict(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":1,"c":[{"d":1,"d":1}]}}`, `{"\u0061":1,"a":2}`, `{"a\\":1,"a\\\\":1}`,
		`{"x` + "\xff" + `":1,"x` + "\xfe" + `":2}`, `{"s":"\"}\"","t":[true,false,null,-1e5]}`,
		`{` + manyKeys(40, 35) + `}`, `[]`, `{"a":`, `{"a" 1}`, productsDoc(goodItem),
		"{\"0\":{\"\":{\"0\":\"\x1e\"}}}", // a control byte in a string: found by fuzzing
	} {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile("../../testdata/maas/simplestreams_bootloaders.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := StrictJSON("fuzz", data)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error does not wrap ErrInvalid: %v", err)
		}
		// The checks against a document's shape never panic either.
		checkStrict("fuzz", data, rProducts)
		checkStrict("fuzz", data, rIndex)
		if len(data) > 4096 {
			return
		}
		dup, ok := refDuplicate(data)
		if !ok {
			if err == nil {
				t.Fatalf("accepted %q, which is not one JSON object", data)
			}
			return
		}
		if bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) > MaxDepth {
			return // may be refused for its depth
		}
		if dup != errors.Is(err, ErrDuplicateKey) {
			t.Fatalf("reference says duplicate=%v, StrictJSON says %v, for %q", dup, err, data)
		}
		if !dup && err != nil {
			t.Fatalf("StrictJSON(%q) = %v for a valid object without duplicates", data, err)
		}
	})
}

// bigCatalog renders a products document with products*versions*4 items
// shaped like the real MAAS ones, indented like upstream.
func bigCatalog(products, versions int) []byte {
	prods := map[string]any{}
	for p := range products {
		vers := map[string]any{}
		for v := range versions {
			ver := fmt.Sprintf("2025%04d", v)
			items := map[string]any{}
			for _, ft := range []string{"boot-initrd", "boot-kernel", "manifest", "squashfs"} {
				items[ft] = map[string]any{
					"ftype": ft, "kpackage": "linux-generic",
					"path":   fmt.Sprintf("jammy/amd64/%s/ga-22.04/p%d/%s", ver, p, ft),
					"sha256": fmt.Sprintf("%064x", p*1000+v), "size": 115936699,
				}
			}
			vers[ver] = map[string]any{"items": items}
		}
		prods[fmt.Sprintf("com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04-%d", p)] = map[string]any{
			"arch": "amd64", "kflavor": "generic", "krel": "jammy", "label": "stable", "os": "ubuntu",
			"release": "jammy", "release_codename": "Jammy Jellyfish", "release_title": "22.04 LTS",
			"subarch": "ga-22.04", "subarches": "generic,hwe-p,hwe-q,hwe-r,hwe-s,hwe-t,hwe-u,ga-22.04",
			"support_eol": "2027-04-21", "version": "22.04", "versions": vers,
		}
	}
	doc := map[string]any{"format": "products:1.0", "content_id": "com.ubuntu.maas:stable:v3:download",
		"datatype": "image-ids", "updated": "Thu, 24 Jul 2025 08:01:49 +0000", "products": prods}
	data, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		panic(err)
	}
	return data
}

// BenchmarkStrict measures the strict pass over a 100,000-item catalog,
// per item, next to the decoding it precedes.
func BenchmarkStrict(b *testing.B) {
	data := bigCatalog(2500, 10) // 100,000 items
	const items = 100_000
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := checkStrict("big", data, rProducts); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/items, "ns/item")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := DecodeProducts("big", data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/items, "ns/item")
	})
}
