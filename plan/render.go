package plan

import (
	"bytes"
	"fmt"
	"maps"

	"github.com/ssmirror/ssmirror/source/catalog"
)

// render fills p.Publish with the metadata files that describe p.Catalog
// and differ from what the target holds, in publish order: products .json,
// the upstream products .sjson (when verbatim), index.json, then the
// upstream signed index (when verbatim). It returns every metadata key of
// the new publication, changed or not.
func (p *Plan) render(verbatim bool) (map[string]bool, error) {
	src, prev := p.src, p.state.Published
	idx := &catalog.Index{Fields: maps.Clone(src.Index.Fields), Entries: map[string]*catalog.IndexEntry{}}
	keys := map[string]bool{IndexJSON: true}
	var products, signed []Meta
	for _, cid := range catalog.SortedKeys(p.Catalog) {
		doc := p.Catalog[cid]
		e := src.Index.Entries[cid]
		if e == nil && prev != nil {
			e = prev.Index.Entries[cid]
		}
		if e == nil {
			return nil, fmt.Errorf("content id %q has no index entry", cid)
		}
		path := jsonPath(e.Path)
		body, err := doc.Encode()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", path, err)
		}
		keys[path] = true
		products = append(products, Meta{Key: path, Body: body})
		idx.Entries[cid] = &catalog.IndexEntry{Fields: e.Fields, Path: path, Products: catalog.SortedKeys(doc.Products)}
	}
	if src.Signed {
		for _, cid := range catalog.SortedKeys(src.Index.Entries) {
			path := src.Index.Entries[cid].Path
			if raw, ok := src.Raw[path]; ok {
				keys[path] = true
				signed = append(signed, Meta{Key: path, Body: raw, Verbatim: true})
			}
		}
	}
	body, err := idx.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", IndexJSON, err)
	}
	order := products
	if verbatim {
		order = append(order, signed...)
	}
	order = append(order, Meta{Key: IndexJSON, Body: body})
	if src.Signed {
		keys[src.StartPath] = true
		if verbatim {
			order = append(order, Meta{Key: src.StartPath, Body: src.Raw[src.StartPath], Verbatim: true})
		}
	}
	p.Publish = []Meta{}
	for _, m := range order {
		if old, ok := p.state.Metadata[m.Key]; ok && bytes.Equal(old, m.Body) {
			continue
		}
		m.Size = int64(len(m.Body))
		p.Publish = append(p.Publish, m)
	}
	return keys, nil
}
