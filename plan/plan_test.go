package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/golden"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/lease"
)

const cid = "com.example:test"

// ver describes one version: its name and the items' paths (size and
// checksum derive from the path unless given as "path=content").
type ver struct {
	name  string
	items map[string]string // item name -> path[=content]
	attrs map[string]string
}

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// products renders a products document for cid with the given products.
func products(t testing.TB, id string, prods map[string][]ver) *catalog.Products {
	t.Helper()
	pm := map[string]any{}
	for pname, vers := range prods {
		vm := map[string]any{}
		for _, v := range vers {
			im := map[string]any{}
			for iname, spec := range v.items {
				path, content, _ := strings.Cut(spec, "=")
				if content == "" {
					content = path
				}
				im[iname] = map[string]any{"path": path, "size": len(content), "sha256": sum(content), "ftype": iname}
			}
			entry := map[string]any{"items": im}
			for k, val := range v.attrs {
				entry[k] = val
			}
			vm[v.name] = entry
		}
		pm[pname] = map[string]any{"arch": "amd64", "versions": vm}
	}
	data, _ := json.Marshal(map[string]any{"format": "products:1.0", "content_id": id, "datatype": "image-ids", "products": pm})
	doc, err := catalog.DecodeProducts(id, data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// mirror wraps products documents into a source.Mirror read from an
// unsigned index.
func mirror(t testing.TB, docs ...*catalog.Products) *source.Mirror {
	t.Helper()
	entries := map[string]any{}
	m := &source.Mirror{Root: "https://upstream.example/", StartPath: IndexJSON, Products: map[string]*catalog.Products{}, Raw: map[string][]byte{}}
	for _, d := range docs {
		names := catalog.SortedKeys(d.Products)
		entries[d.ContentID()] = map[string]any{"path": "streams/v1/" + d.ContentID() + ".json", "format": "products:1.0", "datatype": "image-ids", "products": names}
		m.Products[d.ContentID()] = d
	}
	data, _ := json.Marshal(map[string]any{"format": "index:1.0", "updated": "Thu, 24 Jul 2025 08:01:49 +0000", "index": entries})
	idx, err := catalog.DecodeIndex("index", data)
	if err != nil {
		t.Fatal(err)
	}
	m.Index = idx
	return m
}

// published returns the state of a target that holds exactly what p
// published (as if the plan had been executed).
func published(t testing.TB, p *Plan) State {
	t.Helper()
	st := State{Objects: map[string]target.Object{}, Metadata: map[string][]byte{}}
	for k, o := range p.state.Objects {
		st.Objects[k] = o
	}
	for _, d := range p.Deletes {
		delete(st.Objects, d.Path)
	}
	for _, x := range p.Transfers {
		st.Objects[x.Path] = target.Object{Key: x.Path, Size: x.Size}
	}
	for k, v := range p.state.Metadata {
		st.Metadata[k] = v
	}
	for _, m := range p.Publish {
		st.Metadata[m.Key] = m.Body
		st.Objects[m.Key] = target.Object{Key: m.Key, Size: m.Size}
	}
	st.GC = p.state.GC
	if body, ok := st.Metadata[StateKey]; ok {
		gc, err := DecodeGCState(body)
		if err != nil {
			t.Fatal(err)
		}
		st.GC = gc
	}
	st.Now = p.state.Now
	// Read the published .json metadata back as the target loader would.
	idx, err := catalog.DecodeIndex(IndexJSON, st.Metadata[IndexJSON])
	if err != nil {
		t.Fatal(err)
	}
	pub := &source.Mirror{Root: "target", StartPath: IndexJSON, Index: idx, Products: map[string]*catalog.Products{}, Raw: map[string][]byte{}}
	for id, e := range idx.Entries {
		doc, err := catalog.DecodeProducts(e.Path, st.Metadata[e.Path])
		if err != nil {
			t.Fatal(err)
		}
		pub.Products[id] = doc
	}
	st.Published = pub
	return st
}

func versionsOf(vs ...string) []ver {
	out := make([]ver, len(vs))
	for i, v := range vs {
		out[i] = ver{name: v, items: map[string]string{"f": "p/" + v + "/f"}}
	}
	return out
}

func changed(p *Plan, a Action) []string {
	set := map[string]bool{}
	for _, c := range p.Changes {
		if c.Action == a {
			set[c.Version] = true
		}
	}
	return catalog.SortedKeys(set)
}

// TestMaxKeep runs the reference tool's four documented examples
// (SIMPLESTREAMS.md §5).
func TestMaxKeep(t *testing.T) {
	cases := []struct {
		src, tgt    []string
		max         int
		keep        bool
		add, remove []string
	}{
		{[]string{"10", "9", "8"}, []string{"7", "6", "5"}, 2, false, []string{"10", "9"}, []string{"5", "6", "7"}},
		{[]string{"10", "9", "8"}, []string{"7", "6", "5"}, 4, true, []string{"10", "8", "9"}, []string{"5", "6"}},
		{[]string{"3"}, []string{"3", "2", "1"}, 3, true, []string{}, []string{}},
		{[]string{"2", "1"}, []string{"2", "1"}, 1, false, []string{}, []string{"1"}},
		// Without --max everything upstream is kept, and without --keep
		// what upstream dropped goes.
		{[]string{"3", "2"}, []string{"2", "1"}, 0, false, []string{"3"}, []string{"1"}},
		{[]string{"3", "2"}, []string{"2", "1"}, 0, true, []string{"3"}, []string{}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			// Pad version names so that byte order is numeric order.
			pad := func(vs []string) []string {
				out := make([]string, len(vs))
				for i, v := range vs {
					out[i] = fmt.Sprintf("%03s", v)
				}
				sort.Strings(out)
				return out
			}
			first, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf(pad(c.tgt)...)})), State{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := published(t, first)
			p, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf(pad(c.src)...)})), st, Options{Max: c.max, Keep: c.keep})
			if err != nil {
				t.Fatal(err)
			}
			if got := changed(p, Add); !reflect.DeepEqual(got, pad(c.add)) {
				t.Errorf("add = %v, want %v", got, pad(c.add))
			}
			if got := changed(p, Remove); !reflect.DeepEqual(got, pad(c.remove)) {
				t.Errorf("remove = %v, want %v", got, pad(c.remove))
			}
			if len(p.Deletes) != len(c.remove)+0 && len(c.remove) > 0 {
				t.Errorf("deletes = %v, want the %d removed versions' files", p.Deletes, len(c.remove))
			}
		})
	}
}

