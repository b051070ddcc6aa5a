// Package catalog decodes, checks, flattens and re-encodes SimpleStreams
// documents: the index (format index:1.0) and products files (format
// products:1.0).
//
// Documents are decoded into small trees that keep every field as raw JSON,
// so fields this package does not name survive a rewrite. Decoding rejects
// what a mirror must never act on: a wrong format, unsafe paths, items
// without size or checksum, malformed checksums, absurd sizes. The package
// does no I/O and knows nothing about signatures, filters or targets.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ssmirror/ssmirror/internal/par"
)

// Document formats.
const (
	FormatIndex    = "index:1.0"
	FormatProducts = "products:1.0"
)

// MaxSize is the largest item size accepted (16 TiB). Larger sizes are
// treated as lies.
const MaxSize = 1 << 44

// ErrInvalid is wrapped by every decoding or validation error.
var ErrInvalid = errors.New("invalid catalog")

// Error locates a problem in a document: the file, the place in its tree
// (such as `products["p"].versions["v"].items["i"]`) and the reason.
type Error struct {
	File  string
	Where string
	Err   error
}

func (e *Error) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Where, e.Err)
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Is makes every Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Fields holds the JSON fields of one node of a document, raw, so unknown
// fields survive a rewrite. Child collections ("index", "products",
// "versions", "items") are not in Fields; they are decoded into the node.
type Fields map[string]json.RawMessage

// String returns the field as a string the way the reference tool's filters
// see it: strings unquoted, numbers as written, booleans as True/False,
// null as None. ok is false for a missing field, an object or a list.
func (f Fields) String(key string) (s string, ok bool) {
	return scalar(f[key])
}

func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		s, err := unquote(raw)
		return s, err == nil
	case '{', '[':
		return "", false
	case 't':
		return "True", true
	case 'f':
		return "False", true
	case 'n':
		return "None", true
	default:
		return string(raw), true
	}
}

// Index is a decoded index:1.0 document.
type Index struct {
	Fields  Fields // top-level fields except "index"
	Entries map[string]*IndexEntry
}

// IndexEntry is one content id's entry in an index.
type IndexEntry struct {
	Fields   Fields // all fields except "path" and "products"
	Path     string
	Products []string
}

// Format returns the entry's format field ("products:1.0" for entries a
// mirror follows).
func (e *IndexEntry) Format() string { s, _ := e.Fields.String("format"); return s }

// Products is a decoded products:1.0 document.
type Products struct {
	Fields   Fields // top-level fields except "products"
	Products map[string]*Product
	aliases  map[string]map[string]Fields
	// keys holds the item field keys of the document, to flatten items
	// without allocating their keys again.
	keys interner
}

// Len returns the number of items in the document.
func (p *Products) Len() int {
	n := 0
	for _, prod := range p.Products {
		for _, v := range prod.Versions {
			n += len(v.Items)
		}
	}
	return n
}

// ContentID returns the document's content_id.
func (p *Products) ContentID() string { s, _ := p.Fields.String("content_id"); return s }

// Product is one product with its versions.
type Product struct {
	Fields   Fields
	Versions map[string]*Version
	// itemKeys holds the field keys of its items, when decoded: a walk
	// that reads none of them need not read the items' fields.
	itemKeys interner
}

// Version is one version of a product with its items. Versions of a
// product whose fields are the same may share their Fields.
type Version struct {
	Fields Fields
	Items  map[string]*Item
	names  []string // the keys of Items in byte order, when decoded
}

// ItemNames returns the names of the version's items in byte order. Those
// of a decoded version are sorted once, when it is decoded: its Items
// are not to change.
func (v *Version) ItemNames() []string {
	if len(v.names) == len(v.Items) {
		return v.names
	}
	return SortedKeys(v.Items)
}

// Item is one file (or file-less record) of a version. Fields holds all of
// its fields, including path, size and checksums, as the text of its
// object.
type Item struct {
	Fields Object
	Path   string // empty for an item that names no file
	Size   int64
	MD5    string // lower-case hex, or empty
	SHA256 string
	SHA512 string
}

// Checksum is one digest of an item.
type Checksum struct {
	Algo string // "sha512", "sha256" or "md5"
	Hex  string
}

