package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/internal/buildinfo"
)

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

// version is the release a packager stamps into the binary with
//
//	go build -ldflags "-X main.version=1.2.0" ./cmd/ssmirror
//
// It wins over the module version of the build information.
var version string

// buildVersion reads the version from the build information and the
// stamped version.
func buildVersion() buildinfo.Info {
	bi, ok := readBuildInfo()
	return buildinfo.Read(version, bi, ok)
}

// setVersion makes `ssmirror --version` print the line `ssmirror version`
// prints.
func setVersion(root *cobra.Command) {
	root.Version = buildVersion().String()
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
}

type versionOptions struct {
	json bool
}

// newVersionCommand returns the version command. Given the root command,
// it also sets the root's version (setVersion), so that --version works.
func newVersionCommand(root *cobra.Command) *cobra.Command {
	if root != nil {
		setVersion(root)
	}
	var o versionOptions
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of ssmirror",
		Long: `Print the version of ssmirror: the release stamped in by the packager, else the
module version ("devel" for a build from a source tree), the commit and its time when the build recorded them, and the Go
version and platform. --json prints them as one JSON object with the fields
version, revision, time, modified, go_version and platform.
ssmirror --version prints the same line.

Exit status: 0; 2 bad usage.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the version as JSON")
	return cmd
}

func runVersion(o versionOptions, stdout io.Writer) error {
	v := buildVersion()
	if o.json {
		return json.NewEncoder(stdout).Encode(v)
	}
	_, err := fmt.Fprintf(stdout, "ssmirror %s\n", v)
	return err
}
