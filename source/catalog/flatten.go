package catalog

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
		if !p.eachIn(top, pname, fn) {
			return
		}
	}
}

// EachOf calls fn for every item of product pname as Each does.
func (p *Products) EachOf(pname string, fn func(Flat) bool) {
	if p.Products[pname] != nil {
		p.eachIn(p.topAttrs(), pname, fn)
	}
}

// Select returns the products of p reduced to the items for which match
// returns true, given each item's flattened attributes as Each gives them,
// without the versions and products that keep no item. The result shares
// Fields and Items with p. Products are walked concurrently: match may be
// called from several goroutines at once and must not keep attrs.
func (p *Products) Select(match func(attrs map[string]string) bool) map[string]*Product {
	top := p.topAttrs()
	names := SortedKeys(p.Products)
	kept := make([]*Product, len(names))
	parallel(len(names), func(i int) {
		src := p.Products[names[i]]
		var np *Product
		p.eachIn(top, names[i], func(f Flat) bool {
			if !match(f.Attrs) {
				return true
			}
			if np == nil {
				np = &Product{Fields: src.Fields, Versions: map[string]*Version{}}
			}
			nv := np.Versions[f.Version]
			if nv == nil {
				nv = &Version{Fields: src.Versions[f.Version].Fields, Items: map[string]*Item{}}
				np.Versions[f.Version] = nv
			}
			nv.Items[f.Name] = f.Item
			return true
		})
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

// eachIn calls fn for every item of product pname as Each does, and
// reports whether fn asked to go on.
func (p *Products) eachIn(top map[string]string, pname string, fn func(Flat) bool) bool {
	cid := p.ContentID()
	prod := p.Products[pname]
	pattrs := clone(top)
	p.merge(pattrs, prod.Fields)
	for _, vname := range SortedKeys(prod.Versions) {
		ver := prod.Versions[vname]
		vattrs := clone(pattrs)
		p.merge(vattrs, ver.Fields)
		attrs := make(map[string]string, len(vattrs)+16)
		for _, iname := range SortedKeys(ver.Items) {
			it := ver.Items[iname]
			clear(attrs)
			for k, v := range vattrs {
				attrs[k] = v
			}
			p.mergeItem(attrs, it.Fields)
			attrs["content_id"] = cid
			attrs["product_name"] = pname
			attrs["version_name"] = vname
			attrs["item_name"] = iname
			if !fn(Flat{Product: pname, Version: vname, Name: iname, Item: it, Attrs: attrs}) {
				return false
			}
		}
	}
	return true
}

// merge copies the scalar fields of f into dst, then the fields of any
// alias that a string field selects (_aliases[key][value]).
func (p *Products) merge(dst map[string]string, f Fields) {
	p.mergeEach(dst, func(fn func(k string, raw []byte)) {
		for k, raw := range f {
			fn(k, raw)
		}
	})
}

// mergeItem is merge for an item's fields.
func (p *Products) mergeItem(dst map[string]string, o Object) {
	p.mergeEach(dst, func(fn func(k string, raw []byte)) {
		o.each(func(k, raw []byte) bool {
			fn(p.keys.lookup(k), raw)
			return true
		})
	})
}

// mergeEach is merge over the fields that each hands out.
func (p *Products) mergeEach(dst map[string]string, each func(fn func(k string, raw []byte))) {
	each(func(k string, raw []byte) {
		if s, ok := scalar(raw); ok {
			dst[k] = s
		}
	})
	if len(p.aliases) == 0 {
		return
	}
	each(func(k string, raw []byte) {
		v, ok := scalar(raw)
		if !ok || raw[0] != '"' {
			return
		}
		if alias, ok := p.aliases[k][v]; ok {
			for ak, araw := range alias {
				if s, ok := scalar(araw); ok {
					dst[ak] = s
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
