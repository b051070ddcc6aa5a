package plan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// WriteText prints the plan for a person: one line per item added (+) or
// removed (-) with content id, product, version, item, path, size and the
// reason, the deletes, the metadata to publish, the objects kept because
// this tool did not write them, then the warnings and the totals.
func (p *Plan) WriteText(out io.Writer) error {
	// tabwriter writes every cell separately: buffer them.
	w := bufio.NewWriterSize(out, 64<<10)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	// A plan can list 100,000 items: lines are assembled without fmt.
	var line []byte
	for _, c := range p.Changes {
		line = append(append(line[:0], c.Action.String()...), ' ')
		for _, cell := range [...]string{c.Product, c.Version, c.Item, c.Path, Bytes(c.Size)} {
			line = append(append(line, cell...), '\t')
		}
		line = append(append(append(line, '('), c.Reason...), ")\n"...)
		tw.Write(line)
	}
	for _, d := range p.Deletes {
		fmt.Fprintf(tw, "delete %s\t%s\t(%s)\n", d.Path, Bytes(d.Size), d.Reason)
	}
	for _, m := range p.Retract {
		fmt.Fprintf(tw, "publish %s\t%s\t(first: withdraws what is overwritten in place)\n", m.Key, Bytes(m.Size))
	}
	for _, m := range p.Publish {
		kind := "rewritten"
		if m.Verbatim {
			kind = "upstream, verbatim"
		}
		fmt.Fprintf(tw, "publish %s\t%s\t(%s)\n", m.Key, Bytes(m.Size), kind)
	}
	for _, k := range p.Kept {
		fmt.Fprintf(tw, "keep %s\t%s\t(%s)\n", k.Path, Bytes(k.Size), k.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, msg := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", msg)
	}
	t := p.Totals()
	fmt.Fprintf(w, "total: transfer %d objects (%s), delete %d objects (%s), publish %d metadata files\n",
		t.TransferObjects, Bytes(t.TransferBytes), t.DeleteObjects, Bytes(t.DeleteBytes), t.Metadata)
	return w.Flush()
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
