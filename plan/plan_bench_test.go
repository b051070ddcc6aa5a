package plan_test

// Benchmarks for planning scale (bench/README.md, target 5: a catalog of
// 100,000 items is parsed, filtered and planned in under 2 s and 500 MiB).
//
//	go test ./plan -run '^$' -bench . -benchmem
//
// The catalog has the shape of bench/cmd/ssbench's planning fixture: 5,000
// products (half amd64, half arm64) × 4 versions × 5 items, selected by
// two filter groups that together keep every item.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

const (
	benchCID      = "com.example.bench:plan"
	benchProducts = 5000
	benchVersions = 4
	benchItems    = 5 // per version: 100,000 items in all
)

var benchDoc = sync.OnceValues(func() ([]byte, []byte) {
	arches := []string{"amd64", "arm64"}
	prods := map[string]any{}
	names := []string{}
	for p := range benchProducts {
		arch := arches[p%2]
		name := fmt.Sprintf("%s:p%06d:%s", benchCID, p, arch)
		vers := map[string]any{}
		for v := range benchVersions {
			vname := fmt.Sprintf("2025%02d01.%d", v%12+1, v)
			items := map[string]any{}
			for i := range benchItems {
				path := fmt.Sprintf("plan/p%06d/%s/item%d.bin", p, vname, i)
				sum := sha256.Sum256([]byte(path))
				items[fmt.Sprintf("item%d", i)] = map[string]any{
					"ftype": "bin", "path": path, "size": 150 << 20, "sha256": hex.EncodeToString(sum[:]),
				}
			}
			vers[vname] = map[string]any{"items": items, "label": "stable"}
		}
		prods[name] = map[string]any{
			"arch": arch, "os": "ubuntu", "release": fmt.Sprintf("r%02d", (p/2)%20), "label": "stable",
			"subarch": "generic", "kflavor": "generic", "versions": vers,
		}
		names = append(names, name)
	}
	doc, _ := json.MarshalIndent(map[string]any{
		"format": "products:1.0", "content_id": benchCID, "datatype": "image-downloads",
		"updated": "Thu, 24 Jul 2025 08:01:49 +0000", "products": prods,
	}, "", " ")
	idx, _ := json.Marshal(map[string]any{
		"format": "index:1.0", "updated": "Thu, 24 Jul 2025 08:01:49 +0000",
		"index": map[string]any{benchCID: map[string]any{
			"datatype": "image-downloads", "format": "products:1.0",
			"path": "streams/v1/" + benchCID + ".json", "products": names,
		}},
	})
	return doc, idx
})

func benchMirror(b *testing.B) *source.Mirror {
	b.Helper()
	doc, idx := benchDoc()
	index, err := catalog.DecodeIndex("index.json", idx)
	if err != nil {
		b.Fatal(err)
	}
	prods, err := catalog.DecodeProducts(benchCID+".json", doc)
	if err != nil {
		b.Fatal(err)
	}
	return &source.Mirror{
		Root: "https://upstream.example/", StartPath: plan.IndexJSON, Index: index,
		Products: map[string]*catalog.Products{benchCID: prods},
		Raw:      map[string][]byte{plan.IndexJSON: idx, "streams/v1/" + benchCID + ".json": doc},
	}
}

func benchOptions(b *testing.B) plan.Options {
	b.Helper()
	fs, err := filter.ParseArgs([]string{"arch=amd64", filter.OrArg, "arch=arm64"})
	if err != nil {
		b.Fatal(err)
	}
	return plan.Options{Filters: fs}
}

// BenchmarkDecodeProducts100k parses the 100,000-item products document.
func BenchmarkDecodeProducts100k(b *testing.B) {
	doc, _ := benchDoc()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := catalog.DecodeProducts(benchCID+".json", doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild100k plans the 100,000 items into an empty target (every
// item is a transfer) and into a target that already holds exactly what
// that plan publishes (nothing to do).
func BenchmarkBuild100k(b *testing.B) {
	src := benchMirror(b)
	opts := benchOptions(b)
	now := time.Date(2025, 7, 24, 8, 0, 0, 0, time.UTC)

	b.Run("empty-target", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := plan.Build(src, plan.State{Now: now}, opts)
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Transfers) != benchProducts*benchVersions*benchItems {
				b.Fatalf("%d transfers", len(p.Transfers))
			}
		}
	})

	first, err := plan.Build(src, plan.State{Now: now}, opts)
	if err != nil {
		b.Fatal(err)
	}
	st := heldState(b, first, now)
	b.Run("no-op", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := plan.Build(src, st, opts)
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Transfers) != 0 {
				b.Fatalf("no-op plan has %d transfers", len(p.Transfers))
			}
		}
	})
}

// heldState is the state of a target that holds what p published.
func heldState(b *testing.B, p *plan.Plan, now time.Time) plan.State {
	b.Helper()
	st := plan.State{Objects: map[string]target.Object{}, Metadata: map[string][]byte{}, Now: now}
	for _, t := range p.Transfers {
		st.Objects[t.Path] = target.Object{Key: t.Path, Size: t.Size}
	}
	for _, m := range p.Publish {
		st.Objects[m.Key] = target.Object{Key: m.Key, Size: int64(len(m.Body))}
		st.Metadata[m.Key] = m.Body
	}
	idx, err := catalog.DecodeIndex(plan.IndexJSON, st.Metadata[plan.IndexJSON])
	if err != nil {
		b.Fatal(err)
	}
	pub := &source.Mirror{Root: "target", StartPath: plan.IndexJSON, Index: idx, Products: map[string]*catalog.Products{}, Raw: map[string][]byte{}}
	for cid, e := range idx.Entries {
		doc, err := catalog.DecodeProducts(e.Path, st.Metadata[e.Path])
		if err != nil {
			b.Fatal(err)
		}
		pub.Products[cid] = doc
		pub.Raw[e.Path] = st.Metadata[e.Path]
	}
	pub.Raw[plan.IndexJSON] = st.Metadata[plan.IndexJSON]
	st.Published = pub
	if data, ok := st.Metadata[plan.StateKey]; ok {
		if st.GC, err = plan.DecodeGCState(data); err != nil {
			b.Fatal(err)
		}
	}
	return st
}
