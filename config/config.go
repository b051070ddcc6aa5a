// Package config holds the settings of a sync as plain structs with
// defaults and validation. It knows nothing about flags, environment
// variables or files: the command line (package cmd) fills these structs,
// and library packages receive them already validated.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/plan/filter"
)

// ErrInvalid is wrapped by every validation error; the message names the
// setting.
var ErrInvalid = errors.New("invalid configuration")

// DefaultTransfers is the default number of concurrent transfers: enough
// to keep a store busy with small files, few enough for big images.
const DefaultTransfers = 8

// DefaultGCGrace is the default grace period before unreferenced objects
// are deleted: longer than clients cache an index (LXD: about an hour).
const DefaultGCGrace = 24 * time.Hour

// Sync is one mirror to keep: where from, where to, what.
type Sync struct {
	Source  string     `mapstructure:"source" json:"source"`
	Target  string     `mapstructure:"target" json:"target"`
	Filters filter.Set `mapstructure:"-" json:"filters"`
	Max     int        `mapstructure:"max" json:"max"`
	Keep    bool       `mapstructure:"keep" json:"keep"`

	Keyrings  []string `mapstructure:"keyrings" json:"keyrings"`
	NoVerify  bool     `mapstructure:"no_verify" json:"no_verify"`
	AllowSHA1 bool     `mapstructure:"allow_sha1" json:"allow_sha1"`

	// SignedMetadata is upstream, resign or none; empty picks resign when
	// SignKey is set, else upstream for a signed source, else none.
	SignedMetadata     string `mapstructure:"signed_metadata" json:"signed_metadata"`
	SignKey            string `mapstructure:"sign_key" json:"sign_key"`
	SignPassphraseFile string `mapstructure:"sign_passphrase_file" json:"sign_passphrase_file"`
	// PublicURL is where clients reach the mirror (a CDN or the bucket's
	// web address); used in the instructions printed for MAAS and LXD.
	PublicURL string `mapstructure:"public_url" json:"public_url"`

	// GCGrace is how long objects stay after the index that referenced
	// them was replaced.
	GCGrace time.Duration `mapstructure:"gc_grace" json:"gc_grace"`
	// Wait is how long to wait for another publisher's lease.
	Wait time.Duration `mapstructure:"wait" json:"wait"`

	S3        S3   `mapstructure:"s3" json:"s3"`
	Transfers int  `mapstructure:"transfers" json:"transfers"`
	DryRun    bool `mapstructure:"dry_run" json:"dry_run"`
}

// S3 holds how to reach an S3-compatible store. Credentials are not here:
// they come from the standard chain (environment, shared files, IAM).
type S3 struct {
	Endpoint    string `mapstructure:"endpoint" json:"endpoint"`
	Region      string `mapstructure:"region" json:"region"`
	PathStyle   bool   `mapstructure:"path_style" json:"path_style"`
	Anonymous   bool   `mapstructure:"anonymous" json:"anonymous"`
	InsecureTLS bool   `mapstructure:"insecure_tls" json:"insecure_tls"`
}

// Default returns a Sync with default settings.
func Default() Sync {
	return Sync{Transfers: DefaultTransfers, GCGrace: DefaultGCGrace}
}

// Validate checks the settings and names the first bad one.
func (s *Sync) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrInvalid, key}, a...)...)
	}
	switch {
	case strings.TrimSpace(s.Source) == "":
		return bad("source", "missing")
	case strings.TrimSpace(s.Target) == "":
		return bad("target", "missing")
	case s.Max < 0:
		return bad("max", "%d is negative", s.Max)
	case s.GCGrace < 0:
		return bad("gc_grace", "%s is negative", s.GCGrace)
	case s.Wait < 0:
		return bad("wait", "%s is negative", s.Wait)
	case s.Transfers < 1 || s.Transfers > 1024:
		return bad("transfers", "%d is not between 1 and 1024", s.Transfers)
	case s.NoVerify && len(s.Keyrings) > 0:
		return bad("no_verify", "contradicts keyrings: give one or the other")
	case s.SignedMetadata != "" && s.SignedMetadata != "upstream" && s.SignedMetadata != "resign" && s.SignedMetadata != "none":
		return bad("signed_metadata", "%q is not upstream, resign or none", s.SignedMetadata)
	case s.SignedMetadata == "resign" && s.SignKey == "":
		return bad("signed_metadata", "resign needs sign_key (--sign-key)")
	case s.SignKey != "" && (s.SignedMetadata == "upstream" || s.SignedMetadata == "none"):
		return bad("sign_key", "is only used with signed_metadata resign")
	}
	if s.S3.Endpoint != "" && !strings.HasPrefix(s.S3.Endpoint, "http://") && !strings.HasPrefix(s.S3.Endpoint, "https://") {
		return bad("s3.endpoint", "%q is not an http:// or https:// URL", s.S3.Endpoint)
	}
	return nil
}
