package plan

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// TestKeepVanished: with Keep, a product and a whole products file that
// upstream dropped stay published with their versions and fields, and
// nothing of them is deleted; without Keep they go.
func TestKeepVanished(t *testing.T) {
	const other = "com.example:other"
	first, err := Build(mirror(t,
		products(t, cid, map[string][]ver{"p": versionsOf("1"), "q": versionsOf("1")}),
		products(t, other, map[string][]ver{"r": versionsOf("1")}),
	), State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, first)
	src := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2")}))
	for _, keep := range []bool{true, false} {
		p, err := Build(src, st, Options{Keep: keep})
		if err != nil {
			t.Fatal(err)
		}
		after := published(t, p)
		var got []string
		for id, doc := range after.Published.Products {
			doc.Each(func(f catalog.Flat) bool {
				got = append(got, id+" "+f.Product+" "+f.Version+" "+f.Attrs["arch"])
				return true
			})
		}
		want := []string{other + " r 1 amd64", cid + " p 1 amd64", cid + " p 2 amd64", cid + " q 1 amd64"}
		if !keep {
			want = []string{cid + " p 2 amd64"}
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("keep=%v: published %q, want %q", keep, got, want)
		}
		if keep && len(p.Deletes) != 0 {
			t.Errorf("keep: deletes %v", p.Deletes)
		}
	}
}

