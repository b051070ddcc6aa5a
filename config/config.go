// Package config holds the settings of a sync as plain structs with
// defaults and validation, and declares every setting once (Options): its
// config file key, its flag on each command, its environment variable and
// its help. It parses no flags and reads no files or environment: the
// command line (package cmd) generates its flags from Options and fills
// these structs, and library packages receive them already validated.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
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
const DefaultGCGrace = Duration(24 * time.Hour)

// The defaults of the retry settings: tries of a request or an item, the
// first wait between them, and how long a transfer may stall.
const (
	DefaultRetries     = 5
	DefaultRetryDelay  = Duration(time.Second)
	DefaultIdleTimeout = Duration(time.Minute)
)

// The defaults the stores and the publisher apply when a setting is left
// empty (0 or ""), as --help shows them: S3 parts of one object uploaded
// at once, and the Cache-Control of items and of metadata.
const (
	DefaultPartUploads          = 4
	DefaultItemCacheControl     = "public, max-age=31536000, immutable"
	DefaultMetadataCacheControl = "public, max-age=60"
)

// Sync is one mirror to keep: where from, where to, what.
type Sync struct {
	Source  string     `mapstructure:"source" json:"source"`
	Target  string     `mapstructure:"target" json:"target"`
	Filters filter.Set `mapstructure:"-" json:"filters"`
	Max     int        `mapstructure:"max" json:"max"`
	Keep    bool       `mapstructure:"keep" json:"keep"`

	// ItemMirrors are other places to fetch items from, at the same
	// relative paths, tried in order when the source fails (metadata
	// always comes from Source).
	ItemMirrors []string `mapstructure:"item_mirrors" json:"item_mirrors"`
	// UpstreamProxy is the proxy for http(s) sources and mirrors only (the
	// store does not use it); empty means the HTTPS_PROXY, HTTP_PROXY and
	// NO_PROXY environment variables decide, as for the store.
	UpstreamProxy string `mapstructure:"upstream_proxy" json:"upstream_proxy"`

	Keyrings  []string `mapstructure:"keyrings" json:"keyrings"`
	NoVerify  bool     `mapstructure:"no_verify" json:"no_verify"`
	AllowSHA1 bool     `mapstructure:"allow_sha1" json:"allow_sha1"`

	// SignedMetadata is upstream, resign or none; empty picks resign when
	// SignKey is set, else upstream for a signed source, else none.
	SignedMetadata     string `mapstructure:"signed_metadata" json:"signed_metadata"`
	SignKey            string `mapstructure:"sign_key" json:"sign_key"`
	SignPassphraseFile string `mapstructure:"sign_passphrase_file" json:"sign_passphrase_file"`
	// SignPassphrase is usually given as SSMIRROR_SIGN_PASSPHRASE.
	SignPassphrase Secret `mapstructure:"sign_passphrase" json:"sign_passphrase,omitempty"`
	// PublicURL is where clients reach the mirror (a CDN or the bucket's
	// web address); used in the instructions printed for MAAS and LXD.
	PublicURL string `mapstructure:"public_url" json:"public_url"`

	// Cache-Control headers of items and of metadata (index, products).
	ItemCacheControl     string `mapstructure:"item_cache_control" json:"item_cache_control"`
	MetadataCacheControl string `mapstructure:"metadata_cache_control" json:"metadata_cache_control"`

	// GCGrace is how long objects stay after the index that referenced
	// them was replaced.
	GCGrace Duration `mapstructure:"gc_grace" json:"gc_grace"`
	// Wait is how long to wait for another publisher's lease.
	Wait Duration `mapstructure:"wait" json:"wait"`

	// Retries is how many times a failing upstream request (or a whole
	// item) is tried before it counts as failed; RetryDelay the first
	// wait, doubled each time (capped at 30 s, with jitter); IdleTimeout
	// how long a transfer may make no progress before it is retried.
	Retries     int      `mapstructure:"retries" json:"retries"`
	RetryDelay  Duration `mapstructure:"retry_delay" json:"retry_delay"`
	IdleTimeout Duration `mapstructure:"idle_timeout" json:"idle_timeout"`
	// LowSpeed cuts and retries (resuming) a transfer that arrives slower
	// than a rate over a window; the zero value disables it.
	LowSpeed LowSpeed `mapstructure:"low_speed" json:"low_speed"`
	// BWLimit caps the total rate of upstream reads, all transfers
	// together; it may change with the time of day.
	BWLimit Timetable `mapstructure:"bwlimit" json:"bwlimit"`

	S3        S3   `mapstructure:"s3" json:"s3"`
	Transfers int  `mapstructure:"transfers" json:"transfers"`
	DryRun    bool `mapstructure:"dry_run" json:"dry_run"`
	// VerifyExisting reads back every selected object the target already
	// holds and checks its checksum; damaged ones are copied again.
	VerifyExisting bool `mapstructure:"verify_existing" json:"verify_existing"`
	// SingleWriter is the operator's promise that only one publisher of
	// the target ever runs: a store that ignores conditional writes is
	// then published to, with an advisory lease, instead of refused.
	SingleWriter bool `mapstructure:"single_writer" json:"single_writer"`

	// Path is the start file, relative to Source (sstream-mirror's
	// --path): streams/v1/NAME.sjson or .json. Empty: the one Source
	// names, else streams/v1/index.sjson.
	Path string `mapstructure:"path" json:"path,omitempty"`
	// NoItemDownload copies no item: the published metadata advance only
	// for what the target already holds (sstream-mirror's
	// --no-item-download, within the invariant).
	NoItemDownload bool `mapstructure:"no_item_download" json:"no_item_download"`
	// MetricsFile is where a run writes Prometheus text-format metrics
	// (for node_exporter's textfile collector); empty: none.
	MetricsFile string `mapstructure:"metrics_file" json:"metrics_file,omitempty"`
	// NoBrowsePage leaves out the browse page (index.html at the mirror
	// root).
	NoBrowsePage bool `mapstructure:"no_browse_page" json:"no_browse_page"`
}

