package plan

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// selectCatalog computes what the target will hold, per content id, with
// the reference tool's semantics (SIMPLESTREAMS.md §5): filters apply to
// flattened items; versions left without items and products left without
// versions are dropped; then each product keeps its newest Max versions,
// chosen among the upstream versions, plus, with Keep, the versions
// already mirrored (those whose objects are all still in the target).
//
// It also returns a warning for every selected upstream version that the
// filters split (some of its items left out): MAAS needs every item of
// the version it boots, and LXD needs an image's metadata and rootfs items
// together.
func selectCatalog(src, prev *source.Mirror, objs map[string]target.Object, opts Options) (map[string]*catalog.Products, []string) {
	var warnings []string
	cids := map[string]bool{}
	for cid := range src.Products {
		cids[cid] = true
	}
	if opts.Keep && prev != nil {
		for cid := range prev.Products {
			cids[cid] = true
		}
	}
	out := map[string]*catalog.Products{}
	for cid := range cids {
		sdoc := src.Products[cid]
		var pdoc *catalog.Products
		if prev != nil {
			pdoc = prev.Products[cid]
		}
		var sf, pf map[string]*catalog.Product
		base := sdoc
		if sdoc != nil {
			sf = sdoc.Select(opts.Filters.Keys(), opts.Filters.Match)
		} else {
			base = pdoc
		}
		if opts.Keep && pdoc != nil {
			pf = pdoc.Select(opts.Filters.Keys(), opts.Filters.Match)
		}
		nd := base.Subset(map[string]*catalog.Product{})
		for pname := range union(sf, pf) {
			sp, pp := sf[pname], pf[pname]
			cand := map[string]*catalog.Version{}
			if pp != nil {
				for vname, v := range pp.Versions {
					if allPresent(v, objs) {
						cand[vname] = v
					}
				}
			}
			fields := (*catalog.Product)(nil)
			if pp != nil {
				fields = pp
			}
			if sp != nil {
				fields = sp
				for vname, v := range sp.Versions {
					cand[vname] = v
				}
			}
			names := catalog.SortedKeys(cand)
			sortDesc(names)
			if opts.Max > 0 && len(names) > opts.Max {
				names = names[:opts.Max]
			}
			if len(names) == 0 {
				continue
			}
			np := &catalog.Product{Fields: fields.Fields, Versions: make(map[string]*catalog.Version, len(names))}
			for _, vname := range names {
				np.Versions[vname] = cand[vname]
				if sp != nil && sp.Versions[vname] != nil {
					if w := splitWarning(pname, vname, sdoc.Products[pname].Versions[vname], cand[vname]); w != "" {
						warnings = append(warnings, w)
					}
				}
			}
			nd.Products[pname] = np
		}
		if len(nd.Products) > 0 {
			out[cid] = nd
		}
	}
	sort.Strings(warnings)
	return out, warnings
}

// rootfsTypes are the ftypes of the rootfs half of an LXD image.
var rootfsTypes = map[string]bool{"squashfs": true, "root.tar.xz": true, "disk-kvm.img": true, "disk1.img": true, "qcow2": true}

// splitWarning describes a version whose items the filters split.
func splitWarning(pname, vname string, all, kept *catalog.Version) string {
	if len(kept.Items) == len(all.Items) {
		return ""
	}
	var out []string
	lxdMeta, rootfs := false, false
	for _, iname := range all.ItemNames() {
		ftype, _ := all.Items[iname].Fields.String("ftype")
		if kept.Items[iname] == nil {
			out = append(out, iname)
			continue
		}
		lxdMeta = lxdMeta || ftype == "lxd.tar.xz"
		rootfs = rootfs || rootfsTypes[ftype]
	}
	w := fmt.Sprintf("%s %s: filters keep %d of %d items (left out: %s)",
		pname, vname, len(kept.Items), len(all.Items), strings.Join(out, ", "))
	if lxdMeta != rootfs {
		w += "; LXD cannot use an image whose lxd.tar.xz metadata and rootfs are split"
	}
	return w
}

func allPresent(v *catalog.Version, objs map[string]target.Object) bool {
	for _, it := range v.Items {
		if it.Path == "" {
			continue
		}
		if obj, ok := objs[it.Path]; !ok || obj.Size != it.Size {
			return false
		}
	}
	return true
}

func union[V any](a, b map[string]V) map[string]bool {
	u := make(map[string]bool, len(a)+len(b))
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// ListItems returns the items of m that match fs, in sorted content id,
// product, version and item order; with maxVersions > 0, only those of the
// newest maxVersions versions of each product (among the versions with
// matching items).
func ListItems(m *source.Mirror, fs filter.Set, maxVersions int) []catalog.Flat {
	var out []catalog.Flat
	for _, cid := range catalog.SortedKeys(m.Products) {
		byProduct := map[string][]catalog.Flat{}
		m.Products[cid].Each(func(fl catalog.Flat) bool {
			if fs.Match(fl.Attrs) {
				fl.Attrs = maps.Clone(fl.Attrs) // Each reuses it
				byProduct[fl.Product] = append(byProduct[fl.Product], fl)
			}
			return true
		})
		for _, pname := range catalog.SortedKeys(byProduct) {
			items := byProduct[pname]
			keep := newestVersions(items, maxVersions)
			for _, fl := range items {
				if keep == nil || keep[fl.Version] {
					out = append(out, fl)
				}
			}
		}
	}
	return out
}

// newestVersions returns the newest n version names among items (plain
// byte order, as selectCatalog keeps Max), or nil when every version is kept.
func newestVersions(items []catalog.Flat, n int) map[string]bool {
	if n <= 0 {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for _, fl := range items {
		if !seen[fl.Version] {
			seen[fl.Version] = true
			names = append(names, fl.Version)
		}
	}
	if len(names) <= n {
		return nil
	}
	sortDesc(names)
	keep := make(map[string]bool, n)
	for _, name := range names[:n] {
		keep[name] = true
	}
	return keep
}
