package browse

import (
	"bytes"
	"html/template"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/plan"
)

// referenceListing is the listing's markup as an html/template: listing
// must give what it gives, for any catalog.
var referenceListing = template.Must(template.New("listing").Funcs(template.FuncMap{"human": plan.Bytes}).Parse(`{{range .ContentIDs}}
<h2 class="content-id" id="{{.ID}}">{{.ID}}</h2>
<p>{{if .Datatype}}{{.Datatype}}: {{end}}{{.Items}} files, {{human .Bytes}}; products file <a href="{{.Path}}">{{.Path}}</a></p>
{{- range .Products}}
<h3 class="product">{{.Name}}</h3>
{{- if .Attrs}}
<p class="attrs">{{.Attrs}}</p>
{{- end}}
<table>
<thead><tr><th>Version</th><th>Item</th><th>Type</th><th>Size</th><th>SHA-256</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr class="item"><td class="version">{{if .First}}{{.Version}}{{end}}</td><td>{{if .Path}}<a href="{{.Path}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}</td><td>{{.Ftype}}</td><td class="size">{{if .Path}}{{human .Size}}{{end}}</td><td class="sha">{{.SHA256}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
{{- end}}`))

func reference(t testing.TB, cids []contentID) string {
	var b bytes.Buffer
	if err := referenceListing.Execute(&b, struct{ ContentIDs []contentID }{cids}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// hostileCatalog is a listing whose every catalog-given field is s.
func hostileCatalog(s string, size int64) []contentID {
	row := itemRow{Version: s, Name: s, Ftype: s, Path: s, SHA256: s, Size: size, First: true, VersionRows: 2}
	plain := itemRow{Version: s, Name: s, Ftype: s, SHA256: s}
	return []contentID{
		{ID: s, Path: s, Datatype: s, Items: 2, Bytes: size, Products: []productRows{
			{Name: s, Attrs: s, Rows: []itemRow{row, plain}},
			{Name: s, Rows: []itemRow{row}},
		}},
		{ID: s, Path: s},
	}
}

// TestListingEscapes: names with markup, quotes, entities and links of
// other schemes come out as html/template writes them.
func TestListingEscapes(t *testing.T) {
	for _, s := range []string{
		"", "plain", "<b>x</b>", `"><script>alert(1)</script>`, "a > b & c < d", "it's", "a+b",
		"&amp;", "\x00", "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
		"java\nscript:alert(1)", "data:text/html,<script>", "vbscript:x", "http://ok/a b", "HTTPS://ok/",
		"mailto:a@b", "a/javascript:alert(5)", "noble/amd64/20250709/squashfs", "%41%zz%", "100%", "ü/ß?x=1&y=2#f",
		"\xff\xfe", "\u2028", "\uFDD0", "{{.ID}}",
	} {
		cids := hostileCatalog(s, 1363148)
		if got, want := string(listing(cids)), reference(t, cids); got != want {
			t.Errorf("listing of %q:\n%s\nhtml/template gives:\n%s", s, got, want)
		}
	}
	if got := string(listing(hostileCatalog("javascript:alert(1)", 1))); strings.Contains(got, `href="javascript`) {
		t.Errorf("a link runs script: %s", got)
	}
}

// FuzzListing holds the listing to html/template's escaping for any
// field value.
func FuzzListing(f *testing.F) {
	f.Add("<script>alert(1)</script>", "javascript:alert(2)", int64(1))
	f.Add(`"'&+%2x`, "http://x/?a=b&c=d", int64(1<<40))
	f.Fuzz(func(t *testing.T, s, path string, size int64) {
		cids := hostileCatalog(s, size)
		cids[0].Path = path
		cids[0].Products[0].Rows[0].Path = path
		if got, want := string(listing(cids)), reference(t, cids); got != want {
			t.Errorf("listing of %q, %q:\n%s\nhtml/template gives:\n%s", s, path, got, want)
		}
	})
}

// BenchmarkListing renders the listing of 10,000 items, and the same
// markup through html/template (allocs/op).
func BenchmarkListing(b *testing.B) {
	cids := hostileCatalog("com.example.bench:small:p000000:amd64", 2048)
	var rows []itemRow
	for range 10000 {
		rows = append(rows, itemRow{Version: "20250101.0", Name: "item0", Ftype: "bin", Path: "small/p000000/20250101.0/item0.bin",
			SHA256: "41efe1596d769504554a5003022c8cc9cd0f3bd882bb93b798c36e7fc2ee2b7f", Size: 2048, First: true, VersionRows: 1})
	}
	cids[0].Products[0].Rows = rows
	b.Run("listing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			listing(cids)
		}
	})
	b.Run("html/template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reference(b, cids)
		}
	})
}
