package s3store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// signer is a transport that signs each request with AWS Signature
// Version 4 (service s3, header-based, unsigned payload unless the request
// says otherwise), the way minio-go signs one, for a client that sends
// requests unsigned. It keeps the signing key, which is the same for every
// request of a day, region and secret (four HMACs to derive), and builds
// the canonical request in one buffer: a single PUT of a small object
// costs less to sign than to send. It also sends a small body in the same
// write as the headers.
type signer struct {
	rt     http.RoundTripper
	creds  *credentials.Credentials
	region string
	now    func() time.Time // time.Now; tests set it

	key atomic.Pointer[signingKey]
}

// signingKey is a derived key, as the HMAC-SHA256 pads it makes (the key
// is shorter than a block), and what it was derived from.
type signingKey struct {
	secret, date, region string
	ipad, opad           [sha256.BlockSize]byte
}

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	amzDateFormat   = "20060102T150405Z"
)

// RoundTrip signs a copy of req and sends it.
func (s *signer) RoundTrip(req *http.Request) (*http.Response, error) {
	r := *req
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if r.Body != nil && r.ContentLength > 0 && r.ContentLength <= smallBody {
		// net/http sends the headers in a write of their own unless it
		// knows the body is in memory, and minio-go hands it on wrapped:
		// two writes (and packets) for each small object.
		data := make([]byte, r.ContentLength)
		n, err := io.ReadFull(r.Body, data)
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("s3store: request body has %d bytes, want %d: %w", n, r.ContentLength, err)
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	return s.send(&r)
}

// send signs r itself (its caller owns it) and sends it. A request whose
// body is an io.NopCloser of a *bytes.Reader goes out in the same write as
// its headers.
func (s *signer) send(r *http.Request) (*http.Response, error) {
	v, err := s.creds.GetWithContext(&credentials.CredContext{Client: http.DefaultClient, Context: r.Context()})
	if err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	if !v.SignerType.IsAnonymous() && v.AccessKeyID != "" && v.SecretAccessKey != "" {
		s.sign(r, v, s.now().UTC())
	}
	return s.rt.RoundTrip(r)
}

// smallBody is the largest body the signer copies to send it in one
// write with the headers: net/http's write buffer (4 KiB) holds both.
const smallBody = 4 << 10

// sign sets the headers of a request signed at t with the credentials v:
// X-Amz-Date, X-Amz-Content-Sha256 (UNSIGNED-PAYLOAD unless set),
// X-Amz-Security-Token (with a session token) and Authorization.
func (s *signer) sign(r *http.Request, v credentials.Value, t time.Time) {
	var dateBuf [16]byte
	amzDate := string(t.AppendFormat(dateBuf[:0], amzDateFormat))
	date := amzDate[:8]
	r.Header["X-Amz-Date"] = []string{amzDate}
	if v.SessionToken != "" && r.Header.Get("X-Amz-S3session-Token") == "" {
		r.Header["X-Amz-Security-Token"] = []string{v.SessionToken}
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = unsignedPayload
		r.Header["X-Amz-Content-Sha256"] = []string{payload}
	}

	// The signed headers: all but the ones a proxy or the transport may
	// change, and host, in order of their lower-case names.
	var namesBuf [24]string
	names := namesBuf[:0]
	hasHost := false
	for k := range r.Header {
		switch k {
		case "Accept-Encoding", "Authorization", "User-Agent":
			continue
		}
		if strings.EqualFold(k, "host") {
			hasHost = true
		}
		names = append(names, k)
	}
	if !hasHost {
		names = append(names, "Host")
	}
	slices.SortFunc(names, compareLower)

	var bufArr [1024]byte
	buf := append(bufArr[:0], r.Method...)
	buf = append(buf, '\n')
	buf = appendURIPath(buf, r.URL.Path)
	buf = append(buf, '\n')
	if r.URL.RawQuery != "" {
		buf = append(buf, strings.ReplaceAll(r.URL.Query().Encode(), "+", "%20")...)
	}
	buf = append(buf, '\n')
	for _, k := range names {
		buf = appendLower(buf, k)
		buf = append(buf, ':')
		if vals, ok := r.Header[k]; ok && !strings.EqualFold(k, "host") {
			for i, val := range vals {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendTrimmed(buf, val)
			}
		} else {
			buf = append(buf, hostAddr(r)...)
		}
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	signedStart := len(buf)
	for i, k := range names {
		if i > 0 {
			buf = append(buf, ';')
		}
		buf = appendLower(buf, k)
	}
	signed := string(buf[signedStart:])
	buf = append(buf, '\n')
	buf = append(buf, payload...)
	canonical := sha256.Sum256(buf)

	// The string to sign, after the HMAC's inner pad: its SHA-256 is
	// then the inner hash.
	region := s.region
	key := s.signingKey(v.SecretAccessKey, date, region)
	buf = append(buf[:0], key.ipad[:]...)
	buf = append(buf, sigV4Algorithm+"\n"...)
	buf = append(buf, amzDate...)
	buf = append(buf, '\n')
	scopeStart := len(buf)
	buf = append(buf, date...)
	buf = append(buf, '/')
	buf = append(buf, region...)
	buf = append(buf, "/s3/aws4_request"...)
	scope := string(buf[scopeStart:])
	buf = append(buf, '\n')
	buf = hex.AppendEncode(buf, canonical[:])

	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], key.opad[:])
	inner := sha256.Sum256(buf)
	copy(outer[sha256.BlockSize:], inner[:])
	sig := sha256.Sum256(outer[:])

	auth := make([]byte, 0, len(sigV4Algorithm)+len(v.AccessKeyID)+len(scope)+len(signed)+2*sha256.Size+48)
	auth = append(auth, sigV4Algorithm+" Credential="...)
	auth = append(auth, v.AccessKeyID...)
	auth = append(auth, '/')
	auth = append(auth, scope...)
	auth = append(auth, ", SignedHeaders="...)
	auth = append(auth, signed...)
	auth = append(auth, ", Signature="...)
	auth = hex.AppendEncode(auth, sig[:])
	r.Header["Authorization"] = []string{string(auth)}
}

