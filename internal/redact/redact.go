// Package redact removes secrets from URLs and from text that may contain
// URLs (error messages, log lines): the password of a URL's userinfo and
// the values of query parameters that carry signed-URL credentials
// (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, Signature,
// sig, token, ...). Every message the tool prints that may hold a URL goes
// through it.
//
// It does not know about other secrets (keys in config files are typed so
// that they redact themselves, see package config).
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret.
const Mask = "xxxxx"

// secretParams are query parameter names (lower case) whose values are
// credentials: AWS SigV4 and SigV2, Google Cloud Storage, Azure SAS,
// CloudFront and generic tokens.
var secretParams = map[string]bool{
	"x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
	"signature": true, "awsaccesskeyid": true,
	"x-goog-signature": true, "x-goog-credential": true,
	"sig": true, "token": true, "access_token": true, "auth": true,
	"key-pair-id": true, "policy": true, "password": true, "secret": true, "api_key": true, "apikey": true,
}

// secretParam reports whether a query parameter's value is a secret.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	return secretParams[n] || strings.Contains(n, "token") || strings.Contains(n, "signature") ||
		strings.Contains(n, "secret") || strings.Contains(n, "password") || strings.Contains(n, "credential")
}

// URL returns raw with the password of its userinfo and the values of its
// credential query parameters replaced by Mask; anything else is kept byte
// for byte (nothing is re-encoded), so that the URL still says where it
// points.
func URL(raw string) string {
	if strings.IndexByte(raw, '@') < 0 && strings.IndexByte(raw, '?') < 0 {
		return raw // no userinfo, no query: nothing to mask
	}
	s := userinfoRE.ReplaceAllString(raw, "//$1:"+Mask+"@")
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i+1] + query(s[i+1:])
	}
	return s
}

// querySep separates query parameters: "&", or "&" as JSON escapes it
// (\u0026), since Text also reads JSON output.
var querySep = regexp.MustCompile(`&|\\u0026`)

// query masks the values of credential parameters, keeping the order and
// encoding of the others.
func query(raw string) string {
	var b strings.Builder
	last := 0
	for _, sep := range append(querySep.FindAllStringIndex(raw, -1), []int{len(raw), len(raw)}) {
		kv := raw[last:sep[0]]
		k, _, hasValue := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && secretParam(name) {
			kv = k + "=" + Mask
		}
		b.WriteString(kv)
		b.WriteString(raw[sep[0]:sep[1]])
		last = sep[1]
	}
	return b.String()
}

var (
	urlRE      = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>` + "`" + `]+`)
	userinfoRE = regexp.MustCompile(`//([^/@\s]*):[^/@\s]*@`)
)

// Text returns s with every URL in it redacted by URL.
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlRE.ReplaceAllStringFunc(s, func(u string) string {
		// A URL quoted or ending a sentence keeps its trailing punctuation.
		trimmed := strings.TrimRight(u, ".,;:)]}")
		return URL(trimmed) + u[len(trimmed):]
	})
}
