package catalog

import (
	"maps"
	"slices"

	"github.com/ssmirror/ssmirror/internal/par"
)

// Flat is one item with the attributes it inherits, as filters and
// consumers see it (SIMPLESTREAMS.md §3).
type Flat struct {
	Product, Version, Name string
	Item                   *Item
	Attrs                  map[string]string
}

// Each calls fn for every item of the document, in sorted product, version
// and item order, with its flattened attributes: top-level scalars,
// overridden by product, version and item scalars, with aliases expanded
// at each level, plus content_id, product_name, version_name and
// item_name. Lists and objects are not inherited. Attrs is reused for
// the next item: fn must copy it to keep it.
func (p *Products) Each(fn func(Flat) bool) {
	top := p.topAttrs()
	for _, pname := range SortedKeys(p.Products) {
		if !p.eachIn(top, pname, nil, fn) {
			return
		}
	}
}

// EachOf calls fn for every item of product pname as Each does. With
// keys, Attrs holds only those of the attributes (and the names Each
// adds): a caller that reads a few spares flattening the rest.
func (p *Products) EachOf(pname string, keys []string, fn func(Flat) bool) {
	if p.Products[pname] != nil {
		p.eachIn(p.topAttrs(), pname, keys, fn)
	}
}

// Select returns the products of p reduced to the items for which match
// returns true, given each item's flattened attributes as Each gives them,
// without the versions and products that keep no item. The result shares
// Fields and Items with p, and the versions that keep every item. Products
// are walked concurrently: match may be called from several goroutines at
// once and must not keep attrs. With keys, match is given only those
// attributes, as EachOf gives them.
func (p *Products) Select(keys []string, match func(attrs map[string]string) bool) map[string]*Product {
	top := p.topAttrs()
	names := SortedKeys(p.Products)
	kept := make([]*Product, len(names))
	par.Each(len(names), func(i int) {
		src := p.Products[names[i]]
		var np *Product
		// The items kept of version cur: a version that keeps every item
		// is kept as it is.
		var cur string
		var items []Flat
		done := func() {
			if len(items) == 0 {
				return
			}
			if np == nil {
				np = &Product{Fields: src.Fields, Versions: map[string]*Version{}}
			}
			v := src.Versions[cur]
			if len(items) < len(v.Items) {
				v = &Version{Fields: v.Fields, Items: make(map[string]*Item, len(items))}
				for _, f := range items {
					v.Items[f.Name] = f.Item
				}
			}
			np.Versions[cur] = v
			items = items[:0]
		}
		p.eachIn(top, names[i], keys, func(f Flat) bool {
			if f.Version != cur {
				done()
				cur = f.Version
			}
			if match(f.Attrs) {
				f.Attrs = nil
				items = append(items, f)
			}
			return true
		})
		done()
		kept[i] = np
	})
	out := make(map[string]*Product, len(names))
	for i, np := range kept {
		if np != nil {
			out[names[i]] = np
		}
	}
	return out
}

// topAttrs returns the document's own flattened attributes. Callers only
// read the map, so walks of several products may share it.
func (p *Products) topAttrs() map[string]string {
	top := make(map[string]string, 16)
	p.merge(top, p.Fields)
	return top
}

