package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/target"
)

// TestBrowsePagePublish: the page is published before the index files,
// with every publication and when the target lacks it, and never deleted.
func TestBrowsePagePublish(t *testing.T) {
	var got []Publication
	opts := Options{Browse: func(p Publication) ([]byte, error) {
		got = append(got, p)
		return []byte("<html>" + p.Published.String()), nil
	}}
	doc := products(t, cid, map[string][]ver{"a": versionsOf("1")})
	st := State{Now: time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)}
	p, err := Build(mirror(t, doc), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	keys := publishKeys(p)
	at := strings.Index(keys, BrowsePage)
	if at < 0 || at > strings.Index(keys, IndexJSON) || at < strings.Index(keys, "streams/v1/"+cid+".json") {
		t.Errorf("publish order %s: want the page after the products file, before the index", keys)
	}
	if len(got) != 1 || got[0].Paths[cid] != "streams/v1/"+cid+".json" || got[0].Source != "https://upstream.example/" ||
		got[0].Signed != "none" || got[0].Catalog[cid] == nil || !got[0].Published.Equal(st.Now) || got[0].Index != IndexJSON {
		t.Errorf("the page was given %+v", got)
	}

	// Nothing changed and the page is there: nothing to publish.
	st2 := published(t, p)
	p2, err := Build(mirror(t, doc), st2, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Empty() {
		t.Errorf("re-plan publishes %s, want nothing", publishKeys(p2))
	}
	// The page is gone: it alone is published.
	delete(st2.Objects, BrowsePage)
	p3, err := Build(mirror(t, doc), st2, opts)
	if err != nil {
		t.Fatal(err)
	}
	if keys := publishKeys(p3); keys != BrowsePage {
		t.Errorf("a target without the page: publish %s, want %s only", keys, BrowsePage)
	}
	// Without a renderer an existing page is left alone: never deleted,
	// not reported as another application's, even when the state is lost.
	st2.Objects[BrowsePage] = target.Object{Key: BrowsePage, Size: 10}
	st2.GC, st2.Now = nil, st2.Now.Add(30*24*time.Hour)
	p4, err := Build(mirror(t, doc), st2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range p4.Deletes {
		if d.Path == BrowsePage {
			t.Errorf("the page is deleted: %+v", d)
		}
	}
	for _, k := range p4.Kept {
		if k.Path == BrowsePage {
			t.Errorf("the page is reported as not ours: %+v", k)
		}
	}
	if strings.Contains(string(stateOfBody(p4)), BrowsePage) {
		t.Errorf("the page is pending deletion: %s", stateOfBody(p4))
	}
}

func publishKeys(p *Plan) string {
	var keys []string
	for _, m := range p.Publish {
		keys = append(keys, m.Key)
	}
	return strings.Join(keys, " ")
}

func stateOfBody(p *Plan) []byte {
	if m := stateOf(p); m != nil {
		return m.Body
	}
	return nil
}

// TestBrowsePageBeforeUpstreamIndex: with --signed upstream, the page goes
// after the products files and before the first index file: index.json,
// or the upstream's signed index (whatever its name) when it alone
// changed.
func TestBrowsePageBeforeUpstreamIndex(t *testing.T) {
	opts := Options{Signed: SignedUpstream, Browse: func(p Publication) ([]byte, error) { return []byte("<html>"), nil }}
	const start = "streams/v1/upstream-index.sjson"
	src := mirror(t, products(t, cid, map[string][]ver{"a": versionsOf("1")}))
	src.Signed, src.StartPath = true, start
	signedProducts := "streams/v1/" + cid + ".sjson"
	src.Index.Entries[cid].Path = signedProducts
	src.Raw[signedProducts] = []byte("signed products")
	src.Raw[start] = []byte("signed index")
	st := State{Now: time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)}
	p, err := Build(src, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(publishKeys(p), " ")
	if s := slices.Index(keys, StateKey); s < 0 || s > slices.Index(keys, IndexJSON) {
		t.Errorf("publish order %v: want the state before the index files", keys)
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == StateKey })
	want := []string{"streams/v1/" + cid + ".json", signedProducts, BrowsePage, IndexJSON, start}
	if !slices.Equal(keys, want) {
		t.Errorf("publish order %v (without the state), want %v", keys, want)
	}
	// Only the upstream's signed index changed.
	st2 := published(t, p)
	src.Raw[start] = []byte("signed index, signed again")
	p2, err := Build(src, st2, opts)
	if err != nil {
		t.Fatal(err)
	}
	if keys, want := publishKeys(p2), BrowsePage+" "+start; keys != want {
		t.Errorf("publish order %s, want %s", keys, want)
	}
}
