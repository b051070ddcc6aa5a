package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo says which build of ssmirror is running.
type versionInfo struct {
	Version   string `json:"version"`            // module version, or "devel"
	Revision  string `json:"revision,omitempty"` // VCS commit, when recorded
	Time      string `json:"time,omitempty"`     // VCS commit time, when recorded
	Modified  bool   `json:"modified,omitempty"` // the working tree had uncommitted changes
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

// version is the release a packager stamps into the binary with
//
//	go build -ldflags "-X main.version=1.2.0" ./cmd/ssmirror
//
// It wins over the module version of the build information.
var version string

// buildVersion reads the version from the build information the Go
// toolchain embeds: the main module's version ("devel" for a build from a
// source tree) and the vcs.* settings (absent with -buildvcs=false).
func buildVersion() versionInfo {
	v := versionInfo{Version: "devel", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if version != "" {
		v.Version = version
	}
	bi, ok := readBuildInfo()
	if !ok {
		return v
	}
	if mv := bi.Main.Version; version == "" && mv != "" && mv != "(devel)" {
		v.Version = mv
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String returns the version as one line without the program name, e.g.
// "v1.2.0 (revision 25e6b0c…, 2026-05-20T10:00:00Z; go1.26.8 linux/amd64)".
func (v versionInfo) String() string {
	var vcs []string
	if v.Revision != "" {
		rev := "revision " + v.Revision
		if v.Modified {
			rev += " (modified)"
		}
		vcs = append(vcs, rev)
	}
	if v.Time != "" {
		vcs = append(vcs, v.Time)
	}
	build := v.GoVersion + " " + v.Platform
	if len(vcs) > 0 {
		build = strings.Join(vcs, ", ") + "; " + build
	}
	return fmt.Sprintf("%s (%s)", v.Version, build)
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
