package mirror

import (
	"strings"

	"github.com/ssmirror/ssmirror/target"
)

// Degradation is one thing a store lacks and what ssmirror does instead.
type Degradation struct {
	Short   string `json:"short"`   // e.g. "advisory lease"
	Message string `json:"message"` // the warning printed every run
}

// StoreName names a probed store for messages: its URL, endpoint and
// server.
func StoreName(p target.Probe) string {
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

// Degradations lists what a probed store lacks, and what a sync does
// instead, as it warns every run.
func Degradations(p target.Probe) []Degradation {
	name := StoreName(p)
	var d []Degradation
	dir := p.Kind == target.KindDirectory
	switch {
	case !p.ConditionalWrites && dir:
		d = append(d, Degradation{"advisory lease", name + ": link(2) or flock(2) fails on this file system, so the lease cannot be written nor the index swapped safely; put the mirror on a file system with both"})
	case !p.ConditionalWrites:
		d = append(d, Degradation{"advisory lease", name + " ignores conditional writes: the lease is advisory, and only --single-writer's promise keeps two publishers apart"})
	}
	if !p.ChecksumSHA256 {
		if p.ContentMD5 {
			d = append(d, Degradation{"Content-MD5 uploads", name + " does not enforce x-amz-checksum-sha256: uploads carry Content-MD5, which it verifies"})
		} else {
			d = append(d, Degradation{"unverified uploads", name + " verifies neither x-amz-checksum-sha256 nor Content-MD5: only the streaming verification checks uploads"})
		}
	}
	if !p.StartAfter {
		d = append(d, Degradation{"sequential listing", name + " ignores ListObjectsV2 start-after: the target is listed sequentially"})
	}
	switch {
	case !p.Metadata && dir:
		d = append(d, Degradation{"no metadata", name + " does not keep extended attributes (user.ssmirror.*): the SHA-256 each write verified is not recorded, and a killed run's files are copied again"})
	case !p.Metadata:
		d = append(d, Degradation{"no metadata", name + " does not keep user metadata or Cache-Control"})
	}
	return d
}

// Shorts returns the short names of ds.
func Shorts(ds []Degradation) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Short)
	}
	return s
}