// Strongest returns the strongest checksum present: sha512 > sha256 > md5.
func (it *Item) Strongest() Checksum {
	switch {
	case it.SHA512 != "":
		return Checksum{"sha512", it.SHA512}
	case it.SHA256 != "":
		return Checksum{"sha256", it.SHA256}
	default:
		return Checksum{"md5", it.MD5}
	}
}

// SameContent reports whether two items describe the same bytes: same
// size, and every checksum both carry agrees (at least one must).
func (it *Item) SameContent(o *Item) bool {
	if it.Size != o.Size {
		return false
	}
	shared := 0
	for _, pair := range [][2]string{{it.SHA512, o.SHA512}, {it.SHA256, o.SHA256}, {it.MD5, o.MD5}} {
		if pair[0] == "" || pair[1] == "" {
			continue
		}
		if pair[0] != pair[1] {
			return false
		}
		shared++
	}
	return shared > 0
}

// DecodeIndex decodes and checks an index document. name is used in errors.
func DecodeIndex(name string, data []byte) (*Index, error) {
	fail := func(where string, format string, a ...any) error {
		return &Error{File: name, Where: where, Err: fmt.Errorf(format, a...)}
	}
	// Strict checks first (strict.go): encoding/json would silently keep
	// the last of duplicate keys and accept any nesting depth.
	if err := checkStrict(name, data, rIndex); err != nil {
		return nil, err
	}
	if err := validJSON(data); err != nil {
		return nil, fail("", "%v", err)
	}
	top, err := fieldsOf(data)
	if err != nil {
		return nil, fail("", "%v", err)
	}
	if f, _ := top.String("format"); f != FormatIndex {
		return nil, fail("", "format is %q, want %q", f, FormatIndex)
	}
	entries, err := fieldMap(top["index"])
	if err != nil {
		return nil, fail("index", "%v", err)
	}
	delete(top, "index")
	idx := &Index{Fields: top, Entries: make(map[string]*IndexEntry, len(entries))}
	for cid, f := range entries {
		where := fmt.Sprintf("index[%q]", cid)
		if f == nil {
			return nil, fail(where, "not an object")
		}
		e := &IndexEntry{Fields: f}
		path, ok := f["path"]
		if !ok || path[0] != '"' {
			return nil, fail(where, "path: not a string")
		}
		if e.Path, err = unquote(path); err != nil {
			return nil, fail(where, "path: not a string")
		}
		if err := ValidPath(e.Path); err != nil {
			return nil, fail(where, "path: %w", err)
		}
		if raw, ok := f["products"]; ok {
			if err := json.Unmarshal(raw, &e.Products); err != nil {
				return nil, fail(where, "products: not a list of strings")
			}
		}
		delete(f, "path")
		delete(f, "products")
		idx.Entries[cid] = e
	}
	return idx, nil
}

// validJSON reports malformed JSON with encoding/json's description.
func validJSON(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	return fmt.Errorf("malformed JSON: %v", err)
}

// fieldMap decodes an object of objects (content ids, products, versions,
// items) into their raw members; a missing value is not an object. A
// member that is null decodes to nil.
func fieldMap(raw json.RawMessage) (map[string]Fields, error) {
	if raw == nil {
		return nil, errNotObject
	}
	out := map[string]Fields{}
	err := members(raw, func(k string, v []byte) error {
		if string(v) == "null" {
			out[k] = nil
			return nil
		}
		f, err := fieldsOf(v)
		if err != nil {
			f = nil // reported by the caller as "not an object"
		}
		out[k] = f
		return nil
	})
	return out, err
}