// eachIn calls fn for every item of product pname as Each does (only
// keys of the attributes, when keys is not nil), and reports whether fn
// asked to go on. The attributes of a version are flattened once; each
// item's own are set on top of them and taken back after fn.
func (p *Products) eachIn(top map[string]string, pname string, keys []string, fn func(Flat) bool) bool {
	cid := p.ContentID()
	prod := p.Products[pname]
	pattrs := clone(top)
	p.merge(pattrs, prod.Fields)
	var want func(string) bool
	scan := true // whether the items' own fields may matter
	if keys != nil {
		want = func(k string) bool { return slices.Contains(keys, k) }
		if len(p.aliases) == 0 && prod.itemKeys != nil {
			scan = slices.ContainsFunc(keys, func(k string) bool { _, ok := prod.itemKeys[k]; return ok })
		}
	}
	if want != nil {
		maps.DeleteFunc(pattrs, func(k, _ string) bool { return !want(k) })
	}
	var touched []undo
	attrs := make(map[string]string, len(pattrs)+8) // each version's, in turn
	for _, vname := range SortedKeys(prod.Versions) {
		ver := prod.Versions[vname]
		clear(attrs)
		maps.Copy(attrs, pattrs)
		p.mergeWant(attrs, ver.Fields, want)
		names := [...]struct{ k, v string }{{"content_id", cid}, {"product_name", pname}, {"version_name", vname}}
		for _, n := range names {
			attrs[n.k] = n.v
		}
		for _, iname := range ver.ItemNames() {
			it := ver.Items[iname]
			touched = touched[:0]
			if scan {
				p.mergeItem(it, want, len(keys), func(k, v string) {
					if !slices.ContainsFunc(touched, func(u undo) bool { return u.k == k }) {
						old, had := attrs[k]
						touched = append(touched, undo{k, old, had})
					}
					attrs[k] = v
				})
			}
			for _, u := range touched {
				for _, n := range names {
					if u.k == n.k {
						attrs[n.k] = n.v
					}
				}
			}
			attrs["item_name"] = iname
			if !fn(Flat{Product: pname, Version: vname, Name: iname, Item: it, Attrs: attrs}) {
				return false
			}
			for _, u := range touched {
				if u.had {
					attrs[u.k] = u.old
				} else {
					delete(attrs, u.k)
				}
			}
		}
	}
	return true
}

// undo is how to take back an item's attribute: the version's value, if
// it had one.
type undo struct {
	k, old string
	had    bool
}

// merge copies the scalar fields of f into dst, then the fields of any
// alias that a string field selects (_aliases[key][value]).
func (p *Products) merge(dst map[string]string, f Fields) { p.mergeWant(dst, f, nil) }

// mergeWant is merge of the keys want accepts (all when nil).
func (p *Products) mergeWant(dst map[string]string, f Fields, want func(string) bool) {
	p.mergeEach(func(fn func(k string, raw []byte)) {
		for k, raw := range f {
			fn(k, raw)
		}
	}, func(raw []byte) (string, bool) { return scalar(raw) }, want, func(k, v string) { dst[k] = v })
}

// mergeItem is merge for an item's fields, through set, of the keys want
// accepts (all when nil; wanted says how many it accepts). The strings of
// its path and checksum are those of the item, not copies.
func (p *Products) mergeItem(it *Item, want func(string) bool, wanted int, set func(k, v string)) {
	value := func(raw []byte) (string, bool) {
		if plain(raw) {
			switch s := raw[1 : len(raw)-1]; string(s) {
			case it.Path:
				return it.Path, true
			case it.SHA256:
				return it.SHA256, true
			}
		}
		return scalar(raw)
	}
	if want != nil && len(p.aliases) == 0 {
		// No alias to expand: the item's wanted fields are all there is
		// to read, and reading stops at the last of them.
		found := 0
		it.Fields.each(func(k, raw []byte) bool {
			key := p.keys.lookup(k)
			if !want(key) {
				return true
			}
			if s, ok := value(raw); ok {
				set(key, s)
			}
			found++
			return found < wanted
		})
		return
	}
	p.mergeEach(func(fn func(k string, raw []byte)) {
		it.Fields.each(func(k, raw []byte) bool {
			fn(p.keys.lookup(k), raw)
			return true
		})
	}, value, want, set)
}

// mergeEach is merge over the fields that each hands out, with their
// values as value reads them, of the keys want accepts (all when nil).
func (p *Products) mergeEach(each func(fn func(k string, raw []byte)), value func([]byte) (string, bool), want func(string) bool, set func(k, v string)) {
	each(func(k string, raw []byte) {
		if want != nil && !want(k) {
			return
		}
		if s, ok := value(raw); ok {
			set(k, s)
		}
	})
	if len(p.aliases) == 0 {
		return
	}
	each(func(k string, raw []byte) {
		v, ok := value(raw)
		if !ok || raw[0] != '"' {
			return
		}
		if alias, ok := p.aliases[k][v]; ok {
			for ak, araw := range alias {
				if want != nil && !want(ak) {
					continue
				}
				if s, ok := scalar(araw); ok {
					set(ak, s)
				}
			}
		}
	})
}

// Subset returns a document with the top-level fields (and aliases) of p
// and the given products.
func (p *Products) Subset(products map[string]*Product) *Products {
	return &Products{Fields: p.Fields, Products: products, aliases: p.aliases, keys: p.keys}
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+8)
	for k, v := range m {
		c[k] = v
	}
	return c
}
