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

	"github.com/ssmirror/ssmirror/internal/par"
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
	page  *rowsOut
}

// rowsOut is where the products' rows go.
type rowsOut struct {
	// out is the page being written: the rows go straight into it, where
	// the template has got to (it writes as it goes).
	out *bytes.Buffer
	// made are the rows of every product, in page order (the template
	// asks for them in that order), made on every core a few products
	// ahead of the template.
	made *par.Pieces
}

type contentID struct {
	ID, Path, Datatype string
	Products           []productRows
	Items              int
	Bytes              int64
}

// Render renders the page. The rows of each product's table are made
// while the page is written, a few products ahead of it.
func Render(p Page) ([]byte, error) {
	var cids []contentID
	var items, size, n int
	var total int64
	for _, doc := range p.Catalog {
		n += doc.Len()
	}
	seen := make(map[string]bool, n)
	var b bytes.Buffer
	page := &rowsOut{out: &b}
	var order []productRows
	for _, cid := range catalog.SortedKeys(p.Catalog) {
		doc := p.Catalog[cid]
		c := contentID{ID: cid, Path: p.Paths[cid]}
		c.Datatype, _ = doc.Fields.String("datatype")
		for _, pname := range catalog.SortedKeys(doc.Products) {
			pr := productRows{Name: pname, doc: doc, page: page}
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
			order = append(order, pr)
		}
		cids = append(cids, c)
	}
	url := p.URL
	if url == "" {
		url = "https://MIRROR/PATH/"
	}
	b.Grow(8<<10 + size + size/16)
	page.made = par.Start(len(order), func(i int, buf []byte) []byte { return order[i].appendRows(buf) })
	defer page.made.Stop()
	err := tmpl.Execute(&b, struct {
		Page
		URL        string
		ContentIDs []contentID
		Items      int
		Bytes      int64
	}{p, url, cids, items, total})
	return b.Bytes(), err
}

// rows writes the rows of the product's table to the page: the next
// product's, in page order.
func (p productRows) rows() error {
	rows, _ := p.page.made.Next()
	p.page.out.Write(rows)
	return nil
}

// appendRows appends the rows of the product's table to b.
func (p productRows) appendRows(b []byte) []byte {
	first, last := true, ""
	p.doc.EachOf(p.Name, []string{"ftype"}, func(fl catalog.Flat) bool {
		row := itemRow{Version: fl.Version, Name: fl.Name, Ftype: fl.Attrs["ftype"], Path: fl.Item.Path, SHA256: fl.Item.SHA256,
			First: first || fl.Version != last}
		first, last = false, fl.Version
		if row.Path != "" {
			row.Size = plan.Bytes(fl.Item.Size)
		}
		b = row.append(b)
		return true
	})
	return b
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
