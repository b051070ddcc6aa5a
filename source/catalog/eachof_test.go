package catalog

import (
	"maps"
	"reflect"
	"slices"
	"testing"
)

// TestEachOfIsEachRestricted: EachOf with keys gives each item exactly
// the attributes Each gives it, restricted to those keys and the names
// Each adds, whether the keys are an item's own fields, several of them,
// or come from an alias an item's field selects; and an item's field
// named like one of those names does not replace it. A selection's
// products (built, not decoded) give the same.
func TestEachOfIsEachRestricted(t *testing.T) {
	docs := map[string]string{
		"inherit.json": inherit,
		"plain.json": `{"format": "products:1.0", "content_id": "cid", "label": "top",
 "products": {"p": {"arch": "amd64", "versions": {"v1": {"items": {
  "a": {"path": "p/a", "sha256": "` + zero64 + `", "ftype": "root.tar.xz", "kflavor": "generic", "size": 1},
  "b": {"ftype": "boot-kernel", "kflavor": "lowlatency", "version_name": "forged", "product_name": "forged", "item_name": "forged"},
  "c": {"size": 2}
 }}}}}}`,
		"item-alias.json": `{"format": "products:1.0", "content_id": "cid",
 "_aliases": {"crsn": {"ap-1": {"region": "ap-southeast-1", "endpoint": "https://ap"}}},
 "products": {"p": {"arch": "amd64", "versions": {"v1": {"items": {
  "a": {"crsn": "ap-1", "ftype": "disk1.img"},
  "b": {"ftype": "boot-kernel", "content_id": "forged"}
 }}}}}}`,
	}
	keySets := [][]string{
		{}, {"ftype"}, {"ftype", "kflavor"}, {"kflavor", "ftype", "size"}, {"region"},
		{"region", "endpoint"}, {"arch", "label"}, {"path", "sha256"}, {"version_name"}, {"nothing"},
	}
	names := []string{"content_id", "product_name", "version_name", "item_name"}
	for file, text := range docs {
		doc, err := DecodeProducts(file, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		all := map[string]map[string]string{}
		doc.Each(func(f Flat) bool {
			id := f.Product + "/" + f.Version + "/" + f.Name
			all[id] = maps.Clone(f.Attrs)
			want := map[string]string{"content_id": doc.ContentID(), "product_name": f.Product, "version_name": f.Version, "item_name": f.Name}
			for k, v := range want {
				if f.Attrs[k] != v {
					t.Errorf("%s: %s of %s is %q, want %q", file, k, id, f.Attrs[k], v)
				}
			}
			return true
		})
		// A selection's products were built, not decoded: the same holds.
		sub := doc.Subset(doc.Select(nil, func(map[string]string) bool { return true }))
		for _, keys := range keySets {
			seen := map[string]bool{}
			for pname := range doc.Products {
				sub.EachOf(pname, keys, func(f Flat) bool {
					if got := f.Attrs["ftype"]; slices.Contains(keys, "ftype") && got != all[f.Product+"/"+f.Version+"/"+f.Name]["ftype"] {
						t.Errorf("%s: EachOf(%q) of a selection: ftype of %s is %q", file, keys, f.Name, got)
					}
					return true
				})
				doc.EachOf(pname, keys, func(f Flat) bool {
					id := f.Product + "/" + f.Version + "/" + f.Name
					want := map[string]string{}
					for k, v := range all[id] {
						for _, w := range append(keys, names...) {
							if k == w {
								want[k] = v
							}
						}
					}
					seen[id] = true
					if !reflect.DeepEqual(f.Attrs, want) {
						t.Errorf("%s: EachOf(%q) of %s:\n got %v\nwant %v", file, keys, id, f.Attrs, want)
					}
					return true
				})
			}
			if len(seen) != len(all) {
				t.Errorf("%s: EachOf(%q) of every product gave %d items, Each %d", file, keys, len(seen), len(all))
			}
		}
	}
}

// TestObjectGet: Get finds a member and says whether it is there.
func TestObjectGet(t *testing.T) {
	o := Object(`{"a": 1, "b": "x"}`)
	if v, ok := o.Get("b"); !ok || string(v) != `"x"` {
		t.Errorf("Get(b) = %s, %v", v, ok)
	}
	if v, ok := o.Get("c"); ok || v != nil {
		t.Errorf("Get(c) = %s, %v; want nothing", v, ok)
	}
	if _, ok := Object(nil).Get("a"); ok {
		t.Error("the empty Object has a member")
	}
}

// TestItemNamesOfBuiltVersion: a version built, not decoded, has its
// item names sorted all the same.
func TestItemNamesOfBuiltVersion(t *testing.T) {
	v := &Version{Items: map[string]*Item{"b": {}, "a": {}, "c": {}}}
	if got := v.ItemNames(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("ItemNames() = %q, want [a b c]", got)
	}
}

// TestEmptyItem: an item that is an empty object is decoded, shown and
// encoded as one, and the items after it are read whole.
func TestEmptyItem(t *testing.T) {
	text := `{"format": "products:1.0", "content_id": "cid", "products": {"p": {"versions": {"v": {"items": {
  "a": {}, "b": { }, "c": {"id": "x"}}}}}}}`
	doc, err := DecodeProducts("empty.json", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	items := doc.Products["p"].Versions["v"].Items
	for _, name := range []string{"a", "b"} {
		if f := items[name].Fields.Fields(); len(f) != 0 {
			t.Errorf("item %s has fields %v", name, f)
		}
	}
	if id, _ := items["c"].Fields.String("id"); id != "x" {
		t.Errorf("item c: id %q, want x", id)
	}
	out, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeProducts("empty.json", out)
	if err != nil {
		t.Fatalf("decoding the encoding: %v\n%s", err, out)
	}
	if got := again.Products["p"].Versions["v"].Items; len(got) != 3 || len(got["a"].Fields.Fields()) != 0 {
		t.Errorf("encoded again: %s", out)
	}
}

// TestSelectSharesWholeVersions: a version that keeps every item is the
// version itself, not a copy.
func TestSelectSharesWholeVersions(t *testing.T) {
	doc, err := DecodeProducts("inherit.json", []byte(inherit))
	if err != nil {
		t.Fatal(err)
	}
	got := doc.Select(nil, func(map[string]string) bool { return true })
	for pname, prod := range doc.Products {
		for vname, v := range prod.Versions {
			if got[pname] == nil || got[pname].Versions[vname] != v {
				t.Errorf("%s/%s: Select of every item did not keep the version itself", pname, vname)
			}
		}
	}
}
