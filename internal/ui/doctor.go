package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/target"
)

// doctorJSON is doctor --json's document.
type doctorJSON struct {
	target.Probe
	Degraded []mirror.Degradation `json:"degraded"`
}

// WriteDoctor prints a probe as tables, or with asJSON as one indented
// JSON document that adds what a sync does without each capability
// found missing.
func WriteDoctor(w io.Writer, p target.Probe, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doctorJSON{Probe: p, Degraded: mirror.Degradations(p)})
	}
	fmt.Fprintf(w, "store     %s\n", p.Store)
	if p.Endpoint != "" {
		fmt.Fprintf(w, "endpoint  %s\n", p.Endpoint)
		fmt.Fprintf(w, "server    %s\n", orDash(p.Server))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(p.Checks) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "CHECK\tWANT\tGOT\tOK")
		for _, c := range p.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Want, c.Got, YesNo(c.OK))
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "CAPABILITY\tFOUND\tSSMIRROR")
	for _, c := range CapabilityRows(p.Capabilities) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, YesNo(c.OK), c.Does)
	}
	return tw.Flush()
}

// YesNo is "yes" or "no".
func YesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// CapabilityRow is a line of the capability table.
type CapabilityRow struct {
	Name string // the capability
	OK   bool   // found
	Does string // what ssmirror does, with it or without
}

// CapabilityRows says, for each capability, what ssmirror does with what
// was found.
func CapabilityRows(c target.Capabilities) []CapabilityRow {
	rows := []CapabilityRow{
		{"conditional writes", c.ConditionalWrites, "lease and index swap with If-None-Match/If-Match"},
		{"x-amz-checksum-sha256", c.ChecksumSHA256, "single PUTs carry the catalog's SHA-256; the server refuses a wrong body"},
		{"Content-MD5", c.ContentMD5, "verified by the server where the checksum header is not"},
		{"start-after", c.StartAfter, "the listing runs in parallel ranges"},
		{"metadata", c.Metadata, "Cache-Control and the recorded SHA-256 kept with each object"},
	}
	if !c.ConditionalWrites {
		rows[0].Does = "sync refused unless --single-writer; then the lease is advisory"
	}
	if !c.ChecksumSHA256 {
		rows[1].Does = "not sent: single PUTs and parts carry Content-MD5"
		if !c.ContentMD5 {
			rows[1].Does = "not sent; only ssmirror's own streaming verification checks uploads"
		}
	}
	if !c.StartAfter {
		rows[3].Does = "the listing runs sequentially, in one pass"
	}
	if !c.Metadata {
		rows[4].Does = "objects lose Cache-Control; adoption after a crash re-copies them"
	}
	return rows
}
