package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"

	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
)

// render fills p.Publish with the metadata files that describe p.Catalog
// and differ from what the target holds, in publish order: products .json,
// products .sjson, the public key (resign mode), index.json, then
// index.sjson. It returns every metadata key of the new publication,
// changed or not. Without verbatim, upstream signed files are not
// republished (a degraded run must not advertise what it lacks).
func (p *Plan) render(verbatim bool) (map[string]bool, error) {
	src, prev := p.src, p.state.Published
	idx := &catalog.Index{Fields: maps.Clone(src.Index.Fields), Entries: map[string]*catalog.IndexEntry{}}
	sidx := &catalog.Index{Fields: idx.Fields, Entries: map[string]*catalog.IndexEntry{}}
	keys := map[string]bool{IndexJSON: true}
	var products, signed []Meta
	p.paths = make(map[string]string, len(p.Catalog))
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
		// What the target holds, else the upstream's file: when the
		// products file comes out the same, it is not held twice.
		like, ok := p.metadata()[path]
		if !ok {
			like = src.Raw[path]
		}
		body, err := doc.EncodeLike(like)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", path, err)
		}
		keys[path], p.paths[cid] = true, path
		products = append(products, Meta{Key: path, Body: body})
		idx.Entries[cid] = &catalog.IndexEntry{Fields: e.Fields, Path: path, Products: catalog.SortedKeys(doc.Products)}
		sidx.Entries[cid] = &catalog.IndexEntry{Fields: e.Fields, Path: SignedPath(path), Products: idx.Entries[cid].Products}
		if p.opts.Signed == SignedResign {
			keys[SignedPath(path)] = true
			signed = append(signed, Meta{Key: SignedPath(path), Body: body, Sign: true})
		}
	}
	index, err := idx.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", IndexJSON, err)
	}
	files := map[string][]byte{IndexJSON: index}
	for _, m := range products {
		files[m.Key] = m.Body
	}
	p.digest = publicationDigest(files)
	var last []Meta
	switch p.opts.Signed {
	case SignedUpstream:
		for _, cid := range catalog.SortedKeys(src.Index.Entries) {
			path := src.Index.Entries[cid].Path
			if raw, ok := src.Raw[path]; ok {
				keys[path] = true
				signed = append(signed, Meta{Key: path, Body: raw, Verbatim: true})
			}
		}
		keys[src.StartPath] = true
		last = []Meta{{Key: src.StartPath, Body: src.Raw[src.StartPath], Verbatim: true}}
		if !verbatim {
			signed, last = nil, nil
		}
	case SignedResign:
		sindex, err := sidx.Encode()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", IndexSJSON, err)
		}
		keys[IndexSJSON], keys[KeyringGPG], keys[KeyringASC] = true, true, true
		signed = append(signed,
			Meta{Key: KeyringGPG, Body: p.opts.Resign.Public},
			Meta{Key: KeyringASC, Body: p.opts.Resign.Armored})
		last = []Meta{{Key: IndexSJSON, Body: sindex, Sign: true}}
	}
	order := append(append(products, signed...), Meta{Key: IndexJSON, Body: index})
	order = append(order, last...)
	p.Publish = []Meta{}
	for _, m := range order {
		if p.unchanged(m) {
			continue
		}
		m.Size = int64(len(m.Body))
		if m.Index = m.Key == IndexJSON || m.Key == IndexSJSON || m.Key == src.StartPath; m.Index {
			if obj, ok := p.state.Objects[m.Key]; ok {
				m.IfMatch = obj.ETag
			} else {
				m.IfAbsent = true
			}
		}
		p.Publish = append(p.Publish, m)
	}
	return keys, nil
}

// Rendered returns the .json metadata (index.json and the products files
// it names) that a plan of src with opts publishes when the target's
// previous publication adds nothing to the selection (no version kept
// after upstream dropped it), by key. Their listed ETags then tell
// whether the target holds them (see apply.LoadOptions.Expect): a run
// that changes nothing need not read them back.
func Rendered(src *source.Mirror, objs map[string]target.Object, opts Options) (map[string][]byte, error) {
	cat, _ := selectCatalog(src, nil, objs, opts)
	p := &Plan{Catalog: cat, src: src, state: State{Objects: objs}, opts: Options{Filters: opts.Filters, Max: opts.Max}}
	if _, err := p.render(false); err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(p.Publish))
	for _, m := range p.Publish {
		files[m.Key] = m.Body
	}
	return files, nil
}

// publicationDigest identifies a publication of the .json metadata: the
// SHA-256 over the keys and SHA-256 digests of index.json and the products
// files it names, in key order.
func publicationDigest(files map[string][]byte) string {
	h := sha256.New()
	for _, k := range catalog.SortedKeys(files) {
		sum := sha256.Sum256(files[k])
		fmt.Fprintf(h, "%s\x00%x\n", k, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// liveDigest returns the publication digest of the .json metadata the
// target holds, or "" when it holds none.
func (p *Plan) liveDigest() string {
	prev := p.state.Published
	if prev == nil {
		return ""
	}
	files := map[string][]byte{IndexJSON: p.state.Metadata[IndexJSON]}
	for _, e := range prev.Index.Entries {
		files[jsonPath(e.Path)] = p.state.Metadata[jsonPath(e.Path)]
	}
	return publicationDigest(files)
}

// metadata returns the metadata the target holds when the plan's
// publication begins, by key.
func (p *Plan) metadata() map[string][]byte {
	if p.written != nil {
		return p.written
	}
	return p.state.Metadata
}

// unchanged reports whether the target already holds m: the same bytes,
// or, for a file to sign, a signature by the operator's key over the same
// payload.
func (p *Plan) unchanged(m Meta) bool {
	old, ok := p.metadata()[m.Key]
	if !ok {
		return false
	}
	if !m.Sign {
		return bytes.Equal(old, m.Body)
	}
	payload, _, err := p.opts.Resign.Verifier.VerifyClearsigned(m.Key, old, gpg.Options{})
	return err == nil && bytes.Equal(payload, m.Body)
}