// TestFilterBeforeMax: versions without matching items are dropped before
// --max picks the newest.
func TestFilterBeforeMax(t *testing.T) {
	doc := products(t, cid, map[string][]ver{"p": {
		{name: "3", items: map[string]string{"f": "p/3/f"}, attrs: map[string]string{"arch": "arm64"}},
		{name: "2", items: map[string]string{"f": "p/2/f"}},
		{name: "1", items: map[string]string{"f": "p/1/f"}},
	}})
	fs, err := filter.ParseArgs([]string{"arch=amd64"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(mirror(t, doc), State{}, Options{Filters: fs, Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(p, Add); !reflect.DeepEqual(got, []string{"2"}) {
		t.Errorf("add = %v, want [2]", got)
	}
}

// TestOrGroups: images and bootloaders in one run.
func TestOrGroups(t *testing.T) {
	img := products(t, "img", map[string][]ver{
		"amd": versionsOf("2", "1"),
		"arm": {{name: "2", items: map[string]string{"f": "arm/2/f"}, attrs: map[string]string{"arch": "arm64"}}},
	})
	boot := products(t, "boot", map[string][]ver{
		"grub": {{name: "1", items: map[string]string{"g": "grub/1/g"}, attrs: map[string]string{"os": "grub-efi", "arch": "arm64"}}},
		"ipxe": {{name: "1", items: map[string]string{"g": "ipxe/1/g"}, attrs: map[string]string{"os": "ipxe", "arch": "arm64"}}},
	})
	fs, _ := filter.ParseArgs([]string{"arch=amd64", filter.OrArg, "os~(grub|pxelinux)"})
	p, err := Build(mirror(t, img, boot), State{}, Options{Filters: fs, Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, x := range p.Transfers {
		paths = append(paths, x.Path)
	}
	if want := []string{"grub/1/g", "p/2/f"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("transfers = %v, want %v", paths, want)
	}
}

// TestSharedPaths: a path shared by two products is transferred once and
// deleted only when no product references it any more.
func TestSharedPaths(t *testing.T) {
	v := func(k string) []ver {
		return []ver{{name: "1", items: map[string]string{"kernel": "k/" + k, "squashfs": "shared/squashfs"}}}
	}
	p, err := Build(mirror(t, products(t, cid, map[string][]ver{"ga": v("ga"), "hwe": v("hwe")})), State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Transfers) != 3 {
		t.Fatalf("transfers = %v, want 3 unique paths", p.Transfers)
	}
	if n := len(p.Changes); n != 4 {
		t.Errorf("changes = %d, want 4 (one per item)", n)
	}
	// hwe leaves upstream: its kernel goes, the shared squashfs stays.
	st := published(t, p)
	q, err := Build(mirror(t, products(t, cid, map[string][]ver{"ga": v("ga")})), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dels []string
	for _, d := range q.Deletes {
		dels = append(dels, d.Path)
	}
	if want := []string{"k/hwe"}; !reflect.DeepEqual(dels, want) {
		t.Errorf("deletes = %v, want %v", dels, want)
	}
	if len(q.Transfers) != 0 {
		t.Errorf("transfers = %v, want none", q.Transfers)
	}
}

func TestConflictingPaths(t *testing.T) {
	doc := products(t, cid, map[string][]ver{
		"a": {{name: "1", items: map[string]string{"f": "same=one"}}},
		"b": {{name: "1", items: map[string]string{"f": "same=two"}}},
	})
	_, err := Build(mirror(t, doc), State{}, Options{})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `"same"`) {
		t.Fatalf("err = %v, want ErrConflict naming the path", err)
	}
}

// TestNoOpAndRepair: a second plan against what the first published does
// nothing; an object that disappeared or changed size is copied again; an
// object present but not recorded is copied again.
func TestNoOpAndRepair(t *testing.T) {
	src := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2", "1")}))
	p, err := Build(src, State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, p)
	q, err := Build(src, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !q.Empty() {
		t.Fatalf("second plan not empty: %+v", q)
	}
	delete(st.Objects, "p/1/f")
	st.Objects["p/2/f"] = target.Object{Key: "p/2/f", Size: 1}
	st.Objects["extra"] = target.Object{Key: "extra", Size: 5}
	r, err := Build(src, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, x := range r.Transfers {
		reasons[x.Path] = x.Reason
	}
	want := map[string]string{"p/1/f": "missing from target", "p/2/f": "size differs (target has 1)"}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("reasons = %v, want %v", reasons, want)
	}
	if len(r.Deletes) != 0 {
		t.Errorf("deletes = %v: objects this tool never published must stay", r.Deletes)
	}
	// Present with the right size but never recorded: not trusted.
	fresh := State{Objects: map[string]target.Object{"p/1/f": {Key: "p/1/f", Size: int64(len("p/1/f"))}}}
	s, _ := Build(src, fresh, Options{})
	if len(s.Transfers) != 2 || s.Transfers[0].Reason != "present but not recorded by a previous run" {
		t.Errorf("transfers = %+v", s.Transfers)
	}
	// Found damaged when read back (--verify-existing): copied again,
	// never adopted, whether recorded or not; Held lists what is kept.
	h, _ := Build(src, published(t, p), Options{})
	if held := slices.Sorted(maps.Keys(h.Held())); !slices.Equal(held, []string{"p/1/f", "p/2/f"}) {
		t.Errorf("Held() = %v, want both items", held)
	}
	for n, base := range []State{published(t, p), fresh} {
		base.Damaged = map[string]error{"p/1/f": errors.New("p/1/f: integrity check failed: sha256 is 00")}
		d, err := Build(src, base, Options{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(d.Transfers, func(x Transfer) bool { return x.Path == "p/1/f" })
		if i < 0 || d.Transfers[i].Reason != "damaged in target: integrity check failed: sha256 is 00" || d.Transfers[i].Adopt {
			t.Errorf("damaged object: transfers %+v", d.Transfers)
		}
		if n == 0 && len(d.Transfers) != 1 {
			t.Errorf("a sound object is copied again: %+v", d.Transfers)
		}
	}
}

// TestWithout: a failed item keeps its product at the previously published
// state and publishes the rest.
func TestWithout(t *testing.T) {
	first, _ := Build(mirror(t, products(t, cid, map[string][]ver{"a": versionsOf("1"), "b": {{name: "1", items: map[string]string{"f": "b/1/f"}}}})), State{}, Options{})
	st := published(t, first)
	src := mirror(t, products(t, cid, map[string][]ver{
		"a": versionsOf("2"),
		"b": {{name: "2", items: map[string]string{"f": "b/2/f"}}},
		"c": {{name: "1", items: map[string]string{"f": "c/1/f"}}},
	}))
	p, err := Build(src, st, Options{Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Without(map[string]bool{"p/2/f": true, "c/1/f": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Deletes) != 0 || len(q.Transfers) != 0 {
		t.Errorf("degraded plan must not delete or transfer: %+v", q)
	}
	doc := q.Catalog[cid]
	got := map[string][]string{}
	for pname, prod := range doc.Products {
		got[pname] = catalog.SortedKeys(prod.Versions)
	}
	want := map[string][]string{"a": {"1"}, "b": {"2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("degraded catalog = %v, want %v", got, want)
	}
	// The products file changes (b advanced); the index lists the same
	// products as before, so it is not rewritten; b's old file enters the
	// garbage collection state instead of being deleted.
	var keys []string
	for _, m := range q.Publish {
		keys = append(keys, m.Key)
	}
	if want := []string{StateKey, "streams/v1/" + cid + ".json"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("publish = %v, want %v", keys, want)
	}
	if m := stateOf(q); m == nil || !strings.Contains(string(m.Body), `"b/1/f"`) {
		t.Errorf("state = %v, want b/1/f pending", m)
	}
}

// TestGolden checks the rendered plan (text and JSON) and the rewritten
// metadata for the real MAAS catalogs, filtered as in the MAAS docs.
func TestGolden(t *testing.T) {
	var docs []*catalog.Products
	for _, name := range []string{"ubuntu", "bootloaders", "centos"} {
		data, err := os.ReadFile("../testdata/maas/simplestreams_" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		doc, err := catalog.DecodeProducts(name, data)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	fs, _ := filter.ParseArgs([]string{"arch=amd64", "release~(jammy|noble)", filter.OrArg, "os~(grub|pxelinux)"})
	p, err := Build(mirror(t, docs...), State{}, Options{Filters: fs, Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.Target = "s3://mirror/maas"
	var text bytes.Buffer
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "maas-plan.txt", text.Bytes())
	golden.Check(t, "maas-plan.json", append(js, '\n'))
	for _, m := range p.Publish {
		if m.Key == IndexJSON {
			golden.Check(t, "maas-index.json", m.Body)
		}
	}
}

// TestSplitWarnings: a filter that keeps part of a version is reported,
// with a special word for LXD images split from their rootfs.
func TestSplitWarnings(t *testing.T) {
	doc := products(t, cid, map[string][]ver{"ubuntu:noble:amd64:default": {{name: "20250101_01:23", items: map[string]string{
		"lxd.tar.xz": "n/lxd.tar.xz", "root.squashfs": "n/root.squashfs", "disk-kvm.img": "n/disk-kvm.img",
	}}}})
	// products() sets ftype to the item name.
	for _, c := range []struct {
		filters []string
		want    string
	}{
		{[]string{"ftype~(lxd.tar.xz|disk-kvm.img)"}, "keep 2 of 3 items (left out: root.squashfs)"},
		{[]string{"ftype=lxd.tar.xz"}, "LXD cannot use an image"},
		{[]string{"ftype!=lxd.tar.xz"}, "LXD cannot use an image"},
	} {
		fs, err := filter.ParseArgs(c.filters)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Build(mirror(t, doc), State{}, Options{Filters: fs})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], c.want) {
			t.Errorf("%v: warnings = %q, want one with %q", c.filters, p.Warnings, c.want)
		}
	}
	p, _ := Build(mirror(t, doc), State{}, Options{})
	if len(p.Warnings) != 0 {
		t.Errorf("unfiltered: warnings = %q", p.Warnings)
	}
}

// TestDeferredGC: objects that leave the mirror are deleted only after the
// grace period, counted from when the index stopped referencing them; a
// lost state is rebuilt, never a reason to delete.
func TestDeferredGC(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	grace := 24 * time.Hour
	both := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2", "1")}))
	newer := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2")}))
	opts := Options{Grace: grace}
	build := func(src *source.Mirror, st State, at time.Time) *Plan {
		t.Helper()
		st.Now = at
		p, err := Build(src, st, opts)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	deleted := func(p *Plan) []string {
		var out []string
		for _, d := range p.Deletes {
			out = append(out, d.Path)
		}
		return out
	}
	st := published(t, build(both, State{}, t0))
	// v1 leaves upstream: nothing deleted, its file is pending from now.
	p := build(newer, st, t0.Add(time.Hour))
	if len(p.Deletes) != 0 || stateOf(p) == nil {
		t.Fatalf("deletes %v, publish %v", p.Deletes, p.Publish)
	}
	st = published(t, p)
	if since := st.GC.Pending["p/1/f"]; !since.Equal(t0.Add(time.Hour)) {
		t.Fatalf("pending = %v", st.GC.Pending)
	}
	// Within the grace period: still kept.
	if p := build(newer, st, t0.Add(20*time.Hour)); len(p.Deletes) != 0 {
		t.Errorf("deleted within the grace period: %v", p.Deletes)
	}
	// After it: deleted, and the state forgets it.
	p = build(newer, st, t0.Add(26*time.Hour))
	if got := deleted(p); !reflect.DeepEqual(got, []string{"p/1/f"}) {
		t.Errorf("deletes = %v, want [p/1/f]", got)
	}
	// The state written before the delete still names it (a run killed
	// while deleting leaves no orphan); the run after forgets it.
	if m := stateOf(p); m != nil && !strings.Contains(string(m.Body), "p/1/f") {
		t.Errorf("state before delete: %s", m.Body)
	}
	after := published(t, p)
	after.Now = t0.Add(27 * time.Hour)
	if q, _ := Build(newer, after, opts); len(q.Deletes) != 0 || strings.Contains(string(stateOf(q).Body), "p/1/f") {
		t.Errorf("after the delete: deletes %v, state %s", q.Deletes, stateOf(q).Body)
	}
	// A lost state cannot prove that p/1/f was published: it is kept
	// and reported, never pending again.
	lost := st
	lost.GC = nil
	p = build(newer, lost, t0.Add(48*time.Hour))
	if len(p.Deletes) != 0 {
		t.Errorf("lost state caused deletes: %v", p.Deletes)
	}
	if len(p.Kept) != 1 || p.Kept[0].Path != "p/1/f" {
		t.Errorf("kept = %v, want p/1/f", p.Kept)
	}
	if m := stateOf(p); m != nil && strings.Contains(string(m.Body), "p/1/f") {
		t.Errorf("rebuilt state names p/1/f: %s", m.Body)
	}
	// A pending path that upstream references again is not deleted.
	p = build(both, st, t0.Add(48*time.Hour))
	if len(p.Deletes) != 0 {
		t.Errorf("a referenced path was deleted: %v", p.Deletes)
	}
	// A state that names a path the new catalog references is not
	// trusted: the path stays.
	bogus := st
	bogus.GC = &GCState{Version: 1, Pending: map[string]time.Time{"p/2/f": t0.Add(-100 * time.Hour)}}
	if p := build(newer, bogus, t0.Add(48*time.Hour)); len(p.Deletes) != 0 {
		t.Errorf("deleted what the catalog references: %v", p.Deletes)
	}
}

func TestDecodeGCState(t *testing.T) {
	for _, bad := range []string{`{`, `{"version":2}`, `{"version":1,"pending":{"../x":"2026-01-01T00:00:00Z"}}`, `[]`} {
		if _, err := DecodeGCState([]byte(bad)); err == nil {
			t.Errorf("DecodeGCState(%s) accepted", bad)
		}
	}
}

func stateOf(p *Plan) *Meta {
	for i, m := range p.Publish {
		if m.Key == StateKey {
			return &p.Publish[i]
		}
	}
	return nil
}

// TestGCOnly: ssmirror gc deletes what is due and nothing the published
// metadata references.
func TestGCOnly(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	first, _ := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2", "1")})), State{Now: t0}, Options{})
	st := published(t, first)
	st.Objects["old/file"] = target.Object{Key: "old/file", Size: 3}
	st.GC = &GCState{Version: 1, Pending: map[string]time.Time{
		"old/file": t0.Add(-48 * time.Hour),
		"p/1/f":    t0.Add(-48 * time.Hour), // referenced: must stay
	}, NamedBy: map[string]string{"old/file": "streams/v1/" + cid + ".json", "p/1/f": "streams/v1/" + cid + ".json"}}
	delete(st.Metadata, StateKey) // the bytes behind st.GC differ from the first run's
	st.Now = t0
	p := GC(st, 24*time.Hour)
	if len(p.Deletes) != 1 || p.Deletes[0].Path != "old/file" {
		t.Errorf("deletes = %v, want [old/file]", p.Deletes)
	}
	if p.Deletes[0].Reason != "unreferenced since 2026-10-30T12:00:00Z" {
		t.Errorf("reason = %q", p.Deletes[0].Reason)
	}
	if m := stateOf(p); m == nil || strings.Contains(string(m.Body), "p/1/f") || !strings.Contains(string(m.Body), "old/file") {
		t.Errorf("state = %v", m)
	}
}

// TestReservedPaths: a catalog that names the tool's own keys, as a
// products file or as an item, is refused before anything is planned,
// with an error naming the file and the path.
func TestReservedPaths(t *testing.T) {
	other := "com.example:other"
	cases := []struct {
		name    string
		item    string // path of the one item of cid
		prodCID string // content id whose products path is replaced
		prod    string // its products path
		file    string // the file the error must name
		want    string // the path the error must name
		why     string // the reason the error must give, where set
	}{
		{name: "item at the state", item: ".ssmirror/state.json", file: "streams/v1/" + cid + ".json", want: ".ssmirror/state.json"},
		{name: "item at the lease", item: lease.Key, file: "streams/v1/" + cid + ".json", want: lease.Key},
		{name: "item under the tool's dir", item: ".ssmirror/x", want: ".ssmirror/x"},
		{name: "item at index.json", item: IndexJSON, want: IndexJSON, why: "one of the mirror's own files"},
		{name: "item at index.sjson", item: IndexSJSON, want: IndexSJSON},
		{name: "item at the published key", item: KeyringGPG, want: KeyringGPG},
		{name: "item at the armored key", item: KeyringASC, want: KeyringASC},
		{name: "item at another products file", item: "streams/v1/" + other + ".json", want: "streams/v1/" + other + ".json", why: `the products file of "` + other + `"`},
		{name: "item at a products file elsewhere", item: "meta/other.json", prodCID: other, prod: "meta/other.json", want: "meta/other.json"},
		{name: "item at a products file's signed twin", item: "meta/other.sjson", prodCID: other, prod: "meta/other.json", want: "meta/other.sjson"},
		{name: "item at a streams/v1 metadata name", item: "streams/v1/extra.sjson", want: "streams/v1/extra.sjson"},
		{name: "item at the metadata directory", item: "streams/v1", want: "streams/v1"},
		{name: "item at the tool's directory", item: ".ssmirror", want: ".ssmirror"},
		{name: "item at the browse page", item: BrowsePage, file: "streams/v1/" + cid + ".json", want: BrowsePage},
		{name: "item at a products file's directory", item: "meta", prodCID: other, prod: "meta/other.json", want: "meta"},
		{name: "products at the state", item: "p/1/f", prodCID: other, prod: ".ssmirror/state.json", file: IndexJSON, want: ".ssmirror/state.json"},
		{name: "products at the lease", item: "p/1/f", prodCID: other, prod: lease.Key, file: IndexJSON, want: lease.Key},
		{name: "products at the index", item: "p/1/f", prodCID: other, prod: IndexJSON, file: IndexJSON, want: IndexJSON},
		{name: "products at index.sjson's twin", item: "p/1/f", prodCID: other, prod: "streams/v1/index.json", file: IndexJSON, want: "streams/v1/index.json"},
		{name: "products at the published key", item: "p/1/f", prodCID: other, prod: KeyringGPG, file: IndexJSON, want: KeyringGPG},
		{name: "two products at one path", item: "p/1/f", prodCID: other, prod: "streams/v1/" + cid + ".json", file: IndexJSON, want: "streams/v1/" + cid + ".json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mirror(t,
				products(t, cid, map[string][]ver{"a": {{name: "1", items: map[string]string{"f": c.item}}}}),
				products(t, other, map[string][]ver{"b": {{name: "1", items: map[string]string{"f": "q/1/f"}}}}))
			if c.prodCID != "" {
				m.Index.Entries[c.prodCID].Path = c.prod
			}
			_, err := Build(m, State{}, Options{})
			if !errors.Is(err, ErrReserved) {
				t.Fatalf("err = %v, want ErrReserved", err)
			}
			if !strings.Contains(err.Error(), `"`+c.want+`"`) {
				t.Errorf("err = %v, does not name %q", err, c.want)
			}
			if c.file != "" && !strings.Contains(err.Error(), c.file) {
				t.Errorf("err = %v, does not name the file %s", err, c.file)
			}
			if c.why != "" && !strings.HasSuffix(err.Error(), ", "+c.why) {
				t.Errorf("err = %v, does not end with the reason %q", err, c.why)
			}
		})
	}
	// Paths that only look like ours are fine.
	for _, path := range []string{"x/.ssmirror/state.json", "streams/v2/index.json", "streams/v1/sub/f.json", "ssmirror/state.json", "streams/v1/image.tar.xz"} {
		m := mirror(t, products(t, cid, map[string][]ver{"a": {{name: "1", items: map[string]string{"f": path}}}}))
		if _, err := Build(m, State{}, Options{}); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// TestOurs: the one answer to "is this key the tool's own?".
func TestOurs(t *testing.T) {
	for key, want := range map[string]bool{
		StateKey: true, lease.Key: true, ".ssmirror/other": true, IndexJSON: true, IndexSJSON: true, BrowsePage: true, "p/index.html": false,
		KeyringGPG: true, KeyringASC: true, "streams/v1/com.example:x.json": true, "streams/v1/x.json.gpg": true,
		"streams/v1/x.tar.xz": false, "p/.ssmirror/state.json": false, "streams/v1/a/b.json": false, "p/1/f": false,
	} {
		if got := Ours(key); got != want {
			t.Errorf("Ours(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestGCNothingPublished: gc of a target that holds no publication (and
// no state) deletes nothing, and shows an empty catalog.
func TestGCNothingPublished(t *testing.T) {
	st := State{Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		Objects: map[string]target.Object{"other/app.bin": {Key: "other/app.bin", Size: 7}}}
	p := GC(st, 0)
	if len(p.Deletes) != 0 || len(p.Catalog) != 0 {
		t.Errorf("deletes %v, catalog %v, want none", p.Deletes, p.Catalog)
	}
}

// TestGCShowsPublishedCatalog: a gc-only plan's catalog is the live
// publication's.
func TestGCShowsPublishedCatalog(t *testing.T) {
	first, _ := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("1")})), State{Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}, Options{})
	p := GC(published(t, first), time.Hour)
	if doc := p.Catalog[cid]; doc == nil || doc.Products["p"] == nil {
		t.Errorf("catalog %v, want the published %s", p.Catalog, cid)
	}
}

// TestDroppedProductsFileOutsideStreams: the products file of a content id
// that leaves the mirror enters the garbage collection state, also where
// the previous index put it outside streams/, and is deleted after the
// grace period.
func TestDroppedProductsFileOutsideStreams(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	other := "com.example:other"
	both := mirror(t,
		products(t, cid, map[string][]ver{"a": versionsOf("1")}),
		products(t, other, map[string][]ver{"b": {{name: "1", items: map[string]string{"f": "q/1/f"}}}}))
	both.Index.Entries[other].Path = "meta/other.json"
	first, err := Build(both, State{Now: t0}, Options{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, first)
	st.Now = t0.Add(time.Minute)
	one := mirror(t, products(t, cid, map[string][]ver{"a": versionsOf("1")}))
	p, err := Build(one, st, Options{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := DecodeGCState(stateOfBody(p))
	if err != nil {
		t.Fatal(err)
	}
	if since, ok := gc.Pending["meta/other.json"]; !ok || !since.Equal(st.Now) {
		t.Fatalf("pending %v, want meta/other.json since %v", gc.Pending, st.Now)
	}
	st = published(t, p)
	st.Now = t0.Add(2 * time.Hour)
	p, err = Build(one, st, Options{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, d := range p.Deletes {
		deleted = append(deleted, d.Path)
	}
	if !slices.Contains(deleted, "meta/other.json") {
		t.Errorf("deleted %v after the grace period, want meta/other.json among them", deleted)
	}
}

// TestStaleMetadataPending: a metadata file under streams/ that the
// publication no longer writes enters the state's pending keys, even when
// the state had nothing pending and the publication is unchanged.
func TestStaleMetadataPending(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	src := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("1")}))
	first, err := Build(src, State{Now: t0}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, first)
	const stale = "streams/v1/com.example:gone.json"
	st.Metadata[stale] = []byte("{}")
	st.Objects[stale] = target.Object{Key: stale, Size: 2}
	st.Now = t0.Add(time.Minute)
	p, err := Build(src, st, Options{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := DecodeGCState(stateOfBody(p))
	if err != nil {
		t.Fatalf("state %q: %v", stateOfBody(p), err)
	}
	if _, ok := gc.Pending[stale]; !ok {
		t.Errorf("pending %v, want %s", gc.Pending, stale)
	}
}
