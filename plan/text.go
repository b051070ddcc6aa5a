package plan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/ssmirror/ssmirror/internal/par"
)

// WriteText prints the plan for a person: one line per item added (+) or
// removed (-) with content id, product, version, item, path, size and the
// reason, the deletes, the metadata to publish, the objects kept because
// this tool did not write them, then the warnings and the totals.
//
// The table's columns are aligned as text/tabwriter aligns them, but
// measured in a first pass and written line by line in a second: a plan
// of a million items is not held as text. A table whose cells hold what
// tabwriter treats as structure (tabs, line breaks) goes through
// tabwriter itself. The measuring, and the making of the lines of a
// plain table, run on every core a block of lines at a time; the lines
// are written in order.
func (p *Plan) WriteText(out io.Writer) error {
	w := bufio.NewWriterSize(out, 64<<10)
	lines := p.numRows()
	blocks := (lines + rowBlock - 1) / rowBlock
	type measure struct {
		widths [5]int
		plain  bool
	}
	measured := make([]measure, blocks)
	par.Each(blocks, func(b int) {
		m := measure{plain: true}
		for j := b * rowBlock; j < min(lines, (b+1)*rowBlock); j++ {
			r := p.row(j)
			for i, c := range r.cells[:r.n] {
				n, ok := cellWidth(c)
				if i == 0 {
					n += len(r.lead)
				}
				m.widths[i] = max(m.widths[i], n)
				m.plain = m.plain && ok
			}
			_, ok := cellWidth(r.tail)
			m.plain = m.plain && ok
		}
		measured[b] = m
	})
	var widths [5]int
	plain := true
	for _, m := range measured {
		for i := range widths {
			widths[i] = max(widths[i], m.widths[i])
		}
		plain = plain && m.plain
	}
	if plain {
		made := par.Start(blocks, func(b int, line []byte) []byte {
			for j := b * rowBlock; j < min(lines, (b+1)*rowBlock); j++ {
				r := p.row(j)
				for i, c := range r.cells[:r.n] {
					n, _ := cellWidth(c)
					if i == 0 {
						line = append(line, r.lead...)
						n += len(r.lead)
					}
					line = append(line, c...)
					for range widths[i] + 1 - n {
						line = append(line, ' ')
					}
				}
				line = append(append(append(line, '('), r.tail...), ")\n"...)
			}
			return line
		})
		defer made.Stop()
		for block, ok := made.Next(); ok; block, ok = made.Next() {
			w.Write(block)
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
		for j := range lines {
			r := p.row(j)
			io.WriteString(tw, r.lead)
			for _, c := range r.cells[:r.n] {
				io.WriteString(tw, c)
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, "("+r.tail+")\n")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, msg := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", msg)
	}
	t := p.Totals()
	fmt.Fprintf(w, "total: transfer %d objects (%s), delete %d objects (%s), publish %d metadata files\n",
		t.TransferObjects, Bytes(t.TransferBytes), t.DeleteObjects, Bytes(t.DeleteBytes), t.Metadata)
	return w.Flush()
}

// cellWidth returns the width of a cell as tabwriter measures it (in
// runes), and whether tabwriter takes it as plain text.
func cellWidth(s string) (int, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			return utf8.RuneCountInString(s), !strings.ContainsAny(s, tabwriterBytes)
		case c == '\t' || c == '\n' || c == '\v' || c == '\f':
			return len(s), false
		}
	}
	return len(s), true
}

// tabwriterBytes are the bytes text/tabwriter treats as structure: cell
// and line ends, and its escape character.
const tabwriterBytes = "\t\n\v\f\xff"

// row is one line of the plan's table: n cells (lead is printed before
// the first) and the reason, printed in parentheses.
type row struct {
	lead  string
	cells [5]string
	n     int
	tail  string
}

// rowBlock is how many lines of the table WriteText makes at a time.
const rowBlock = 4096

// numRows returns the number of lines of the plan's table.
func (p *Plan) numRows() int {
	return len(p.Changes) + len(p.Deletes) + len(p.Retract) + len(p.Publish) + len(p.Kept)
}

// row returns line i of the plan's table: the changes, the deletes, the
// retraction, the metadata to publish, then the objects kept.
func (p *Plan) row(i int) row {
	if i < len(p.Changes) {
		c := &p.Changes[i]
		lead := "+ "
		if c.Action == Remove {
			lead = "- "
		}
		return row{lead: lead, cells: [5]string{c.Product, c.Version, c.Item, c.Path, Bytes(c.Size)}, n: 5, tail: c.Reason}
	}
	if i -= len(p.Changes); i < len(p.Deletes) {
		d := &p.Deletes[i]
		return row{lead: "delete ", cells: [5]string{d.Path, Bytes(d.Size)}, n: 2, tail: d.Reason}
	}
	if i -= len(p.Deletes); i < len(p.Retract) {
		m := &p.Retract[i]
		return row{lead: "publish ", cells: [5]string{m.Key, Bytes(m.Size)}, n: 2, tail: "first: withdraws what is overwritten in place"}
	}
	if i -= len(p.Retract); i < len(p.Publish) {
		m := &p.Publish[i]
		kind := "rewritten"
		if m.Verbatim {
			kind = "upstream, verbatim"
		}
		return row{lead: "publish ", cells: [5]string{m.Key, Bytes(m.Size)}, n: 2, tail: kind}
	}
	k := &p.Kept[i-len(p.Publish)]
	return row{lead: "keep ", cells: [5]string{k.Path, Bytes(k.Size)}, n: 2, tail: k.Reason}
}

// MarshalJSON renders the plan with its totals.
func (p *Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	return json.Marshal(struct {
		*plain
		Totals Totals `json:"totals"`
	}{(*plain)(p), p.Totals()})
}

// Bytes formats a byte count with binary units: 0 B, 1023 B, 1.0 KiB,
// 11.2 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + "KMGTPE"[exp:exp+1] + "iB"
}

// Count returns "1 noun" or "n nouns".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
