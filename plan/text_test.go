package plan

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
)

// TestBytes: binary units, switching at each power of 1024.
func TestBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{1<<20 - 1, "1024.0 KiB"}, {1 << 20, "1.0 MiB"}, {11<<20 + 200<<10, "11.2 MiB"},
		{1 << 30, "1.0 GiB"}, {1 << 40, "1.0 TiB"}, {1 << 50, "1.0 PiB"}, {1 << 60, "1.0 EiB"},
	} {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// TestWriteTextAligns: the table written line by line is the table
// text/tabwriter makes of the same cells (widths in runes, one space of
// padding, the first two columns shared with the delete, publish and keep
// lines), and cells that tabwriter would read as structure are printed
// as tabwriter prints them.
func TestWriteTextAligns(t *testing.T) {
	base := Plan{
		Changes: []Change{
			{Action: Add, Product: "p", Version: "20250101", Item: "kernel", Path: "a/b/kernel", Size: 1 << 20, Reason: "new"},
			{Action: Remove, Product: "produit-été:ü", Version: "1", Item: "ï", Path: "a/ï", Size: 10, Reason: "no longer selected"},
			{Action: Add, Product: "p2", Version: "v", Item: "an-item-with-a-long-name", Path: "x", Size: 0, Reason: "size differs (target has 3)"},
		},
		Deletes: []Delete{{Path: "a/very/long/path/that/is/wider/than/the/products", Size: 5 << 30, Reason: "unreferenced since 2025-07-24"}},
		Retract: []Meta{{Key: "streams/v1/x.json", Size: 12}},
		Publish: []Meta{{Key: IndexJSON, Size: 300}, {Key: "streams/v1/y.sjson", Size: 7, Verbatim: true}},
		Kept:    []Kept{{Path: "foreign", Size: 1, Reason: "kept, not ours"}},
	}
	odd := base
	odd.Changes = append([]Change{{Action: Add, Product: "tab\there", Version: "line\nbreak", Item: "i", Path: "p", Size: 1, Reason: "new"}}, base.Changes...)
	// Tables of several blocks of lines (WriteText measures and makes
	// them a block at a time): the widest cell, or one that tabwriter
	// reads as structure, in the last block sets the whole table.
	many := base
	many.Changes = nil
	for i := range 3*rowBlock + 5 {
		many.Changes = append(many.Changes, Change{Action: Add, Product: fmt.Sprintf("p%d", i), Version: "v", Item: "i", Path: fmt.Sprintf("x/%d", i), Size: int64(i), Reason: "new"})
	}
	many.Changes[len(many.Changes)-1].Version = "the-widest-version-of-all"
	manyOdd := many
	manyOdd.Changes = append(slices.Clone(many.Changes), Change{Action: Add, Product: "tab\there", Version: "v", Item: "i", Path: "p", Size: 1, Reason: "new"})
	for name, p := range map[string]*Plan{"plain": &base, "odd cells": &odd, "empty": {}, "many": &many, "many, odd last": &manyOdd} {
		var got, want bytes.Buffer
		if err := p.WriteText(&got); err != nil {
			t.Fatal(err)
		}
		tw := tabwriter.NewWriter(&want, 0, 0, 1, ' ', 0)
		for _, c := range p.Changes {
			fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t(%s)\n", c.Action, c.Product, c.Version, c.Item, c.Path, Bytes(c.Size), c.Reason)
		}
		for _, d := range p.Deletes {
			fmt.Fprintf(tw, "delete %s\t%s\t(%s)\n", d.Path, Bytes(d.Size), d.Reason)
		}
		for _, m := range p.Retract {
			fmt.Fprintf(tw, "publish %s\t%s\t(first: withdraws what is overwritten in place)\n", m.Key, Bytes(m.Size))
		}
		for _, m := range p.Publish {
			kind := map[bool]string{false: "rewritten", true: "upstream, verbatim"}[m.Verbatim]
			fmt.Fprintf(tw, "publish %s\t%s\t(%s)\n", m.Key, Bytes(m.Size), kind)
		}
		for _, k := range p.Kept {
			fmt.Fprintf(tw, "keep %s\t%s\t(%s)\n", k.Path, Bytes(k.Size), k.Reason)
		}
		tw.Flush()
		if table, _, _ := strings.Cut(got.String(), "total: "); table != want.String() {
			t.Errorf("%s:\n%s\nwant (as tabwriter aligns it):\n%s", name, table, want.String())
		}
	}
}
