// Package browse renders a mirror's browse page: a static index.html at
// the mirror root that shows people what the mirror holds (content ids,
// products, versions, items with size and sha256 and links to the files),
// where it comes from and how to point MAAS and LXD or Incus at it. It
// needs no JavaScript. Everything taken from the catalog is HTML-escaped
// (html/template), so a hostile catalog cannot inject markup.
//
// It only renders; the planner decides when the page is published.
package browse

import (
	"bytes"
	_ "embed"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source/catalog"
)

// Page is what the browse page shows: a publication of the planner, and
// what only the command line knows.
type Page struct {
	plan.Publication
	// Generator names the program ("ssmirror v1.2.0").
	Generator string
	// URL is where clients reach the mirror, if known ("" shows
	// placeholders).
	URL string
}

//go:embed page.html.tmpl
var pageTemplate string

//go:embed row.html.tmpl
var rowTemplate string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"bytes": func(n int64) string { return strconv.FormatInt(n, 10) },
	"human": plan.Bytes,
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"rows":  func(p productRows) (template.HTML, error) { return "", p.rows() },
}).Parse(pageTemplate))

// rowTmpl renders one item row; writeRow writes the same markup directly
// for rows whose text needs no escaping.
var rowTmpl = template.Must(template.New("row").Parse(rowTemplate))

type itemRow struct {
	Version, Name, Ftype, Path, SHA256 string
	Size                               string // human-readable
	First                              bool   // the version's first row
}

type productRows struct {
	Name  string
	Attrs string // a few identifying attributes
	doc   *catalog.Products
	// out is the page being written: the rows go straight into it, where
	// the template has got to (it writes as it goes).
	out *bytes.Buffer
}

type contentID struct {
	ID, Path, Datatype string
	Products           []productRows
	Items              int
	Bytes              int64
}

// Render renders the page. The rows of each product's table are made
// while the page is written, one product at a time.
func Render(p Page) ([]byte, error) {
	var cids []contentID
	var items, size int
	var total int64
	seen := map[string]bool{}
	var b bytes.Buffer
	for _, cid := range catalog.SortedKeys(p.Catalog) {
		doc := p.Catalog[cid]
		c := contentID{ID: cid, Path: p.Paths[cid]}
		c.Datatype, _ = doc.Fields.String("datatype")
		for _, pname := range catalog.SortedKeys(doc.Products) {
			pr := productRows{Name: pname, doc: doc, out: &b}
			size += 512 + 2*len(pname) // the product's heading and table
			doc.EachOf(pname, nil, func(fl catalog.Flat) bool {
				pr.Attrs = describe(fl.Attrs)
				return false
			})
			for _, v := range doc.Products[pname].Versions {
				for iname, it := range v.Items {
					size += 160 + len(iname) + len(it.Path) + len(it.SHA256) // the row's markup and text
					if it.Path == "" {
						continue
					}
					c.Items++
					c.Bytes += it.Size
					if !seen[it.Path] {
						seen[it.Path] = true
						items++
						total += it.Size
					}
				}
			}
			c.Products = append(c.Products, pr)
		}
		cids = append(cids, c)
	}
	url := p.URL
	if url == "" {
		url = "https://MIRROR/PATH/"
	}
	b.Grow(8<<10 + size + size/16)
	err := tmpl.Execute(&b, struct {
		Page
		URL        string
		ContentIDs []contentID
		Items      int
		Bytes      int64
	}{p, url, cids, items, total})
	return b.Bytes(), err
}

// rows writes the rows of the product's table to the page.
func (p productRows) rows() error {
	var err error
	first, last := true, ""
	p.doc.EachOf(p.Name, []string{"ftype"}, func(fl catalog.Flat) bool {
		row := itemRow{Version: fl.Version, Name: fl.Name, Ftype: fl.Attrs["ftype"], Path: fl.Item.Path, SHA256: fl.Item.SHA256,
			First: first || fl.Version != last}
		first, last = false, fl.Version
		if row.Path != "" {
			row.Size = plan.Bytes(fl.Item.Size)
		}
		if row.plain() {
			row.write(p.out)
		} else {
			err = rowTmpl.Execute(p.out, row)
		}
		return err == nil
	})
	return err
}

// plain reports whether the row's text comes out of rowTmpl unchanged:
// no byte that HTML escaping changes, and a path of plain URL bytes
// (no scheme, nothing to percent-encode).
func (r itemRow) plain() bool {
	const htmlSpecial = "\x00\"&'+<>"
	for _, s := range [...]string{r.Version, r.Name, r.Ftype, r.Size, r.SHA256} {
		if strings.ContainsAny(s, htmlSpecial) {
			return false
		}
	}
	for i := 0; i < len(r.Path); i++ {
		c := r.Path[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._~/-", c) >= 0) {
			return false
		}
	}
	return true
}

// write writes the row as rowTmpl renders a plain row.
func (r itemRow) write(b *bytes.Buffer) {
	b.WriteString(`
<tr class="item"><td class="version">`)
	if r.First {
		b.WriteString(r.Version)
	}
	b.WriteString(`</td><td>`)
	if r.Path != "" {
		b.WriteString(`<a href="`)
		b.WriteString(r.Path)
		b.WriteString(`">`)
		b.WriteString(r.Name)
		b.WriteString(`</a>`)
	} else {
		b.WriteString(r.Name)
	}
	b.WriteString(`</td><td>`)
	b.WriteString(r.Ftype)
	b.WriteString(`</td><td class="size">`)
	if r.Path != "" {
		b.WriteString(r.Size)
	}
	b.WriteString(`</td><td class="sha">`)
	b.WriteString(r.SHA256)
	b.WriteString(`</td></tr>`)
}

// describe returns the attributes that tell products apart, as a line.
func describe(attrs map[string]string) string {
	var parts []string
	for _, k := range []string{"os", "release", "release_title", "arch", "subarch", "kflavor", "variant", "aliases"} {
		if v := attrs[k]; v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}