// signingKey returns the key for secret, date (YYYYMMDD) and region,
// derived once and kept until one of them changes.
func (s *signer) signingKey(secret, date, region string) *signingKey {
	if k := s.key.Load(); k != nil && k.date == date && k.region == region && k.secret == secret {
		return k
	}
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	k := &signingKey{secret: secret, date: date, region: region}
	for i := range k.ipad {
		k.ipad[i], k.opad[i] = 0x36, 0x5c
	}
	for i, b := range key { // 32 bytes: no hashing of the key first
		k.ipad[i] ^= b
		k.opad[i] ^= b
	}
	s.key.Store(k)
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// appendURIPath appends p encoded as a SigV4 canonical URI, as minio-go's
// s3utils.EncodePath encodes it: every byte of p but letters, digits and
// "-_.~/" as %XX; a p that is not UTF-8 as it is.
func appendURIPath(buf []byte, p string) []byte {
	plain := true
	for i := 0; i < len(p) && plain; i++ {
		plain = unreservedOrSlash(p[i])
	}
	if plain || !utf8.ValidString(p) {
		return append(buf, p...)
	}
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(p); i++ {
		if c := p[i]; unreservedOrSlash(c) {
			buf = append(buf, c)
		} else {
			buf = append(buf, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return buf
}

func unreservedOrSlash(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}

// needsTrim reports whether the ASCII v has white space other than single
// spaces between words.
func needsTrim(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ' ':
			if i == 0 || i == len(v)-1 || v[i+1] == ' ' {
				return true
			}
		case '\t', '\n', '\r', '\v', '\f':
			return true
		}
	}
	return false
}

// hostAddr is the Host header the request will carry.
func hostAddr(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// compareLower compares a and b as their lower-case forms compare
// (header names are ASCII).
func compareLower(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if x, y := lowerByte(a[i]), lowerByte(b[i]); x != y {
			return int(x) - int(y)
		}
	}
	return len(a) - len(b)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func appendLower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		buf = append(buf, lowerByte(s[i]))
	}
	return buf
}

// appendTrimmed appends v with leading and trailing white space removed
// and inner runs of it made one space, as SigV4 canonical headers are.
func appendTrimmed(buf []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			// Unicode white space as well, as minio-go trims it.
			return append(buf, strings.Join(strings.Fields(v), " ")...)
		}
	}
	if !needsTrim(v) {
		return append(buf, v...)
	}
	space := false
	start := len(buf)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			space = true
			continue
		}
		if space && len(buf) > start {
			buf = append(buf, ' ')
		}
		space = false
		buf = append(buf, c)
	}
	return buf
}

// signerFor returns a signer of requests to bucket at endpoint for creds,
// or nil when the requests must be signed by minio-go itself: anonymous
// access, credentials for another signature version, S3 Express and
// Outposts (other services and session tokens), or a region that cannot
// be found now.
func signerFor(ctx context.Context, client regionFinder, creds *credentials.Credentials, rt http.RoundTripper, endpoint url.URL, bucket string, anonymous bool) *signer {
	if anonymous || s3utils.IsAmazonExpressRegionalEndpoint(endpoint) || s3utils.IsAmazonOutpostsEndpoint(endpoint) ||
		s3utils.IsS3ExpressBucket(bucket) && s3utils.IsAmazonEndpoint(endpoint) {
		return nil
	}
	if v, err := creds.GetWithContext(&credentials.CredContext{Client: http.DefaultClient, Context: ctx}); err != nil || !v.SignerType.IsV4() {
		return nil
	}
	region, err := client.GetBucketLocation(ctx, bucket)
	if err != nil {
		return nil
	}
	if region == "" {
		region = "us-east-1"
	}
	return &signer{rt: rt, creds: creds, region: region, now: time.Now}
}

// regionFinder is the part of minio.Client that tells a bucket's region
// (from its configuration or its cache, else by asking the store).
type regionFinder interface {
	GetBucketLocation(ctx context.Context, bucket string) (string, error)
}
