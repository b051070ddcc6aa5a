package plan

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
)

// TestOverwriteInPlace: upstream changes the bytes at a path the published
// metadata names. The plan first withdraws every version naming that path
// (Retract), warns, and a product whose other item then fails never falls
// back to the version that names the overwritten path.
func TestOverwriteInPlace(t *testing.T) {
	first, err := Build(mirror(t, products(t, cid, map[string][]ver{
		"p": {{name: "1", items: map[string]string{"x": "p/x", "w": "p/w"}}},
		"q": {{name: "1", items: map[string]string{"y": "q/y"}}},
	})), State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := published(t, first)
	src := mirror(t, products(t, cid, map[string][]ver{
		"p": {{name: "1", items: map[string]string{"x": "p/x=new bytes", "z": "p/z"}}},
		"q": {{name: "1", items: map[string]string{"y": "q/y"}}},
	}))
	p, err := Build(src, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	over := map[string]bool{}
	for _, x := range p.Transfers {
		over[x.Path] = x.Overwrite
	}
	if !over["p/x"] || over["p/z"] {
		t.Errorf("overwrite flags = %v, want p/x only", over)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "p/x changes in place") {
		t.Errorf("warnings = %q", p.Warnings)
	}
	// The retraction: the state (p/w, which leaves, is pending from now),
	// then the products file without p (whose only version names p/x) and
	// the index.
	var keys []string
	for _, m := range p.Retract {
		keys = append(keys, m.Key)
	}
	prodFile := "streams/v1/" + cid + ".json"
	if want := []string{StateKey, prodFile, IndexJSON}; !slices.Equal(keys, want) {
		t.Fatalf("retract = %v, want %v", keys, want)
	}
	body := string(p.Retract[1].Body)
	if strings.Contains(body, "p/x") || !strings.Contains(body, "q/y") {
		t.Errorf("retracted products file:\n%s", body)
	}
	if stateOf(p) != nil {
		t.Error("the state is published twice")
	}
	// The main publication rewrites what the retraction changed.
	keys = nil
	for _, m := range p.Publish {
		keys = append(keys, m.Key)
	}
	if want := []string{prodFile, IndexJSON}; !slices.Equal(keys, want) {
		t.Errorf("publish = %v, want %v", keys, want)
	}
	// p/z fails: p must not fall back to its published version, which
	// lists p/x with the old size and checksum.
	q, err := p.Without(map[string]bool{"p/z": true})
	if err != nil {
		t.Fatal(err)
	}
	if doc := q.Catalog[cid]; doc == nil || doc.Products["p"] != nil || doc.Products["q"] == nil {
		t.Errorf("degraded catalog = %v, want q only", q.Catalog)
	}
	for _, m := range q.Publish {
		if m.Key == prodFile && strings.Contains(string(m.Body), `"p/x"`) {
			t.Errorf("the degraded products file names p/x:\n%s", m.Body)
		}
	}
	// Without an overwrite, nothing is retracted.
	same, _ := Build(mirror(t, products(t, cid, map[string][]ver{
		"p": {{name: "1", items: map[string]string{"x": "p/x", "z": "p/z"}}},
		"q": {{name: "1", items: map[string]string{"y": "q/y"}}},
	})), st, Options{})
	if len(same.Retract) != 0 || len(same.Warnings) != 0 {
		t.Errorf("retract %v, warnings %q without an overwrite", same.Retract, same.Warnings)
	}
}

// clearsign wraps a products document as an upstream would sign it.
func clearsign(t *testing.T, key *gpg.SigningKey, doc *catalog.Products) []byte {
	t.Helper()
	body, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := key.ClearSign(body)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestGraceSignedReferences: a path that only a live signed products file
// still names (upstream mode, after a partial run advanced index.json but
// kept the upstream index.sjson) is referenced: its grace period restarts
// when that file is replaced, instead of running out at once.
func TestGraceSignedReferences(t *testing.T) {
	key, err := gpg.GenerateKey("test", "test@example.invalid", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	grace := 3 * time.Second
	both := products(t, cid, map[string][]ver{"p": versionsOf("2", "1")})
	newer := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2")}))
	first, _ := Build(mirror(t, both), State{Now: t0}, Options{Grace: grace})
	// p/1/f leaves index.json at t0+1s (a partial run); the live signed
	// products file is still the one naming it.
	partial, _ := Build(newer, published(t, first), Options{Grace: grace})
	partial.state.Now = t0.Add(time.Second)
	st := published(t, partial)
	if st.GC.NamedBy["p/1/f"] != "streams/v1/"+cid+".json" {
		t.Fatalf("state = %+v, want p/1/f pending, named by the products file", st.GC)
	}
	st.GC.Pending["p/1/f"] = t0.Add(time.Second)
	st.Metadata["streams/v1/"+cid+".sjson"] = clearsign(t, key, both)
	st.Now = t0.Add(10 * time.Second) // the grace period since t0+1s is over
	p, err := Build(newer, st, Options{Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Deletes) != 0 {
		t.Errorf("deleted %v while the live signed file names it", p.Deletes)
	}
	gc, err := DecodeGCState(stateOf(p).Body)
	if err != nil {
		t.Fatal(err)
	}
	if since := gc.Pending["p/1/f"]; !since.Equal(st.Now) {
		t.Errorf("p/1/f pending since %v, want %v (restarted)", since, st.Now)
	}
	// Once no published file names it, it goes after the grace period.
	delete(st.Metadata, "streams/v1/"+cid+".sjson")
	if p, _ := Build(newer, st, Options{Grace: grace}); len(p.Deletes) != 1 || p.Deletes[0].Path != "p/1/f" {
		t.Errorf("deletes = %v, want p/1/f", p.Deletes)
	}
	// ssmirror gc alone keeps it too.
	st.Metadata["streams/v1/"+cid+".sjson"] = clearsign(t, key, both)
	if g := GC(st, grace); len(g.Deletes) != 0 {
		t.Errorf("gc deleted %v while the live signed file names it", g.Deletes)
	}
}

// TestProvenance: only objects that metadata this tool published named are
// ever deleted; everything else in the target is kept and reported, with
// or without a state.
func TestProvenance(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	both := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2", "1")}))
	newer := mirror(t, products(t, cid, map[string][]ver{"p": versionsOf("2")}))
	first, _ := Build(both, State{Now: t0}, Options{})
	foreign := []string{"README-operator.txt", "X/.ssmirror/lease.json", "X/.ssmirror/state.json", "X/streams/v1/index.json", "other/app.bin"}
	long := t0.Add(-1000 * time.Hour)
	cases := []struct {
		name  string
		src   bool // newer (p/1/f leaves) instead of both
		gc    *GCState
		want  []string // deleted
		kept  []string // reported as not ours, beside the foreign objects
		state []string // pending in the new state
	}{
		{name: "state lost", gc: nil},
		// The live index cannot be proven this tool's: what leaves it is
		// not deleted either.
		{name: "state lost, version leaves", src: true, gc: nil},
		{name: "another publication live", src: true, gc: &GCState{Version: 1, Published: []string{"0123"}}},
		{name: "foreign keys pending without provenance", gc: &GCState{Version: 1, Pending: map[string]time.Time{"README-operator.txt": long, "other/app.bin": long}}},
		{name: "foreign key claimed by a state", gc: &GCState{Version: 1, Pending: map[string]time.Time{"other/app.bin": long},
			NamedBy: map[string]string{"other/app.bin": "streams/v1/" + cid + ".json"}}, want: []string{"other/app.bin"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := published(t, first)
			for _, k := range foreign {
				st.Objects[k] = target.Object{Key: k, Size: 7}
			}
			st.GC = c.gc
			delete(st.Metadata, StateKey)
			st.Now = t0.Add(time.Hour)
			src := both
			if c.src {
				src = newer
			}
			p, err := Build(src, st, Options{Grace: 0})
			if err != nil {
				t.Fatal(err)
			}
			var deleted, kept []string
			for _, d := range p.Deletes {
				deleted = append(deleted, d.Path)
			}
			for _, k := range p.Kept {
				kept = append(kept, k.Path)
				if k.Reason != reasonNotOurs {
					t.Errorf("%s: reason %q", k.Path, k.Reason)
				}
			}
			if !slices.Equal(deleted, c.want) {
				t.Errorf("deleted %v, want %v", deleted, c.want)
			}
			var wantKept []string
			for _, k := range foreign {
				if !slices.Contains(c.want, k) {
					wantKept = append(wantKept, k)
				}
			}
			slices.Sort(wantKept)
			if !slices.Equal(kept, wantKept) {
				t.Errorf("kept %v, want %v", kept, wantKept)
			}
			var text strings.Builder
			p.WriteText(&text)
			if len(wantKept) > 0 && !strings.Contains(text.String(), "keep README-operator.txt") {
				t.Errorf("the text plan does not report the foreign objects:\n%s", text.String())
			}
			if m := stateOf(p); m != nil {
				var gc GCState
				json.Unmarshal(m.Body, &gc)
				for k := range gc.Pending {
					if gc.NamedBy[k] == "" {
						t.Errorf("the new state has %s pending without provenance", k)
					}
				}
			}
		})
	}
	// A rebuilt state records what its run published: from the next run
	// on, what leaves that publication is deleted.
	st := published(t, first)
	st.GC = nil
	delete(st.Metadata, StateKey)
	rebuilt, _ := Build(both, st, Options{})
	if stateOf(rebuilt) == nil {
		t.Fatal("no state rebuilt")
	}
	next, _ := Build(newer, published(t, rebuilt), Options{})
	if len(next.Deletes) != 1 || next.Deletes[0].Path != "p/1/f" {
		t.Errorf("after the rebuild: deletes %v, want p/1/f", next.Deletes)
	}
}

// TestOverwriteOnlyProduct: when every product of a content id names the
// overwritten path, the retraction's index leaves that content id out
// rather than naming an empty products file.
func TestOverwriteOnlyProduct(t *testing.T) {
	first, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": {{name: "1", items: map[string]string{"x": "p/x"}}}})), State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(mirror(t, products(t, cid, map[string][]ver{"p": {{name: "1", items: map[string]string{"x": "p/x=new bytes"}}}})), published(t, first), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Retract {
		if m.Key != IndexJSON {
			continue
		}
		idx, err := catalog.DecodeIndex(IndexJSON, m.Body)
		if err != nil {
			t.Fatal(err)
		}
		if len(idx.Entries) != 0 {
			t.Errorf("the retraction's index names %v, want no content id", idx.Entries)
		}
		return
	}
	t.Errorf("no index in the retraction %v", p.Retract)
}