// DecodeProducts decodes and checks a products document. name is used in
// errors. Every item with a path must have a safe path, a size and at
// least one well-formed checksum. Products are decoded in parallel; of
// several bad ones, the first in sorted order is reported.
func DecodeProducts(name string, data []byte) (*Products, error) {
	fail := func(where string, format string, a ...any) error {
		return &Error{File: name, Where: where, Err: fmt.Errorf(format, a...)}
	}
	// Strict checks first (strict.go): encoding/json would silently keep
	// the last of duplicate keys and accept any nesting depth. They also
	// check the structure the walker below relies on (balanced containers,
	// terminated strings), so the full grammar check (escapes, numbers)
	// runs alongside the decoding, and its verdict is awaited before
	// anything is returned.
	if err := checkStrict(name, data, rProducts); err != nil {
		return nil, err
	}
	valid := make(chan error, 1)
	go func() { valid <- validJSON(data) }()
	doc, err := decodeProducts(name, data, fail)
	if verr := <-valid; verr != nil {
		return nil, fail("", "%v", verr)
	}
	return doc, err
}

func decodeProducts(name string, data []byte, fail func(where string, format string, a ...any) error) (*Products, error) {
	top, err := fieldsOf(data)
	if err != nil {
		return nil, fail("", "%v", err)
	}
	if f, _ := top.String("format"); f != FormatProducts {
		return nil, fail("", "format is %q, want %q", f, FormatProducts)
	}
	if _, ok := top.String("content_id"); !ok {
		return nil, fail("", "content_id missing or not a string")
	}
	prods, err := rawMembers(top["products"])
	if err != nil {
		return nil, fail("products", "%v", err)
	}
	delete(top, "products")
	doc := &Products{Fields: top, Products: make(map[string]*Product, len(prods)), keys: interner{}}
	if raw, ok := top["_aliases"]; ok {
		if err := json.Unmarshal(raw, &doc.aliases); err != nil {
			return nil, fail("_aliases", "not an object of objects")
		}
	}
	slices.SortFunc(prods, func(a, b rawMember) int { return strings.Compare(a.key, b.key) })
	decoded := make([]*Product, len(prods))
	keys := make([]interner, len(prods))
	errs := make([]error, len(prods))
	par.Each(len(prods), func(i int) {
		keys[i] = interner{}
		decoded[i], errs[i] = decodeProduct(prods[i].key, prods[i].val, keys[i], fail)
	})
	for i, m := range prods {
		if errs[i] != nil {
			return nil, errs[i]
		}
		doc.Products[m.key] = decoded[i]
		decoded[i].itemKeys = keys[i]
		for k := range keys[i] {
			doc.keys.get([]byte(k))
		}
	}
	return doc, nil
}

// rawMember is one member of an object: its key and raw value.
type rawMember struct {
	key string
	val []byte
}

// rawMembers returns the members of an object, in document order; a
// missing value is not an object.
func rawMembers(raw json.RawMessage) ([]rawMember, error) {
	if raw == nil {
		return nil, errNotObject
	}
	var out []rawMember
	err := members(raw, func(k string, v []byte) error {
		out = append(out, rawMember{k, v})
		return nil
	})
	return out, err
}

// decodeProduct decodes one product's versions and items. Item field keys
// go into keys; version and item names are interned there too.
func decodeProduct(pname string, data []byte, keys interner, fail func(where string, format string, a ...any) error) (*Product, error) {
	pwhere := func() string { return fmt.Sprintf("products[%q]", pname) }
	pf, err := fieldsOf(data)
	if err != nil {
		return nil, fail(pwhere(), "not an object")
	}
	vraw, ok := pf["versions"]
	if !ok {
		return nil, fail(pwhere()+".versions", "%v", errNotObject)
	}
	delete(pf, "versions")
	prod := &Product{Fields: pf, Versions: map[string]*Version{}}
	names := interner{} // version and item names: the same few in every version
	shared := map[string]Fields{}
	err = memberBytes(vraw, func(vkey, vdata []byte) error {
		vname := names.get(vkey)
		vwhere := func() string { return fmt.Sprintf("%s.versions[%q]", pwhere(), vname) }
		vf, err := fieldsOf(vdata)
		if err != nil {
			return fail(vwhere(), "not an object")
		}
		iraw, ok := vf["items"]
		if !ok {
			return fail(vwhere()+".items", "%v", errNotObject)
		}
		delete(vf, "items")
		// Versions whose fields read the same share one map (the fields
		// of most versions are a label): the text around the items is
		// the key (iraw is a part of vdata; cap gives its offset).
		at := cap(vdata) - cap(iraw)
		same := string(vdata[:at]) + string(vdata[at+len(iraw):])
		if f, ok := shared[same]; ok {
			vf = f
		} else {
			shared[same] = vf
		}
		ver := &Version{Fields: vf, Items: map[string]*Item{}}
		// Each item is read once: decoding it finds where it ends.
		_, err = walkMembers(iraw, func(ikey []byte, at int) (int, error) {
			iname := names.get(ikey)
			it, n, err := decodeItem(iraw[at:], keys)
			if err != nil {
				return 0, fail(fmt.Sprintf("%s.items[%q]", vwhere(), iname), "%w", err)
			}
			ver.Items[iname] = it
			return at + n, nil
		})
		if errors.Is(err, errNotObject) {
			return fail(vwhere()+".items", "%v", err)
		}
		if err != nil {
			return err
		}
		ver.names = SortedKeys(ver.Items)
		prod.Versions[vname] = ver
		return nil
	})
	if errors.Is(err, errNotObject) {
		return nil, fail(pwhere()+".versions", "%v", err)
	}
	return prod, err
}

