package config

import (
	"slices"
	"strings"
	"time"
)

// EnvPrefix starts the name of every setting's environment variable.
const EnvPrefix = "SSMIRROR"

// DefaultKeyring is where Ubuntu installs the cloud-image keyring; it is
// used for signed sources when no keyring is given, as the reference tool
// and MAAS do.
const DefaultKeyring = "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg"

// Type is the kind of value an option's flag takes.
type Type int

// The kinds of flag values.
const (
	TypeString Type = iota // text, also sizes, rates and timetables parsed later
	TypeBool
	TypeInt      // a number
	TypeStrings  // a repeatable flag, a list in a config file
	TypeDuration // a time.Duration such as 90s or 24h
)

// The commands whose flags the option table generates. CmdSync stands for
// sync, plan and config show, which share their flags.
const (
	CmdSync   = "sync"
	CmdList   = "list"
	CmdVerify = "verify"
	CmdGC     = "gc"
	CmdStatus = "status"
	CmdDoctor = "doctor"
)

// Option is one setting: its key in a config file (dotted, "s3.endpoint"),
// which is also the field of Sync it fills, and, if it has one, the flag
// that sets it on the commands listed. Its environment variable is Env().
type Option struct {
	Key      string
	Flag     string // "" for a setting of config files and the environment only
	Short    string // one-letter shorthand of Flag, or ""
	Type     Type
	Default  any    // the flag's default as --help shows it: bool, int, string, []string or time.Duration
	Help     string // the flag's help
	Commands []string
	// HelpFor holds a command's own help text where it differs from Help.
	HelpFor map[string]string
}

// Env is the option's environment variable: SSMIRROR_ and the key in
// capitals, dots replaced by underscores (SSMIRROR_S3_ENDPOINT).
func (o Option) Env() string { return EnvVar(o.Key) }

