package plan_test

// Benchmarks for planning scale (bench/README.md, target 5: a catalog of
// 100,000 items is parsed, filtered and planned in under 2 s and 500 MiB,
// one of 1,000,000 items in under 10 s and 2 GiB).
//
//	go test ./plan -run '^$' -bench . -benchmem          # both sizes
//	go test ./plan -run '^$' -bench '/100k' -benchmem    # 100,000 items only
//
// The catalogs have the shapes of the bench's planning fixtures: 5,000
// products (half amd64, half arm64) × 4 versions × 5 items, and 10,000
// products × 20 versions × 5 items, selected by two filter groups that
// together keep every item. Besides ns/op and allocs/op, each reports
// what it allocates per item (B/item, allocs/item); the decoding also
// reports what a decoded catalog keeps live per item (live-B/item, the
// document's text included).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/browse"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

const benchCID = "com.example.bench:plan"

// benchShape is a catalog of products × versions × items items.
type benchShape struct {
	name                     string
	products, versions, item int
}

func (s benchShape) items() int { return s.products * s.versions * s.item }

var benchShapes = []benchShape{{"100k", 5000, 4, 5}, {"1M", 10000, 20, 5}}

var benchDocs sync.Map // benchShape -> [2][]byte

// benchDoc returns the products document and the index of shape s,
// written as the upstream tools write them: sorted keys, one-space
// indentation.
func benchDoc(s benchShape) (doc, idx []byte) {
	if d, ok := benchDocs.Load(s); ok {
		pair := d.([2][]byte)
		return pair[0], pair[1]
	}
	const updated = "Thu, 24 Jul 2025 08:01:49 +0000"
	arches := []string{"amd64", "arm64"}
	var vnames, names []string
	for v := range s.versions {
		vnames = append(vnames, fmt.Sprintf("2025%02d01.%d", v%12+1, v))
	}
	sort.Strings(vnames)
	var b bytes.Buffer
	b.Grow(s.items() * 240)
	fmt.Fprintf(&b, "{\n \"content_id\": %q,\n \"datatype\": \"image-downloads\",\n \"format\": \"products:1.0\",\n \"products\": {", benchCID)
	for p := range s.products {
		arch := arches[p%2]
		name := fmt.Sprintf("%s:p%06d:%s", benchCID, p, arch)
		names = append(names, name)
		if p > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n  %q: {\n   \"arch\": %q,\n   \"kflavor\": \"generic\",\n   \"label\": \"stable\",\n   \"os\": \"ubuntu\",\n   \"release\": \"r%02d\",\n   \"subarch\": \"generic\",\n   \"versions\": {", name, arch, (p/2)%20)
		for v, vname := range vnames {
			if v > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "\n    %q: {\n     \"items\": {", vname)
			for i := range s.item {
				if i > 0 {
					b.WriteByte(',')
				}
				path := fmt.Sprintf("plan/p%06d/%s/item%d.bin", p, vname, i)
				sum := sha256.Sum256([]byte(path))
				fmt.Fprintf(&b, "\n      \"item%d\": {\n       \"ftype\": \"bin\",\n       \"path\": %q,\n       \"sha256\": %q,\n       \"size\": %d\n      }",
					i, path, hex.EncodeToString(sum[:]), 150<<20)
			}
			b.WriteString("\n     },\n     \"label\": \"stable\"\n    }")
		}
		b.WriteString("\n   }\n  }")
	}
	fmt.Fprintf(&b, "\n },\n \"updated\": %q\n}\n", updated)
	var ib bytes.Buffer
	fmt.Fprintf(&ib, `{"format":"index:1.0","updated":%q,"index":{%q:{"datatype":"image-downloads","format":"products:1.0","updated":%q,"path":"streams/v1/%s.json","products":[`,
		updated, benchCID, updated, benchCID)
	for i, n := range names {
		if i > 0 {
			ib.WriteByte(',')
		}
		fmt.Fprintf(&ib, "%q", n)
	}
	ib.WriteString("]}}}\n")
	benchDocs.Store(s, [2][]byte{b.Bytes(), ib.Bytes()})
	return b.Bytes(), ib.Bytes()
}

func benchMirror(b *testing.B, s benchShape) *source.Mirror {
	b.Helper()
	doc, idx := benchDoc(s)
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

// perItem reports what the loop allocated per item of the catalog.
func perItem(b *testing.B, items int, loop func()) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		loop()
		n++
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n*items), "B/item")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n*items), "allocs/item")
}

// BenchmarkDecodeProducts parses the products document.
func BenchmarkDecodeProducts(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			doc, _ := benchDoc(s)
			b.SetBytes(int64(len(doc)))
			var kept *catalog.Products
			perItem(b, s.items(), func() {
				var err error
				if kept, err = catalog.DecodeProducts(benchCID+".json", doc); err != nil {
					b.Fatal(err)
				}
			})
			// What one decoded catalog holds, with the text it reads.
			var before, after runtime.MemStats
			kept = nil
			runtime.GC()
			runtime.ReadMemStats(&before)
			kept, _ = catalog.DecodeProducts(benchCID+".json", doc)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)+int64(len(doc)))/float64(s.items()), "live-B/item")
			runtime.KeepAlive(kept)
		})
	}
}

// BenchmarkBuild plans the items into an empty target (every item is a
// transfer) and, for 100,000 items, into a target that already holds
// exactly what that plan publishes (nothing to do).
func BenchmarkBuild(b *testing.B) {
	now := time.Date(2025, 7, 24, 8, 0, 0, 0, time.UTC)
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			src := benchMirror(b, s)
			opts := benchOptions(b)
			b.Run("empty-target", func(b *testing.B) {
				perItem(b, s.items(), func() {
					p, err := plan.Build(src, plan.State{Now: now}, opts)
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Transfers) != s.items() {
						b.Fatalf("%d transfers", len(p.Transfers))
					}
				})
			})
			if s.items() > 100000 {
				return
			}
			first, err := plan.Build(src, plan.State{Now: now}, opts)
			if err != nil {
				b.Fatal(err)
			}
			st := heldState(b, first, now)
			b.Run("no-op", func(b *testing.B) {
				perItem(b, s.items(), func() {
					p, err := plan.Build(src, st, opts)
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Transfers) != 0 {
						b.Fatalf("no-op plan has %d transfers", len(p.Transfers))
					}
				})
			})
		})
	}
}

// BenchmarkPlan is what `ssmirror plan` does once the catalog is read:
// decode it, plan it into an empty target with the browse page, and
// print the plan.
func BenchmarkPlan(b *testing.B) {
	now := time.Date(2025, 7, 24, 8, 0, 0, 0, time.UTC)
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			benchDoc(s)
			opts := benchOptions(b)
			opts.Browse = func(pub plan.Publication) ([]byte, error) { return browse.Render(browse.Page{Publication: pub}) }
			perItem(b, s.items(), func() {
				p, err := plan.Build(benchMirror(b, s), plan.State{Now: now}, opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.WriteText(io.Discard); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
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
