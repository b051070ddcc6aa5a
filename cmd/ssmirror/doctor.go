package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/target"
)

// errUnsafeStore marks a target sync refuses: it lacks a feature that
// publishing safely needs, and the operator did not say it is safe
// (exit status 2, like a configuration error).
var errUnsafeStore = errors.New("store refused")

type doctorOptions struct {
	s3   config.S3
	json bool
}

func newDoctorCommand() *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor [flags] TARGET",
		Short: "Probe what an S3 store honours, and print what ssmirror does there",
		Long: `Probe what the store at TARGET honours, on scratch keys under .ssmirror/ that
are deleted afterwards: conditional writes (If-None-Match: * and If-Match on
PUT), the x-amz-checksum-sha256 header, Content-MD5, ListObjectsV2 start-after,
user metadata and Cache-Control. Print every check, then each capability and
what ssmirror does with or without it. The result is kept in the target
(.ssmirror/capabilities.json); sync probes once per endpoint and server and
reuses it. A directory honours everything.

` + exitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDoctor(cmd.Context(), o, args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the probe as JSON")
	addS3Flags(f, &o.s3)
	return cmd
}

func runDoctor(ctx context.Context, o doctorOptions, loc string, stdout io.Writer) error {
	dst, err := openTarget(ctx, loc, o.s3)
	if err != nil {
		return err
	}
	p, err := target.ProbeStore(ctx, dst, true)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doctorJSON{Probe: p, Degraded: degradations(p)})
	}
	return writeDoctor(stdout, p)
}

// doctorJSON is doctor --json's document.
type doctorJSON struct {
	target.Probe
	Degraded []degradation `json:"degraded"`
}

// writeDoctor prints a probe as tables.
func writeDoctor(w io.Writer, p target.Probe) error {
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Want, c.Got, yesNo(c.OK))
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "CAPABILITY\tFOUND\tSSMIRROR")
	for _, c := range capabilityRows(p.Capabilities) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.name, yesNo(c.ok), c.does)
	}
	return tw.Flush()
}

func yesNo(ok bool) string {
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

type capabilityRow struct {
	name string
	ok   bool
	does string
}

// capabilityRows says, for each capability, what ssmirror does with what
// was found.
func capabilityRows(c target.Capabilities) []capabilityRow {
	rows := []capabilityRow{
		{"conditional writes", c.ConditionalWrites, "lease and index swap with If-None-Match/If-Match"},
		{"x-amz-checksum-sha256", c.ChecksumSHA256, "single PUTs carry the catalog's SHA-256; the server refuses a wrong body"},
		{"Content-MD5", c.ContentMD5, "verified by the server where the checksum header is not"},
		{"start-after", c.StartAfter, "the listing runs in parallel ranges"},
		{"metadata", c.Metadata, "Cache-Control and the recorded SHA-256 kept with each object"},
	}
	if !c.ConditionalWrites {
		rows[0].does = "sync refused unless --single-writer; then the lease is advisory"
	}
	if !c.ChecksumSHA256 {
		rows[1].does = "not sent: single PUTs and parts carry Content-MD5"
		if !c.ContentMD5 {
			rows[1].does = "not sent; only ssmirror's own streaming verification checks uploads"
		}
	}
	if !c.StartAfter {
		rows[3].does = "the listing runs sequentially, in one pass"
	}
	if !c.Metadata {
		rows[4].does = "objects lose Cache-Control; adoption after a crash re-copies them"
	}
	return rows
}

// degradation is one thing a store lacks and what ssmirror does instead.
type degradation struct {
	Short   string `json:"short"`   // e.g. "advisory lease"
	Message string `json:"message"` // the warning printed every run
}

// storeName names a probed store for messages: its URL, endpoint and
// server.
func storeName(p target.Probe) string {
	var at []string
	if p.Endpoint != "" {
		at = append(at, p.Endpoint)
	}
	if p.Server != "" {
		at = append(at, "server "+p.Server)
	}
	if len(at) == 0 {
		return p.Store
	}
	return p.Store + " (" + strings.Join(at, ", ") + ")"
}

// degradations lists what a probed store lacks, and what a sync does
// instead, as it warns every run.
func degradations(p target.Probe) []degradation {
	name := storeName(p)
	var d []degradation
	if !p.ConditionalWrites {
		d = append(d, degradation{"advisory lease", name + " ignores conditional writes: the lease is advisory, and only --single-writer's promise keeps two publishers apart"})
	}
	if !p.ChecksumSHA256 {
		if p.ContentMD5 {
			d = append(d, degradation{"Content-MD5 uploads", name + " does not enforce x-amz-checksum-sha256: uploads carry Content-MD5, which it verifies"})
		} else {
			d = append(d, degradation{"unverified uploads", name + " verifies neither x-amz-checksum-sha256 nor Content-MD5: only the streaming verification checks uploads"})
		}
	}
	if !p.StartAfter {
		d = append(d, degradation{"sequential listing", name + " ignores ListObjectsV2 start-after: the target is listed sequentially"})
	}
	if !p.Metadata {
		d = append(d, degradation{"no metadata", name + " does not keep user metadata or Cache-Control"})
	}
	return d
}

// shorts returns the short names of ds.
func shorts(ds []degradation) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Short)
	}
	return s
}
