package apply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// TestLoadStateListRanges: a target whose state has list marks is listed
// in ranges at once. Whatever the marks (where the pages end, stale,
// pointing at deleted or never-present keys, out of order), LoadState sees
// exactly the objects a plain listing sees; with marks where the pages
// end, it sends no more listing requests than a plain listing.
func TestLoadStateListRanges(t *testing.T) {
	st, proxy := s3Target(t, "m")
	ctx := context.Background()
	// 2,345 objects with the state: 3 pages of 1,000 keys.
	const n = 2345
	keys := make(chan string)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for k := range keys {
				if _, err := st.Put(ctx, k, strings.NewReader(k), int64(len(k)), target.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for i := range n - 1 {
		keys <- fmt.Sprintf("d%d/item-%05d.bin", i%7, i)
	}
	close(keys)
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	if err := st.List(ctx, "", func(o target.Object) error { all = append(all, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	all = append(all, plan.StateKey)
	slices.Sort(all)
	if len(all) != n {
		t.Fatalf("setup: %d keys, want %d", len(all), n)
	}

	listRequests := func() int {
		c := 0
		for _, r := range proxy.Requests() {
			if r.Method == "GET" && strings.Contains(r.RawQuery, "list-type=2") {
				c++
			}
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		marks []string
		// wantLists is the number of listing requests, or 0 for "any".
		wantLists int
		// sequential: LoadOptions.Sequential (the store ignores
		// start-after): one pass, no start-after sent.
		sequential bool
	}{
		{"no marks", nil, 3, false},
		{"marks where the pages end", []string{all[999], all[1999]}, 3, false},
		{"more ranges than pages", []string{all[10], all[500], all[501], all[1500], all[2300]}, 0, false},
		{"stale marks", []string{"d0/gone", "d3/item-99999.bin", "d5/", "zzz"}, 0, false},
		{"marks before and after every key", []string{"a", "zz"}, 0, false},
		{"out of order (ignored)", []string{all[1999], all[999]}, 3, false},
		{"sequential", []string{all[10], all[500], all[501], all[1500], all[2300]}, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, _ := json.Marshal(plan.GCState{Version: 1, Pending: nil, ListMarks: tc.marks})
			if _, err := st.Put(ctx, plan.StateKey, strings.NewReader(string(state)), int64(len(state)), target.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			before := listRequests()
			seen := len(proxy.Requests())
			got, err := apply.LoadState(ctx, st, apply.LoadOptions{Sequential: tc.sequential})
			if err != nil {
				t.Fatal(err)
			}
			if keys := slices.Sorted(maps.Keys(got.Objects)); !slices.Equal(keys, all) {
				t.Fatalf("LoadState saw %d objects, want %d (first difference near %q)", len(keys), len(all), firstDiff(keys, all))
			}
			for k, o := range got.Objects {
				if o.Size == 0 || o.ETag == "" {
					t.Fatalf("%s: size %d, ETag %q", k, o.Size, o.ETag)
				}
			}
			if got.GC == nil {
				t.Errorf("the state was not read: %v", got.GCErr)
			}
			if lists := listRequests() - before; tc.wantLists != 0 && lists != tc.wantLists {
				t.Errorf("%d listing requests, want %d", lists, tc.wantLists)
			}
			for _, r := range proxy.Requests()[seen:] {
				if tc.sequential && strings.Contains(r.RawQuery, "start-after") {
					t.Errorf("a sequential listing sent start-after: %s", r.RawQuery)
				}
			}
		})
	}
}

// s3Target returns a store on a new bucket of the shared test server,
// reached through a proxy that logs the requests.
func s3Target(t *testing.T, prefix string) (*s3store.Store, *faultproxy.Proxy) {
	t.Helper()
	srv := s3test.Shared(t)
	proxy := faultproxy.Start(t, srv.Endpoint)
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: srv.NewBucket(t), Prefix: prefix, Endpoint: proxy.URL,
		PathStyle: true, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return st, proxy
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " / " + b[i]
		}
	}
	return "the end"
}

// TestListMarksAfterSync: a sync of more than a page of objects into S3
// leaves list marks that bound ranges of a page at most (the state's
// range with room for plan.ListSlack keys more), so that the next run
// lists in ranges with no more requests than one pass, and a run with
// nothing to do leaves the state as it is.
func TestListMarksAfterSync(t *testing.T) {
	dst, proxy := s3Target(t, "mirror")
	ctx := context.Background()
	// 230 products of 5 items: 1,150 items and 3 metadata objects.
	prods := map[string]any{}
	for p := range 230 {
		items := map[string]any{}
		for i := range 5 {
			items[fmt.Sprintf("i%d", i)] = map[string]any{"ftype": "bin", "path": fmt.Sprintf("many/p%03d/i%d.bin", p, i), "size": json.Number("10")}
		}
		prods[fmt.Sprintf("com.example:p%03d", p)] = map[string]any{"arch": "amd64",
			"versions": map[string]any{"20260101": map[string]any{"items": items}}}
	}
	tree, err := upstream.Build([]upstream.Doc{{"format": "products:1.0", "content_id": "com.example:many",
		"datatype": "image-downloads", "products": prods}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	up := upstream.Serve(t, tree)
	src, err := source.NewHTTP(up.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sync := func() *plan.Plan {
		t.Helper()
		m, err := source.Read(ctx, src, "streams/v1/index.json", source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := apply.LoadState(ctx, dst, apply.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Build(m, st, plan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := apply.Run(ctx, p, src, dst, apply.Options{Transfers: 8}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sync()

	var keys []string
	if err := dst.List(ctx, "", func(o target.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1150+3 {
		t.Fatalf("the target holds %d objects, want 1,153", len(keys))
	}
	rc, _, err := dst.Open(ctx, plan.StateKey)
	if err != nil {
		t.Fatal(err)
	}
	var gc plan.GCState
	err = json.NewDecoder(rc).Decode(&gc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	mark := keys[plan.ListPage-plan.ListSlack-1] // the state is the first key
	if want := []string{mark}; !slices.Equal(gc.ListMarks, want) {
		t.Errorf("list marks %q, want %q (the %dth key)", gc.ListMarks, want, plan.ListPage-plan.ListSlack)
	}

	before := len(proxy.Requests())
	p := sync()
	var lists, ranged, puts int
	for _, r := range proxy.Requests()[before:] {
		switch {
		case r.Method == "GET" && strings.Contains(r.RawQuery, "list-type=2"):
			lists++
			if strings.Contains(r.RawQuery, "start-after=mirror%2F"+url.QueryEscape(mark)) {
				ranged++
			}
		case r.Method == "PUT":
			puts++
		}
	}
	if len(p.Transfers) != 0 || len(p.Publish) != 0 || puts != 0 {
		t.Errorf("the second run transferred %d, published %d, sent %d PUTs; want nothing", len(p.Transfers), len(p.Publish), puts)
	}
	if lists != 2 || ranged != 1 {
		t.Errorf("the second run sent %d listing requests, %d of them after the mark; want 2, one from the start and one after the mark", lists, ranged)
	}
}

// TestLoadStateExpect: a metadata file (signed or the published .json)
// whose listed ETag is the MD5 of the bytes the caller expects is not read
// back; one that differs is read, and the state holds what the target
// really has: signed files and the published public keys, nothing else
// under streams/v1/ but the .json files.
func TestLoadStateExpect(t *testing.T) {
	st, proxy := s3Target(t, "m")
	ctx := context.Background()
	same, old := []byte("signed index, as upstream has it\n"), []byte("an older signed products file\n")
	index := []byte(`{"format": "index:1.0", "index": {}}`)
	const notMeta = "streams/v1/README.txt"
	files := map[string][]byte{
		plan.IndexSJSON:              same,
		"streams/v1/products.sjson":  old,
		plan.IndexJSON:               index,
		"streams/v1/unrelated.sjson": []byte("a signed file nobody expects\n"),
		plan.KeyringGPG:              []byte("the mirror's public key\n"),
		plan.KeyringASC:              []byte("the mirror's public key, armoured\n"),
		notMeta:                      []byte("not metadata\n"),
	}
	for k, v := range files {
		if _, err := st.Put(ctx, k, strings.NewReader(string(v)), int64(len(v)), target.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		index []byte // the index.json expected
	}{
		{"index unchanged", index},
		{"index changed", []byte(`{"format": "index:1.0", "index": {}, "updated": "now"}`)},
	} {
		expect := map[string][]byte{plan.IndexSJSON: same, "streams/v1/products.sjson": []byte("the new signed products file\n"), plan.IndexJSON: c.index}
		before := len(proxy.Requests())
		var listed int
		got, err := apply.LoadState(ctx, st, apply.LoadOptions{Expect: func(objs map[string]target.Object) map[string][]byte {
			listed = len(objs)
			return expect
		}})
		if err != nil {
			t.Fatal(err)
		}
		read := map[string]bool{}
		for _, r := range proxy.Requests()[before:] {
			if r.Method == "GET" && r.RawQuery == "" {
				_, key, _ := strings.Cut(r.Path, "/m/")
				read[key] = true
			}
		}
		if listed != len(files) || read[plan.IndexSJSON] || !read["streams/v1/products.sjson"] || !read["streams/v1/unrelated.sjson"] ||
			read[plan.IndexJSON] != (string(c.index) != string(index)) {
			t.Errorf("%s: Expect given %d objects, read back %v; want all %d, and the changed and the unexpected files, not the unchanged ones",
				c.name, listed, slices.Sorted(maps.Keys(read)), len(files))
		}
		if _, ok := got.Metadata[notMeta]; ok {
			t.Errorf("%s: state holds %s as metadata", c.name, notMeta)
		}
		for k := range files {
			if k == notMeta {
				continue
			}
			if string(got.Metadata[k]) != string(files[k]) {
				t.Errorf("%s: state holds %q for %s, want what the target has, %q", c.name, got.Metadata[k], k, files[k])
			}
		}
		if got.Published == nil || string(got.Published.Raw[plan.IndexJSON]) != string(index) {
			t.Errorf("%s: the published catalog is not the target's", c.name)
		}
	}
}