// startPathRE is what Path may be.
var startPathRE = regexp.MustCompile(`^streams/v1/[A-Za-z0-9._:-]+\.(sjson|json)$`)

// Secret is a value that never appears in output: it prints, formats and
// marshals as "REDACTED" (or "" when empty).
type Secret string

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString implements fmt.GoStringer (for %#v).
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

// S3 holds how to reach an S3-compatible store. Credentials usually come
// from the standard chain (environment, ~/.aws/credentials, IAM); keys
// given here are tried first.
type S3 struct {
	Endpoint    string `mapstructure:"endpoint" json:"endpoint"`
	Region      string `mapstructure:"region" json:"region"`
	PathStyle   bool   `mapstructure:"path_style" json:"path_style"`
	Anonymous   bool   `mapstructure:"anonymous" json:"anonymous"`
	InsecureTLS bool   `mapstructure:"insecure_tls" json:"insecure_tls"`
	// CACert is a PEM file of certificate authorities to trust (S3 and
	// an HTTPS source) instead of the system's.
	CACert string `mapstructure:"cacert" json:"cacert,omitempty"`
	// PartSize is the multipart part size in bytes (0: the store's
	// default, 16 MiB, grown so an object needs at most 10,000 parts).
	PartSize Size `mapstructure:"part_size" json:"part_size"`
	// MultipartThreshold is the largest object uploaded in one PUT,
	// streamed when it is larger than a part (0: the store's default,
	// 256 MiB); larger objects are multipart uploads, resumable after a
	// cut.
	MultipartThreshold Size `mapstructure:"multipart_threshold" json:"multipart_threshold"`
	// PartUploads is the number of parts of one object uploaded at once
	// (0: the store's default, 4).
	PartUploads int `mapstructure:"part_uploads" json:"part_uploads"`
	// UploadMemory bounds the object data buffered for uploads at once,
	// across all transfers (0: the store's default, 48 MiB). A part or a
	// small object larger than it is still uploaded, alone.
	UploadMemory Size `mapstructure:"upload_memory" json:"upload_memory"`

	AccessKeyID     string `mapstructure:"access_key_id" json:"access_key_id,omitempty"`
	SecretAccessKey Secret `mapstructure:"secret_access_key" json:"secret_access_key,omitempty"`
	SessionToken    Secret `mapstructure:"session_token" json:"session_token,omitempty"`
}

// Size is a byte count that config files and flags may write with a unit
// ("16MiB"); see ParseSize.
type Size int64

// Duration is a time.Duration that prints as "24h0m0s".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String implements fmt.Stringer.
func (d Duration) String() string { return time.Duration(d).String() }

// LowSpeed is a minimum rate over a window, written RATE/DURATION
// ("10K/30s": at least 10 KiB a second over 30 seconds), as curl's
// --speed-limit and --speed-time. The zero value (written "" or "off")
// disables it.
type LowSpeed struct {
	Rate   Size // bytes per second
	Window Duration
}

// ParseLowSpeed parses RATE/DURATION, or "" or "off" for none.
func ParseLowSpeed(s string) (LowSpeed, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "off" {
		return LowSpeed{}, nil
	}
	bad := func(why string) (LowSpeed, error) {
		return LowSpeed{}, fmt.Errorf("%w: low speed %q: %s; want RATE/DURATION, e.g. 10K/30s", ErrInvalid, s, why)
	}
	rate, window, ok := strings.Cut(t, "/")
	if !ok {
		return bad("no /")
	}
	r, err := ParseSize(rate)
	if err != nil || r == 0 {
		return bad("the rate is not a positive number of bytes a second")
	}
	d, err := time.ParseDuration(strings.TrimSpace(window))
	if err != nil || d <= 0 {
		return bad("the duration is not positive")
	}
	return LowSpeed{Rate: r, Window: Duration(d)}, nil
}

// String implements fmt.Stringer: RATE/DURATION, or "off".
func (l LowSpeed) String() string {
	if l == (LowSpeed{}) {
		return "off"
	}
	return FormatSize(l.Rate) + "/" + l.Window.String()
}

// MarshalText implements encoding.TextMarshaler.
func (l LowSpeed) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// FormatSize writes a byte count as ParseSize reads it, with the largest
// binary unit that divides it: "16M", "1536K", "1000".
func FormatSize(n Size) string {
	for _, u := range []struct {
		suffix string
		mult   Size
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(int64(n/u.mult), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(n), 10)
}

// Default returns a Sync with default settings.
func Default() Sync {
	return Sync{Transfers: DefaultTransfers, GCGrace: DefaultGCGrace,
		Retries: DefaultRetries, RetryDelay: DefaultRetryDelay, IdleTimeout: DefaultIdleTimeout}
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
	case slices.Contains(s.ItemMirrors, ""):
		return bad("item_mirrors", "an empty location")
	case s.UpstreamProxy != "" && !validProxy(s.UpstreamProxy):
		return bad("upstream_proxy", "%q is not an http://, https:// or socks5:// URL with a host", s.UpstreamProxy)
	case s.Max < 0:
		return bad("max", "%d is negative", s.Max)
	case s.S3.PartSize != 0 && (s.S3.PartSize < 5<<20 || s.S3.PartSize > 5<<30):
		return bad("s3.part_size", "%d is not between 5 MiB and 5 GiB", s.S3.PartSize)
	case s.S3.MultipartThreshold < 0 || s.S3.MultipartThreshold > 5<<30:
		return bad("s3.multipart_threshold", "%d is not between 0 and 5 GiB", s.S3.MultipartThreshold)
	case s.S3.PartUploads < 0 || s.S3.PartUploads > 64:
		return bad("s3.part_uploads", "%d is not between 1 and 64", s.S3.PartUploads)
	case s.S3.UploadMemory < 0:
		return bad("s3.upload_memory", "%d is negative", s.S3.UploadMemory)
	case s.GCGrace < 0:
		return bad("gc_grace", "%s is negative", s.GCGrace)
	case s.Wait < 0:
		return bad("wait", "%s is negative", s.Wait)
	case s.Retries < 1 || s.Retries > 100:
		return bad("retries", "%d is not between 1 and 100", s.Retries)
	case s.RetryDelay < 0:
		return bad("retry_delay", "%s is negative", s.RetryDelay)
	case s.IdleTimeout < 0:
		return bad("idle_timeout", "%s is negative", s.IdleTimeout)
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
	case s.Path != "" && !startPathRE.MatchString(s.Path):
		return bad("path", "%q is not a start file streams/v1/NAME.sjson or .json, relative to the source", s.Path)
	}
	return s.S3.Validate()
}

// validProxy reports whether u is a proxy URL net/http can use.
func validProxy(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host != "" && (p.Scheme == "http" || p.Scheme == "https" || p.Scheme == "socks5")
}

// Validate checks the S3 settings and names the first bad one.
func (s *S3) Validate() error {
	if s.Endpoint != "" && !strings.HasPrefix(s.Endpoint, "http://") && !strings.HasPrefix(s.Endpoint, "https://") {
		return fmt.Errorf("%w: s3.endpoint: %q is not an http:// or https:// URL", ErrInvalid, s.Endpoint)
	}
	if s.CACert != "" && s.InsecureTLS {
		return fmt.Errorf("%w: s3.cacert contradicts s3.insecure_tls: give one or the other", ErrInvalid)
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		return fmt.Errorf("%w: s3.access_key_id and s3.secret_access_key: give both or neither", ErrInvalid)
	}
	return nil
}

// ParseSize parses a byte count: a plain number of bytes, or a number with
// a binary unit (K, M, G, T, optionally followed by "iB" or "B", all
// meaning powers of 1024): "16MiB", "5M", "1073741824".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		for _, form := range []string{u.suffix + "IB", u.suffix + "B", u.suffix} {
			if strings.HasSuffix(upper, form) {
				t, mult = strings.TrimSpace(t[:len(t)-len(form)]), u.mult
				goto parse
			}
		}
	}
	if strings.HasSuffix(upper, "B") {
		t = strings.TrimSpace(t[:len(t)-1])
	}
parse:
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%w: size %q: want a number of bytes, optionally with K, M, G or T", ErrInvalid, s)
	}
	return Size(n * mult), nil
}
