// Package browse renders a mirror's browse page: a static index.html at
// the mirror root that shows people what the mirror holds (content ids,
// products, versions, items with size and sha256 and links to the files),
// where it comes from and how to point MAAS and LXD or Incus at it. It
// needs no JavaScript. Everything taken from the catalog is HTML-escaped,
// so a hostile catalog cannot inject markup: the page is an html/template,
// and its listing of items, one row per item, is written by escapers that
// give what html/template gives for the same markup (text and attributes
// escaped, links of another scheme than http, https or mailto replaced).
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

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"bytes": func(n int64) string { return strconv.FormatInt(n, 10) },
	"human": plan.Bytes,
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
}).Parse(pageTemplate))

type itemRow struct {
	Version, Name, Ftype, Path, SHA256 string
	Size                               int64
	First                              bool // the version's first row
	VersionRows                        int
}

type productRows struct {
	Name  string
	Attrs string // a few identifying attributes
	Rows  []itemRow
}

type contentID struct {
	ID, Path, Datatype string
	Products           []productRows
	Items              int
	Bytes              int64
}

// Render renders the page.
func Render(p Page) ([]byte, error) {
	var cids []contentID
	var items int
	var total int64
	seen := map[string]bool{}
	for _, cid := range catalog.SortedKeys(p.Catalog) {
		doc := p.Catalog[cid]
		c := contentID{ID: cid, Path: p.Paths[cid]}
		c.Datatype, _ = doc.Fields.String("datatype")
		byProduct := map[string]*productRows{}
		var order []string
		versionStart := map[string]int{} // product/version -> index of its first row
		doc.Each(func(fl catalog.Flat) bool {
			pr := byProduct[fl.Product]
			if pr == nil {
				pr = &productRows{Name: fl.Product, Attrs: describe(fl.Attrs)}
				byProduct[fl.Product] = pr
				order = append(order, fl.Product)
			}
			row := itemRow{Version: fl.Version, Name: fl.Name, Ftype: fl.Attrs["ftype"], Path: fl.Item.Path, Size: fl.Item.Size, SHA256: fl.Item.SHA256}
			key := fl.Product + "\x00" + fl.Version
			if i, ok := versionStart[key]; ok {
				pr.Rows[i].VersionRows++
			} else {
				versionStart[key] = len(pr.Rows)
				row.First, row.VersionRows = true, 1
			}
			pr.Rows = append(pr.Rows, row)
			if fl.Item.Path != "" {
				c.Items++
				c.Bytes += fl.Item.Size
				if !seen[fl.Item.Path] {
					seen[fl.Item.Path] = true
					items++
					total += fl.Item.Size
				}
			}
			return true
		})
		for _, name := range order {
			c.Products = append(c.Products, *byProduct[name])
		}
		cids = append(cids, c)
	}
	url := p.URL
	if url == "" {
		url = "https://MIRROR/PATH/"
	}
	var b bytes.Buffer
	err := tmpl.Execute(&b, struct {
		Page
		URL     string
		Listing template.HTML
		Items   int
		Bytes   int64
	}{p, url, listing(cids), items, total})
	return b.Bytes(), err
}

// listing renders the content ids' products and items: for each, an h2
// with the id, a line with its files and products file, then per product
// an h3, its attributes and a table of its items.
func listing(cids []contentID) template.HTML {
	rows := 0
	for _, c := range cids {
		for _, p := range c.Products {
			rows += len(p.Rows)
		}
	}
	w := &writer{b: make([]byte, 0, 512*len(cids)+256*rows)}
	for _, c := range cids {
		w.raw("\n<h2 class=\"content-id\" id=\"").text(c.ID).raw("\">").text(c.ID).raw("</h2>\n<p>")
		if c.Datatype != "" {
			w.text(c.Datatype).raw(": ")
		}
		w.int(int64(c.Items)).raw(" files, ").text(plan.Bytes(c.Bytes)).raw("; products file <a href=\"").url(c.Path).raw("\">").text(c.Path).raw("</a></p>")
		for _, p := range c.Products {
			w.raw("\n<h3 class=\"product\">").text(p.Name).raw("</h3>")
			if p.Attrs != "" {
				w.raw("\n<p class=\"attrs\">").text(p.Attrs).raw("</p>")
			}
			w.raw("\n<table>\n<thead><tr><th>Version</th><th>Item</th><th>Type</th><th>Size</th><th>SHA-256</th></tr></thead>\n<tbody>")
			for _, r := range p.Rows {
				w.raw("\n<tr class=\"item\"><td class=\"version\">")
				if r.First {
					w.text(r.Version)
				}
				w.raw("</td><td>")
				if r.Path != "" {
					w.raw("<a href=\"").url(r.Path).raw("\">").text(r.Name).raw("</a>")
				} else {
					w.text(r.Name)
				}
				w.raw("</td><td>").text(r.Ftype).raw("</td><td class=\"size\">")
				if r.Path != "" {
					w.text(plan.Bytes(r.Size))
				}
				w.raw("</td><td class=\"sha\">").text(r.SHA256).raw("</td></tr>")
			}
			w.raw("\n</tbody>\n</table>")
		}
	}
	return template.HTML(w.b)
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
