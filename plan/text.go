package plan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText prints the plan for a person: one line per item added (+) or
// removed (-) with content id, product, version, item, path, size and the
// reason, then the metadata to publish and the totals.
func (p *Plan) WriteText(out io.Writer) error {
	// tabwriter writes every cell separately: buffer them.
	w := bufio.NewWriterSize(out, 64<<10)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, c := range p.Changes {
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t(%s)\n", c.Action, c.Product, c.Version, c.Item, c.Path, Bytes(c.Size), c.Reason)
	}
	for _, d := range p.Deletes {
		fmt.Fprintf(tw, "delete %s\t%s\t(%s)\n", d.Path, Bytes(d.Size), d.Reason)
	}
	for _, m := range p.Publish {
		kind := "rewritten"
		if m.Verbatim {
			kind = "upstream, verbatim"
		}
		fmt.Fprintf(tw, "publish %s\t%s\t(%s)\n", m.Key, Bytes(m.Size), kind)
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
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