// EnvVar is the environment variable of the setting key.
func EnvVar(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// On reports whether the option's flag is on the command.
func (o Option) On(command string) bool {
	return o.Flag != "" && slices.Contains(o.Commands, command)
}

// HelpOn is the option's help on the command.
func (o Option) HelpOn(command string) string {
	if h, ok := o.HelpFor[command]; ok {
		return h
	}
	return o.Help
}

var (
	allCommands = []string{CmdSync, CmdList, CmdVerify, CmdGC, CmdStatus, CmdDoctor}
	syncOnly    = []string{CmdSync}
)

// Options is every setting, once. The command line generates its flags,
// environment variables and the keys config files may hold from it.
var Options = []Option{
	{Key: "source"},
	{Key: "target"},
	{Key: "filters"},
	{Key: "keyrings", Flag: "keyring", Type: TypeStrings, Commands: []string{CmdSync, CmdList, CmdVerify},
		Help:    "OpenPGP keyring (binary or armored) to verify signed metadata; repeatable (default " + DefaultKeyring + " if present)",
		HelpFor: map[string]string{CmdVerify: "OpenPGP keyring (binary or armored) to verify the published .sjson files; repeatable (default " + DefaultKeyring + " if present and the mirror publishes no key of its own)"}},
	{Key: "no_verify", Flag: "no-verify", Short: "U", Type: TypeBool, Default: false, Commands: []string{CmdSync, CmdList},
		Help: "do not check signatures of .sjson metadata (it must still be clearsigned)"},
	{Key: "allow_sha1", Flag: "allow-sha1", Type: TypeBool, Default: false, Commands: []string{CmdSync, CmdList, CmdVerify},
		Help: "accept signatures made with SHA-1 digests (some old streams)"},
	{Key: "max", Flag: "max", Type: TypeInt, Default: 0, Commands: []string{CmdSync, CmdList},
		Help:    "keep only the newest N versions of each product (0: all)",
		HelpFor: map[string]string{CmdList: "list only the newest N versions of each product, after filtering (0: all)"}},
	{Key: "keep", Flag: "keep", Type: TypeBool, Default: false, Commands: syncOnly,
		Help: "keep already-mirrored versions (up to --max) after upstream dropped them"},
	{Key: "dry_run", Flag: "dry-run", Type: TypeBool, Default: false, Commands: []string{CmdSync, CmdGC},
		Help:    "print the plan and change nothing",
		HelpFor: map[string]string{CmdGC: "print what would be deleted, change nothing"}},
	{Key: "verify_existing", Flag: "verify-existing", Type: TypeBool, Default: false, Commands: syncOnly,
		Help: "read back every selected object the target already holds and check its checksum; damaged ones are copied again (reads the whole mirror)"},
	{Key: "s3.endpoint", Flag: "endpoint", Type: TypeString, Default: "", Commands: allCommands,
		Help: "S3 endpoint URL (default $AWS_ENDPOINT_URL, else AWS)"},
	{Key: "s3.region", Flag: "region", Type: TypeString, Default: "", Commands: allCommands,
		Help: "S3 region"},
	{Key: "s3.path_style", Flag: "path-style", Type: TypeBool, Default: false, Commands: allCommands,
		Help: "use path-style S3 requests (http://host/bucket/key)"},
	{Key: "s3.anonymous", Flag: "anonymous", Type: TypeBool, Default: false, Commands: allCommands,
		Help: "access S3 without credentials"},
	{Key: "s3.insecure_tls", Flag: "insecure-tls", Type: TypeBool, Default: false, Commands: allCommands,
		Help: "do not verify TLS certificates (S3 and HTTP source)"},
	{Key: "s3.cacert", Flag: "cacert", Type: TypeString, Default: "", Commands: allCommands,
		Help: "PEM file of certificate authorities to trust instead of the system's (S3 and HTTP source)"},
	{Key: "s3.part_size", Flag: "part-size", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "S3 multipart part size, at least 5MiB (default 16MiB, grown for objects over 160 GB)"},
	{Key: "s3.multipart_threshold", Flag: "multipart-threshold", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "largest S3 object uploaded in one PUT (default 256MiB, at most 5GiB); one larger than --part-size is streamed, checked by the store against its SHA-256; larger ones are multipart uploads, resumed after a cut"},
	{Key: "s3.part_uploads", Flag: "part-uploads", Type: TypeInt, Default: DefaultPartUploads, Commands: syncOnly,
		Help: "S3 parts of one object uploaded at once"},
	{Key: "s3.upload_memory", Flag: "upload-memory", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "object data buffered for S3 uploads at once, across all transfers (default 48MiB; a larger --part-size part is still uploaded, alone; an item that needs parts larger than both is refused)"},
	{Key: "s3.access_key_id"},
	{Key: "s3.secret_access_key"},
	{Key: "s3.session_token"},
	{Key: "transfers", Flag: "transfers", Type: TypeInt, Default: DefaultTransfers, Commands: []string{CmdSync, CmdVerify},
		Help:    "number of concurrent transfers",
		HelpFor: map[string]string{CmdVerify: "objects read at once with --checksums"}},
	{Key: "signed_metadata", Flag: "signed-metadata", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "signed metadata to publish: upstream (copy the upstream .sjson verbatim), resign (sign the rewritten metadata with --sign-key) or none (default: resign with --sign-key, else upstream for a signed source, else none)"},
	{Key: "sign_key", Flag: "sign-key", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "OpenPGP secret key (armored or binary) to sign the rewritten metadata with; passphrase from $" + EnvVar("sign_passphrase") + " or --sign-passphrase-file"},
	{Key: "sign_passphrase_file", Flag: "sign-passphrase-file", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "file holding the passphrase of --sign-key"},
	{Key: "sign_passphrase"},
	{Key: "public_url", Flag: "public-url", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "URL where clients reach the mirror (CDN or bucket web address), for the printed MAAS/LXD instructions"},
	{Key: "retries", Flag: "retries", Type: TypeInt, Default: DefaultRetries, Commands: syncOnly,
		Help: "tries of a failing upstream request, and of a whole item, before it counts as failed"},
	{Key: "retry_delay", Flag: "retry-delay", Type: TypeDuration, Default: time.Duration(DefaultRetryDelay), Commands: syncOnly,
		Help: "first wait before a retry, doubled each time (at most 30s, with jitter)"},
	{Key: "idle_timeout", Flag: "idle-timeout", Type: TypeDuration, Default: time.Duration(DefaultIdleTimeout), Commands: syncOnly,
		Help: "retry a transfer that makes no progress for this long"},
	{Key: "low_speed", Flag: "low-speed", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "RATE/DURATION: cut, retry and resume a transfer slower than RATE bytes a second (K, M, G suffixes) over DURATION, e.g. 10K/30s (default off)"},
	{Key: "item_mirrors", Flag: "mirror", Type: TypeStrings, Commands: syncOnly,
		Help: "another place to fetch items from, at the same relative paths (an http(s):// or s3:// mirror root, or a directory), tried in order when SOURCE fails, and chosen for items of 32 MiB or more when measured faster; repeatable (metadata always comes from SOURCE, items are verified against it)"},
	{Key: "upstream_proxy", Flag: "upstream-proxy", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "proxy URL (http://, https://, socks5://) for an http(s) SOURCE and --mirror only; the store does not use it (default: HTTPS_PROXY, HTTP_PROXY and NO_PROXY decide, for both)"},
	{Key: "bwlimit", Flag: "bwlimit", Type: TypeString, Default: "", Commands: syncOnly,
		Help: `cap the total upstream read rate, bytes a second with K, M, G suffixes (1M), or a timetable of the time of day ("08:00,1M 18:00,off"); default off`},
	{Key: "item_cache_control", Flag: "item-cache-control", Type: TypeString, Default: DefaultItemCacheControl, Commands: syncOnly,
		Help: "Cache-Control of items (immutable files)"},
	{Key: "metadata_cache_control", Flag: "metadata-cache-control", Type: TypeString, Default: DefaultMetadataCacheControl, Commands: syncOnly,
		Help: "Cache-Control of index and products files"},
	{Key: "gc_grace", Flag: "gc-grace", Type: TypeDuration, Default: time.Duration(DefaultGCGrace), Commands: []string{CmdSync, CmdGC},
		Help:    "keep objects that left the mirror this long after the index stopped naming them (clients cache indexes)",
		HelpFor: map[string]string{CmdGC: "delete objects unreferenced for at least this long"}},
	{Key: "wait", Flag: "wait", Type: TypeDuration, Default: time.Duration(0), Commands: []string{CmdSync, CmdGC},
		Help:    "wait this long for another publisher of the same target to finish (default: fail at once)",
		HelpFor: map[string]string{CmdGC: "wait this long for another publisher of the target to finish"}},
	{Key: "single_writer", Flag: "single-writer", Type: TypeBool, Default: false, Commands: syncOnly,
		Help: "promise that no other publisher of the target runs: publish to a store that ignores conditional writes, with an advisory lease, instead of refusing it"},
	// sstream-mirror's options and the run's reports.
	{Key: "path", Flag: "path", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "start file relative to SOURCE: streams/v1/NAME.sjson or .json (sstream-mirror's --path; default streams/v1/index.sjson)"},
	{Key: "no_item_download", Flag: "no-item-download", Type: TypeBool, Default: false, Commands: syncOnly,
		Help: "copy no item: publish the metadata of what the target already holds (products whose new versions need items keep their published version)"},
	{Key: "no_browse_page", Flag: "no-browse-page", Type: TypeBool, Default: false, Commands: syncOnly,
		Help: "do not publish the browse page (index.html at the mirror root)"},
	{Key: "metrics_file", Flag: "metrics-file", Type: TypeString, Default: "", Commands: syncOnly,
		Help: "write Prometheus text-format metrics of the run to this file, atomically (for node_exporter's textfile collector: name it *.prom)"},
}

// Keys returns the keys of every option, as config files write them.
func Keys() []string {
	keys := make([]string, len(Options))
	for i, o := range Options {
		keys[i] = o.Key
	}
	return keys
}
