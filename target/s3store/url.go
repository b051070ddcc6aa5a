package s3store

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/ssmirror/ssmirror/target"
)

// ParseURL splits an "s3://BUCKET[/PREFIX]" URL into its bucket and
// prefix. The prefix is returned without leading or trailing slashes (""
// when absent). The bucket must follow the S3 bucket naming rules.
func ParseURL(s string) (bucket, prefix string, err error) {
	const scheme = "s3://"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return "", "", fmt.Errorf("invalid S3 URL %q: must start with s3://", s)
	}
	rest := s[len(scheme):]
	bucket, prefix, _ = strings.Cut(rest, "/")
	if strings.ContainsAny(bucket, "@:") {
		// Do not echo the input: it may carry credentials.
		return "", "", errors.New("invalid S3 URL: s3://BUCKET[/PREFIX] must not contain credentials, a port or an endpoint (configure those separately)")
	}
	if bucket == "" {
		return "", "", fmt.Errorf("invalid S3 URL %q: missing bucket name (want s3://BUCKET[/PREFIX])", s)
	}
	if err := ValidateBucket(bucket); err != nil {
		return "", "", fmt.Errorf("invalid S3 URL %q: %w", s, err)
	}
	prefix, err = cleanPrefix(prefix)
	if err != nil {
		return "", "", fmt.Errorf("invalid S3 URL %q: %w", s, err)
	}
	return bucket, prefix, nil
}

// ValidateBucket checks name against the S3 bucket naming rules: 3 to 63
// characters of lowercase letters, digits, '.' and '-', starting and ending
// with a letter or digit, no "..", not shaped like an IP address, and none
// of the reserved prefixes and suffixes.
func ValidateBucket(name string) error {
	if n := len(name); n < 3 || n > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			if r >= 'A' && r <= 'Z' {
				return fmt.Errorf("bucket name %q must not contain uppercase letters", name)
			}
			return fmt.Errorf("bucket name %q contains %q; only lowercase letters, digits, '.' and '-' are allowed", name, r)
		}
	}
	isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return fmt.Errorf("bucket name %q must start and end with a lowercase letter or digit", name)
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("bucket name %q must not contain two adjacent periods", name)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("bucket name %q must not be formatted as an IP address", name)
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("bucket name %q must not start with the reserved prefix %q", name, p)
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, sfx) {
			return fmt.Errorf("bucket name %q must not end with the reserved suffix %q", name, sfx)
		}
	}
	return nil
}

// cleanPrefix trims slashes around a store prefix and validates it like a
// key.
func cleanPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	if err := ValidateKey(p); err != nil {
		return "", fmt.Errorf("invalid prefix: %w", err)
	}
	return p, nil
}

// ValidateKey reports why key is not acceptable as a store key, or nil:
// a portable key (target.ValidateKey) of at most 1,024 bytes, S3's limit.
// (S3 itself accepts more; the restriction keeps keys portable to
// dirstore and to HTTP mirrors.)
func ValidateKey(key string) error {
	if len(key) > 1024 && utf8.ValidString(key) {
		return fmt.Errorf("key %.40q... is longer than 1024 bytes", key)
	}
	return target.ValidateKey(key)
}
