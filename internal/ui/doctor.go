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
	if p.Kind == target.KindDirectory {
		fmt.Fprintf(w, "kind      a local directory: no HTTP API to probe; the file system calls it rests on are checked\n")
	}
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
	for _, c := range CapabilityRows(p.Kind, p.Capabilities) {
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
// was found on a store of kind (target.KindS3, target.KindDirectory).
func CapabilityRows(kind string, c target.Capabilities) []CapabilityRow {
	if kind == target.KindDirectory {
		// No HTTP headers: what a directory rests on instead.
		return []CapabilityRow{
			row("conditional writes", c.ConditionalWrites,
				"lease and index swap: link(2) to a new name, rename(2) under flock(2) to replace one",
				"sync refused, and --single-writer does not help: the lease itself is written with link(2); put the mirror on a file system with link(2) and flock(2)"),
			row("verified writes", c.ChecksumSHA256 && c.ContentMD5,
				"each file is written to a temporary name, its size and checksum checked, fsynced, then renamed", ""),
			row("listing", c.StartAfter, "one walk of the directory tree", ""),
			row("extended attributes", c.Metadata,
				"the SHA-256 each write verified kept with the file (user.ssmirror.sha256): a killed run's files are adopted, not copied again",
				"the verified SHA-256 is not kept with the file: adoption after a crash copies again; HTTP headers are the web server's in any case"),
		}
	}
	noChecksum := "not sent: single PUTs and parts carry Content-MD5; objects larger than a part are multipart uploads, not streamed"
	if !c.ContentMD5 {
		noChecksum = "not sent; only ssmirror's own streaming verification checks uploads"
	}
	return []CapabilityRow{
		row("conditional writes", c.ConditionalWrites,
			"lease and index swap with If-None-Match/If-Match", "sync refused unless --single-writer; then the lease is advisory"),
		row("x-amz-checksum-sha256", c.ChecksumSHA256,
			"single PUTs carry the catalog's SHA-256; the server refuses a wrong body; objects up to --multipart-threshold stream in one PUT", noChecksum),
		row("Content-MD5", c.ContentMD5,
			"verified by the server where the checksum header is not", "the server does not check it: not relied on"),
		row("start-after", c.StartAfter, "the listing runs in parallel ranges", "the listing runs sequentially, in one pass"),
		row("metadata", c.Metadata,
			"Cache-Control and the recorded SHA-256 kept with each object", "objects lose Cache-Control; adoption after a crash re-copies them"),
	}
}

// row is a CapabilityRow that says yes where ok, else no.
func row(name string, ok bool, yes, no string) CapabilityRow {
	if ok {
		return CapabilityRow{name, ok, yes}
	}
	return CapabilityRow{name, ok, no}
}
