// Package buildinfo says which build of ssmirror is running: the release
// a packager stamped in, else the module version, the commit and its time,
// the Go version and the platform. It reads only the build information
// the Go toolchain embeds; the version command prints it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info says which build of ssmirror is running.
type Info struct {
	Version   string `json:"version"`            // module version, or "devel"
	Revision  string `json:"revision,omitempty"` // VCS commit, when recorded
	Time      string `json:"time,omitempty"`     // VCS commit time, when recorded
	Modified  bool   `json:"modified,omitempty"` // the working tree had uncommitted changes
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// Read reads the version from the build information the Go toolchain
// embeds (bi, if ok): the main module's version ("devel" for a build from
// a source tree) and the vcs.* settings (absent with -buildvcs=false). A
// stamped release (the packager's, "" for none) wins over the module
// version.
func Read(stamped string, bi *debug.BuildInfo, ok bool) Info {
	v := Info{Version: "devel", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if stamped != "" {
		v.Version = stamped
	}
	if !ok {
		return v
	}
	if mv := bi.Main.Version; stamped == "" && mv != "" && mv != "(devel)" {
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
func (v Info) String() string {
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