// TestWithoutNewContentID: a products file never published before whose
// every item failed stays out of the mirror: no products file, no index
// entry.
func TestWithoutNewContentID(t *testing.T) {
	const other = "com.example:other"
	first, err := Build(mirror(t, products(t, cid, map[string][]ver{"a": versionsOf("1")})), State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, first)
	src := mirror(t,
		products(t, cid, map[string][]ver{"a": versionsOf("1")}),
		products(t, other, map[string][]ver{"n": {{name: "1", items: map[string]string{"f": "n/1/f"}}}}),
	)
	p, err := Build(src, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Without(map[string]bool{"n/1/f": true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := q.Catalog[other]; ok {
		t.Errorf("the failed content id is in the catalog: %v", catalog.SortedKeys(q.Catalog))
	}
	for _, m := range q.Publish {
		if strings.Contains(m.Key, other) || strings.Contains(string(m.Body), other) {
			t.Errorf("%s names the failed content id", m.Key)
		}
	}
}

// TestValidListMarksLimit: up to maxListMarks marks are accepted, one
// more is not.
func TestValidListMarksLimit(t *testing.T) {
	marks := make([]string, maxListMarks+1)
	for i := range marks {
		marks[i] = fmt.Sprintf("k%07d", i)
	}
	if !validListMarks(marks[:maxListMarks]) {
		t.Errorf("%d marks refused", maxListMarks)
	}
	if validListMarks(marks) {
		t.Errorf("%d marks accepted", len(marks))
	}
	long := strings.Repeat("k", 1024)
	for _, c := range []struct {
		marks []string
		ok    bool
	}{
		{[]string{"a", long}, true}, {[]string{"a", long + "x"}, false},
		{[]string{"a", "a"}, false}, {[]string{"b", "a"}, false}, {[]string{""}, false},
	} {
		if got := validListMarks(c.marks); got != c.ok {
			t.Errorf("validListMarks(%d marks ending in a %d-byte one) = %v", len(c.marks), len(c.marks[len(c.marks)-1]), got)
		}
	}
}

// TestListMarks: a target that holds ListPage keys or more after the plan
// (what it held, transferred, landed and published, and the state) gets
// a list mark every ListPage keys, whichever of these the keys come from;
// the range that holds the state leaves room for ListSlack keys more.
func TestListMarks(t *testing.T) {
	keys := make([]string, ListPage) // with the state key, ListPage+1 keys
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
	}
	want := []string{keys[ListPage-ListSlack-2]} // StateKey sorts first
	plans := map[string]*Plan{
		"held":        {state: State{Objects: map[string]target.Object{}}},
		"transferred": {state: State{}},
		"landed":      {state: State{}, landed: keys},
		"published":   {state: State{}},
	}
	for _, k := range keys {
		plans["held"].state.Objects[k] = target.Object{Key: k}
		plans["transferred"].Transfers = append(plans["transferred"].Transfers, Transfer{Path: k})
		plans["published"].Publish = append(plans["published"].Publish, Meta{Key: k})
	}
	for name, p := range plans {
		if got := p.listMarks(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: marks %v, want %v", name, got, want)
		}
	}
	small := &Plan{state: State{}, landed: keys[:ListPage-1]}
	if got := small.listMarks(); got != nil {
		t.Errorf("%d keys: marks %v, want none", ListPage, got)
	}
	// After the state's range, a mark every ListPage keys; none at the
	// last key (the range after it would be empty).
	two := make([]string, 2*ListPage-ListSlack-1) // with the state key, 2*ListPage-ListSlack keys
	for i := range two {
		two[i] = fmt.Sprintf("k%04d", i)
	}
	if got := (&Plan{state: State{}, landed: two}).listMarks(); !reflect.DeepEqual(got, []string{two[ListPage-ListSlack-2]}) {
		t.Errorf("%d keys: marks %v, want [%s]", len(two)+1, got, two[ListPage-ListSlack-2])
	}
	// Away from the state, ranges are whole pages.
	far := make([]string, 2*ListPage)
	for i := range far {
		far[i] = fmt.Sprintf("-%04d", i) // sorts before StateDir
	}
	if got := (&Plan{state: State{}, landed: far}).listMarks(); !reflect.DeepEqual(got, []string{far[ListPage-1], far[2*ListPage-1]}) {
		t.Errorf("%d keys before the state: marks %v, want [%s %s]", len(far)+1, got, far[ListPage-1], far[2*ListPage-1])
	}
}

// TestListMarksKept: the state's marks stay while each range they bound
// is still a page at most (the keys the run writes under StateDir beside
// the plan have come), so a run that changes nothing does not rewrite the
// state; once a range outgrows a page, or the marks are more than fresh
// ones would be, they are placed afresh.
func TestListMarksKept(t *testing.T) {
	held := func(extra ...string) map[string]target.Object {
		objs := map[string]target.Object{}
		for i := range 2 * ListPage {
			k := fmt.Sprintf("k%04d", i)
			objs[k] = target.Object{Key: k}
		}
		for _, k := range extra {
			objs[k] = target.Object{Key: k}
		}
		return objs
	}
	first := (&Plan{state: State{Objects: held()}}).listMarks()
	var written []string // what a run writes under StateDir beside the plan
	for i := range ListSlack {
		written = append(written, fmt.Sprintf("%sw%02d", StateDir, i))
	}
	next := &Plan{state: State{Objects: held(written...), GC: &GCState{ListMarks: first}}}
	if got := next.listMarks(); !reflect.DeepEqual(got, first) {
		t.Errorf("with %d keys more in the state's range: marks %v, want the state's %v", ListSlack, got, first)
	}
	over := &Plan{state: State{Objects: held(append(written, StateDir+"x")...), GC: &GCState{ListMarks: first}}}
	if got := over.listMarks(); reflect.DeepEqual(got, first) || !pagedRanges(sortedKeys(over.state.Objects, StateKey), got) {
		t.Errorf("with %d keys more in the state's range: marks %v, want fresh ones", ListSlack+1, got)
	}
	stale := &Plan{state: State{Objects: held(), GC: &GCState{ListMarks: []string{"k0100", "k0200", "k0300"}}}}
	if got := stale.listMarks(); !reflect.DeepEqual(got, first) {
		t.Errorf("more marks than needed: %v, want %v", got, first)
	}
}

// sortedKeys returns the keys of objs and extra, sorted.
func sortedKeys(objs map[string]target.Object, extra ...string) []string {
	keys := slices.Sorted(maps.Keys(objs))
	keys = append(keys, extra...)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestKeepOnlyWhole: --keep keeps a version upstream dropped only while
// every file of it is still in the target.
func TestKeepOnlyWhole(t *testing.T) {
	first, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("1", "2")})), State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, first)
	delete(st.Objects, "p/1/f")
	p, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("3")})), st, Options{Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := catalog.SortedKeys(p.Catalog[cid].Products["p"].Versions); !reflect.DeepEqual(got, []string{"2", "3"}) {
		t.Errorf("versions %v, want [2 3] (1 lost its file)", got)
	}
}

// TestIndexConditions: the index is written only if absent on a first
// publish and only over the ETag that was read afterwards; products files
// carry no condition.
func TestIndexConditions(t *testing.T) {
	first, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("1")})), State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, first)
	obj := st.Objects[IndexJSON]
	obj.ETag = "etag-1"
	st.Objects[IndexJSON] = obj
	next, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("1")}), // a new products file changes the index
		products(t, "com.example:other", map[string][]ver{"q": versionsOf("1")})), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p        *Plan
		ifMatch  string
		ifAbsent bool
	}{{first, "", true}, {next, "etag-1", false}} {
		seen := false
		for _, m := range c.p.Publish {
			switch {
			case m.Key == IndexJSON:
				seen = true
				if m.IfMatch != c.ifMatch || m.IfAbsent != c.ifAbsent {
					t.Errorf("%s: IfMatch %q, IfAbsent %v; want %q, %v", m.Key, m.IfMatch, m.IfAbsent, c.ifMatch, c.ifAbsent)
				}
			case m.IfMatch != "" || m.IfAbsent:
				t.Errorf("%s: IfMatch %q, IfAbsent %v; want no condition", m.Key, m.IfMatch, m.IfAbsent)
			}
		}
		if !seen {
			t.Errorf("the index is not published")
		}
	}
}