var hexLen = map[string]int{"md5": 32, "sha256": 64, "sha512": 128}

// decodeItem checks the item whose object starts data and decodes the
// fields a mirror acts on; it returns the length of the object's text.
// Its field keys go into keys.
func decodeItem(data []byte, keys interner) (*Item, int, error) {
	if len(data) == 0 || data[0] != '{' {
		return nil, 0, errors.New("not an object")
	}
	it := &Item{}
	var rawPath, rawSize []byte
	n, err := walkMembers(data, func(k []byte, at int) (int, error) {
		end := skipValue(data, at)
		raw := data[at:end]
		switch key := keys.get(k); key {
		case "path":
			rawPath = raw
		case "size":
			rawSize = raw
		case "md5", "sha256", "sha512":
			return end, it.checksum(key, raw)
		}
		return end, nil
	})
	if err != nil {
		return nil, 0, err
	}
	it.Fields = Object(data[:n])
	if err := it.check(rawPath, rawSize); err != nil {
		return nil, 0, err
	}
	return it, n, nil
}

// check decodes and checks the path and size of an item with the raw
// values given (nil when missing).
func (it *Item) check(rawPath, rawSize []byte) error {
	if rawPath == nil {
		return nil
	}
	path, err := unquote(rawPath)
	if err != nil || rawPath[0] != '"' {
		return errors.New("path: not a string")
	}
	it.Path = path
	if err := ValidPath(it.Path); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if rawSize == nil {
		return errors.New("size missing")
	}
	size, err := strconv.ParseInt(string(bytes.TrimSpace(rawSize)), 10, 64)
	if err != nil {
		return fmt.Errorf("size %s: not an integer", truncate(string(rawSize), 40))
	}
	if size < 0 || size > MaxSize {
		return fmt.Errorf("size %d: out of range", size)
	}
	it.Size = size
	if it.MD5 == "" && it.SHA256 == "" && it.SHA512 == "" {
		return errors.New("no checksum (md5, sha256 or sha512)")
	}
	return nil
}

// checksum checks the raw value of the checksum field algo and records it.
func (it *Item) checksum(algo string, raw []byte) error {
	s, err := unquote(raw)
	if err != nil || raw[0] != '"' {
		return fmt.Errorf("%s: not a string", algo)
	}
	n := hexLen[algo]
	upper := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9' || 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return fmt.Errorf("%s: not %d hex digits", algo, n)
		}
	}
	if len(s) != n {
		return fmt.Errorf("%s: not %d hex digits", algo, n)
	}
	if upper {
		s = strings.ToLower(s)
	}
	switch algo {
	case "md5":
		it.MD5 = s
	case "sha256":
		it.SHA256 = s
	case "sha512":
		it.SHA512 = s
	}
	return nil
}

