package ui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source/catalog"
)

// ListRecord is the JSON form of one item: its flattened attributes with
// path, size and sha256 from the item itself.
func ListRecord(fl catalog.Flat) map[string]any {
	rec := make(map[string]any, len(fl.Attrs)+3)
	for k, v := range fl.Attrs {
		rec[k] = v
	}
	if fl.Item.Path != "" {
		rec["path"] = fl.Item.Path
		rec["size"] = fl.Item.Size
	}
	if fl.Item.SHA256 != "" {
		rec["sha256"] = fl.Item.SHA256
	}
	return rec
}

// WriteListFormat prints a line per item in format; an item the format
// does not fit stops the listing, naming the item.
func WriteListFormat(w io.Writer, rows []catalog.Flat, format *catalog.Format) error {
	bw := bufio.NewWriter(w)
	for _, fl := range rows {
		line, err := format.Execute(ListRecord(fl))
		if err != nil {
			bw.Flush()
			return fmt.Errorf("item %s %s %s: %w", fl.Product, fl.Version, fl.Name, err)
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WriteListJSON prints one JSON object (ListRecord) per item and line.
func WriteListJSON(w io.Writer, rows []catalog.Flat) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, fl := range rows {
		if err := enc.Encode(ListRecord(fl)); err != nil {
			return err
		}
	}
	return nil
}

// WriteListPretty prints the items (ListRecord) as one indented JSON
// array, keys sorted.
func WriteListPretty(w io.Writer, rows []catalog.Flat) error {
	recs := make([]map[string]any, len(rows))
	for i, fl := range rows {
		recs[i] = ListRecord(fl)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(recs)
}

// WriteListTable prints a row per item: PRODUCT VERSION ITEM FTYPE SIZE
// PATH, after a CONTENT ID column when a product name appears under
// several content ids.
func WriteListTable(w io.Writer, rows []catalog.Flat) error {
	withCID := productsRepeat(rows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "PRODUCT\tVERSION\tITEM\tFTYPE\tSIZE\tPATH"
	if withCID {
		header = "CONTENT ID\t" + header
	}
	fmt.Fprintln(tw, header)
	for _, fl := range rows {
		size, path := "-", "-"
		if fl.Item.Path != "" {
			size, path = plan.Bytes(fl.Item.Size), fl.Item.Path
		}
		ftype := fl.Attrs["ftype"]
		if ftype == "" {
			ftype = "-"
		}
		line := strings.Join([]string{fl.Product, fl.Version, fl.Name, ftype, size, path}, "\t")
		if withCID {
			line = fl.Attrs["content_id"] + "\t" + line
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// productsRepeat reports whether a product name appears under more than
// one content id among rows.
func productsRepeat(rows []catalog.Flat) bool {
	cidOf := map[string]string{}
	for _, fl := range rows {
		cid := fl.Attrs["content_id"]
		if prev, ok := cidOf[fl.Product]; ok && prev != cid {
			return true
		}
		cidOf[fl.Product] = cid
	}
	return false
}
