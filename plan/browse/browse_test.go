package browse

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/golden"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source/catalog"
)

func page(t *testing.T, doc string, signed string) Page {
	t.Helper()
	d, err := catalog.DecodeProducts("streams/v1/images.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	pub := plan.Publication{
		Catalog: map[string]*catalog.Products{d.ContentID(): d}, Paths: map[string]string{d.ContentID(): "streams/v1/" + d.ContentID() + ".json"},
		Index: plan.IndexJSON, Source: "https://images.example/", Signed: signed,
		Published: time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC),
	}
	switch signed {
	case "upstream":
		pub.SignedIndex = plan.IndexSJSON
	case "resign":
		pub.SignedIndex, pub.Keyring = plan.IndexSJSON, plan.KeyringGPG
	}
	return Page{Publication: pub, Generator: "ssmirror v1.2.0", URL: "https://mirror.example/maas/"}
}

const doc = `{"format": "products:1.0", "content_id": "com.example:images", "datatype": "image-downloads",
 "products": {
  "ubuntu:noble:amd64": {"os": "ubuntu", "release": "noble", "arch": "amd64", "versions": {
   "20250709": {"items": {
    "squashfs": {"ftype": "squashfs", "path": "noble/amd64/20250709/squashfs", "size": 1363148,
     "sha256": "527e1005cfba37b972fc6daa1553187dc32299992858aef5b2a4f1121ac13be1"},
    "kernel": {"ftype": "boot-kernel", "path": "noble/amd64/20250709/boot-kernel", "size": 750,
     "sha256": "5a2259c0910653d2bd6c2bf02dbb70ab3038cf23e250a26ba3ad58b1a7923778"}}}}}}}`

// TestRenderGolden checks the page of a small catalog in each
// signed-metadata mode against golden files (go test ./plan/browse
// -update rewrites them).
func TestRenderGolden(t *testing.T) {
	for _, mode := range []string{"upstream", "resign", "none"} {
		got, err := Render(page(t, doc, mode))
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "page-"+mode+".html", got)
	}
}

// TestRenderHostile: markup in any catalog field, in the source or the
// URL comes out escaped; the page has no script and no element the
// catalog made.
func TestRenderHostile(t *testing.T) {
	const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	hostile := `{"format": "products:1.0", "content_id": "c<b>id</b>", "datatype": "<i>x</i>",
 "products": {"p<script>alert(0)</script>": {"os": "` + `\"><img src=x onerror=alert(3)>` + `", "release": "` + evil + `", "versions": {
  "v<style>": {"items": {"i<a href=javascript:alert(4)>": {"ftype": "` + evil + `", "path": "a/javascript:alert(5)", "size": 1,
   "sha256": "527e1005cfba37b972fc6daa1553187dc32299992858aef5b2a4f1121ac13be1"}}}}}}}`
	pg := page(t, hostile, "none")
	pg.Source = evil
	pg.URL = `javascript:alert(6)//"><script>`
	got, err := Render(pg)
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	// The only elements are the template's: those of a benign page.
	benign, err := Render(page(t, doc, "none"))
	if err != nil {
		t.Fatal(err)
	}
	tags := func(html string) map[string]int {
		m := map[string]int{}
		for _, t := range regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)`).FindAllStringSubmatch(html, -1) {
			m[strings.ToLower(t[1])]++
		}
		return m
	}
	want := tags(string(benign))
	for tag, n := range tags(out) {
		if want[tag] == 0 || (tag == "script" || tag == "style" || tag == "img") && n > want[tag] {
			t.Errorf("the hostile catalog made a <%s> element (%d, a benign page has %d)", tag, n, want[tag])
		}
	}
	if ev := regexp.MustCompile(`<[^>]*\son[a-z]+=`).FindString(out); ev != "" {
		t.Errorf("an element has an event handler: %s", ev)
	}
	if strings.Contains(out, `href="javascript`) {
		t.Errorf("a link runs script:\n%s", out)
	}
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the catalog's text is not shown escaped:\n%s", out)
	}
}

// TestRowWrittenAsTheTemplateWrites: a row that plain accepts is written
// byte for byte as the row template renders it, so that only rows whose
// text needs escaping pay for html/template; rows with text to escape are
// not plain.
func TestRowWrittenAsTheTemplateWrites(t *testing.T) {
	const safe, any = "aZ09._~/-", "aZ09._~/-:+&<>\"' %?#=\x00é\t"
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		alphabet := safe
		if rng.IntN(8) == 0 {
			alphabet = any
		}
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	rows := []itemRow{
		{Version: "20250709", Name: "squashfs", Ftype: "squashfs", Path: "noble/amd64/20250709/squashfs", Size: "1.3 MiB", SHA256: "527e", First: true},
		{Version: "20250709", Name: "meta", Ftype: "lxd.tar.xz"},
	}
	for range 5000 {
		rows = append(rows, itemRow{Version: str(), Name: str(), Ftype: str(), Path: str(), Size: str(), SHA256: str(), First: rng.IntN(2) == 0})
	}
	plain := 0
	for _, r := range rows {
		var want, got bytes.Buffer
		if err := rowTmpl.Execute(&want, r); err != nil {
			t.Fatal(err)
		}
		if !r.plain() {
			continue
		}
		plain++
		r.write(&got)
		if got.String() != want.String() {
			t.Fatalf("row %+v written as\n%s\nthe template renders\n%s", r, got.String(), want.String())
		}
	}
	if plain < 100 {
		t.Fatalf("only %d of %d rows are plain: the test checks too little", plain, len(rows))
	}
	for _, s := range []string{"a&b", "<", "'", `"`, "+", "\x00"} {
		if (itemRow{Name: s}).plain() {
			t.Errorf("name %q is taken as plain", s)
		}
	}
	for _, s := range []string{"javascript:x", "a b", "a%zz", "a?b", "é"} {
		if (itemRow{Path: s}).plain() {
			t.Errorf("path %q is taken as plain", s)
		}
	}
}

// TestRowsUnderTheirProduct: each product's rows are in its own table,
// between its heading and the next product's.
func TestRowsUnderTheirProduct(t *testing.T) {
	two := `{"format": "products:1.0", "content_id": "c", "products": {
  "a": {"versions": {"1": {"items": {"x": {"path": "a/1/x", "size": 1, "sha256": "` + strings.Repeat("1", 64) + `"}}}}},
  "b": {"versions": {"1": {"items": {"y": {"path": "b/1/<y>", "size": 1, "sha256": "` + strings.Repeat("2", 64) + `"}}}}}}}`
	got, err := Render(page(t, two, "none"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	order := []string{`<h3 class="product">a</h3>`, `<tbody>`, `href="a/1/x"`, `</tbody>`,
		`<h3 class="product">b</h3>`, `<tbody>`, `href="b/1/%3cy%3e"`, `</tbody>`, `</html>`}
	at := 0
	for _, s := range order {
		i := strings.Index(out[at:], s)
		if i < 0 {
			t.Fatalf("%q missing after byte %d:\n%s", s, at, out)
		}
		at += i + len(s)
	}
}