// Encode renders an index document: one-space indentation and sorted keys,
// as the upstream streams are written, with a final newline.
func (idx *Index) Encode() ([]byte, error) {
	w := &encoder{}
	err := w.fields(0, idx.Fields, "index", func(depth int) error {
		return encodeMap(w, depth, idx.Entries, func(depth int, e *IndexEntry) error {
			f := make(Fields, len(e.Fields)+2)
			for k, v := range e.Fields {
				f[k] = v
			}
			f["path"], _ = json.Marshal(e.Path)
			if e.Products != nil {
				f["products"], _ = json.Marshal(e.Products)
			}
			return w.fields(depth, f, "", nil)
		})
	})
	if err != nil {
		return nil, err
	}
	w.buf.writeByte('\n')
	return w.buf.Bytes(), nil
}

// Encode renders a products document like Index.Encode. It writes the
// tree directly (a products file can hold a million items).
func (p *Products) Encode() ([]byte, error) { return p.EncodeLike(nil) }

// EncodeLike is Encode, but returns like itself, not a copy, when the
// encoding is the same bytes: a products file republished unchanged (a
// mirror of everything, a re-sync) is then held once, not twice.
func (p *Products) EncodeLike(like []byte) ([]byte, error) {
	w := &encoder{}
	w.buf.like = like
	w.buf.Grow(p.encodedSize())

	err := w.fields(0, p.Fields, "products", func(depth int) error {
		// The products are encoded on every core, a few ahead of the
		// output, which takes them in order.
		names := SortedKeys(p.Products)
		errs := make([]error, len(names))
		made := par.Start(len(names), func(i int, buf []byte) []byte {
			if buf == nil {
				buf = make([]byte, 0, 64<<10)
			}
			pw := &encoder{buf: output{buf: buf}}
			errs[i] = pw.product(depth+1, p.Products[names[i]], p.keys)
			return pw.buf.buf
		})
		defer made.Stop()
		next := 0
		return encodeSorted(w, depth, names, p.Products, func(int, *Product) error {
			piece, _ := made.Next()
			if err := errs[next]; err != nil {
				return err
			}
			next++
			w.buf.write(piece)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	w.buf.writeByte('\n')
	return w.buf.Bytes(), nil
}

// product writes a product with its versions and items; keys holds the
// strings of the items' keys.
func (w *encoder) product(depth int, prod *Product, keys interner) error {
	return w.fields(depth, prod.Fields, "versions", func(depth int) error {
		return encodeMap(w, depth, prod.Versions, func(depth int, ver *Version) error {
			return w.fields(depth, ver.Fields, "items", func(depth int) error {
				return encodeSorted(w, depth, ver.ItemNames(), ver.Items, func(depth int, it *Item) error {
					return w.item(depth, it.Fields, keys)
				})
			})
		})
	})
}

// encodedSize estimates the length of p's encoding from the text of its
// items, which is most of it, so that the buffer is allocated once and
// not much larger than needed (a products file can be hundreds of
// megabytes).
func (p *Products) encodedSize() int {
	n := 4096
	for pname, prod := range p.Products {
		n += 256 + len(pname)
		for vname, v := range prod.Versions {
			n += 128 + len(vname)
			for iname, it := range v.Items {
				// The text as read, give or take its indentation.
				n += 40 + len(iname) + len(it.Fields) + len(it.Fields)/8
			}
		}
	}
	return n
}

// encoder writes JSON as json.MarshalIndent(v, "", " ") writes sorted
// maps, with raw field values compacted onto their line.
type encoder struct {
	buf     output
	scratch bytes.Buffer
	members []member // of the item being written
}

// output collects what the encoder writes. While the output matches
// like, nothing is copied: Bytes then returns like itself.
type output struct {
	like []byte
	n    int    // bytes of like matched, while buf is nil
	size int    // the expected length
	buf  []byte // the output, from the first difference on
}

// Grow says how long the output is expected to be.
func (o *output) Grow(n int) { o.size = n }

func (o *output) writeString(s string) {
	if o.buf == nil {
		if o.n+len(s) <= len(o.like) && string(o.like[o.n:o.n+len(s)]) == s {
			o.n += len(s)
			return
		}
		o.differ(len(s))
	}
	o.buf = append(o.buf, s...)
}

func (o *output) write(b []byte) {
	if o.buf == nil {
		if o.n+len(b) <= len(o.like) && bytes.Equal(o.like[o.n:o.n+len(b)], b) {
			o.n += len(b)
			return
		}
		o.differ(len(b))
	}
	o.buf = append(o.buf, b...)
}

func (o *output) writeByte(c byte) {
	if o.buf == nil {
		if o.n < len(o.like) && o.like[o.n] == c {
			o.n++
			return
		}
		o.differ(1)
	}
	o.buf = append(o.buf, c)
}

// differ starts the output's own copy, before a write of n bytes that
// like does not have.
func (o *output) differ(n int) {
	o.buf = append(make([]byte, 0, max(o.size, o.n+n)), o.like[:o.n]...)
}

// Bytes returns the output.
func (o *output) Bytes() []byte {
	switch {
	case o.buf != nil:
		return o.buf
	case o.n == len(o.like) && o.like != nil:
		return o.like
	}
	return append([]byte(nil), o.like[:o.n]...)
}

// member is one field of an object to write.
type member struct {
	key string
	val []byte
}

func (w *encoder) indent(depth int) {
	w.buf.writeByte('\n')
	for range depth {
		w.buf.writeByte(' ')
	}
}

func (w *encoder) key(k string) {
	plain := true
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		w.buf.writeByte('"')
		w.buf.writeString(k)
		w.buf.writeByte('"')
	} else {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(k)
		w.buf.write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	}
	w.buf.writeString(": ")
}

// fields writes the fields of a node, and its child collection under
// childKey (sorted in with the fields) when child is not nil.
func (w *encoder) fields(depth int, f Fields, childKey string, child func(depth int) error) error {
	ms := make([]member, 0, len(f)+1)
	for k, v := range f {
		ms = append(ms, member{k, v})
	}
	return w.object(depth, ms, childKey, child)
}

// item writes the fields of an item; keys holds the strings of its keys.
func (w *encoder) item(depth int, o Object, keys interner) error {
	w.members = w.members[:0]
	o.each(func(k, v []byte) bool {
		w.members = append(w.members, member{keys.lookup(k), v})
		return true
	})
	return w.object(depth, w.members, "", nil)
}

// object writes members sorted by key, with the child collection under
// childKey when child is not nil. It reorders ms.
func (w *encoder) object(depth int, ms []member, childKey string, child func(depth int) error) error {
	if child != nil {
		ms = append(ms, member{key: childKey})
	}
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	if len(ms) == 0 {
		w.buf.writeString("{}")
		return nil
	}
	w.buf.writeByte('{')
	for i, m := range ms {
		if i > 0 {
			w.buf.writeByte(',')
		}
		w.indent(depth + 1)
		w.key(m.key)
		if child != nil && m.key == childKey && m.val == nil {
			if err := child(depth + 1); err != nil {
				return err
			}
			continue
		}
		if err := w.raw(depth+1, m.val); err != nil {
			return fmt.Errorf("field %q: %w", m.key, err)
		}
	}
	w.indent(depth)
	w.buf.writeByte('}')
	return nil
}

// raw writes a field's value: scalars as they are, objects and lists
// indented like the rest.
func (w *encoder) raw(depth int, v json.RawMessage) error {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
		w.scratch.Reset()
		if err := json.Indent(&w.scratch, v, strings.Repeat(" ", depth), " "); err != nil {
			return err
		}
		w.buf.write(w.scratch.Bytes())
		return nil
	}
	w.buf.write(v)
	return nil
}

func encodeMap[V any](w *encoder, depth int, m map[string]V, fn func(depth int, v V) error) error {
	return encodeSorted(w, depth, SortedKeys(m), m, fn)
}

// encodeSorted is encodeMap with the keys of m given in byte order.
func encodeSorted[V any](w *encoder, depth int, keys []string, m map[string]V, fn func(depth int, v V) error) error {
	if len(m) == 0 {
		w.buf.writeString("{}")
		return nil
	}
	w.buf.writeByte('{')
	for i, k := range keys {
		if i > 0 {
			w.buf.writeByte(',')
		}
		w.indent(depth + 1)
		w.key(k)
		if err := fn(depth+1, m[k]); err != nil {
			return err
		}
	}
	w.indent(depth)
	w.buf.writeByte('}')
	return nil
}

// SortedKeys returns the keys of m in byte order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
