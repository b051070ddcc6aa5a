// Package browse renders a mirror's browse page: a static index.html at
// the mirror root that shows people what the mirror holds (content ids,
// products, versions, items with size and sha256 and links to the files),
// where it comes from and how to point MAAS and LXD or Incus at it. It
// needs no JavaScript. Everything taken from the catalog is HTML-escaped,
// so a hostile catalog cannot inject markup: the page is an html/template,
// and the item rows, written straight into it, are escaped by functions
// that give what html/template gives for the row's markup (row.html.tmpl;
// text and attributes escaped, links of another scheme than http, https
// or mailto replaced).
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
	"rows":  func(p productRows) (template.HTML, error) { return "", p.rows() },
}).Parse(pageTemplate))

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
	first, last := true, ""
	p.doc.EachOf(p.Name, []string{"ftype"}, func(fl catalog.Flat) bool {
		row := itemRow{Version: fl.Version, Name: fl.Name, Ftype: fl.Attrs["ftype"], Path: fl.Item.Path, SHA256: fl.Item.SHA256,
			First: first || fl.Version != last}
		first, last = false, fl.Version
		if row.Path != "" {
			row.Size = plan.Bytes(fl.Item.Size)
		}
		p.out.Write(row.append(p.out.AvailableBuffer()))
		return true
	})
	return nil
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
