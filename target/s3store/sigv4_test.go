package s3store

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	miniosigner "github.com/minio/minio-go/v7/pkg/signer"
)

// signCases are requests as minio-go's client builds them: the signer
// must sign each exactly as minio-go's own SigV4 signer does.
var signCases = []struct {
	name, method, url string
	header            map[string][]string
	token             string
}{
	{name: "single PUT", method: "PUT", url: "http://127.0.0.1:9000/bucket/mirror/streams/v1/index.json",
		header: map[string][]string{
			"Content-Md5":   {"1B2M2Y8AsgTpgAmY7PhCfg=="},
			"Content-Type":  {"application/octet-stream"},
			"Cache-Control": {"max-age=60, public"},
			"X-Amz-Meta-Ssmirror-Sha256": {
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
			"User-Agent": {"MinIO (linux; amd64) minio-go/v7"},
		}},
	{name: "checksum and condition", method: "PUT", url: "https://s3.eu-west-1.amazonaws.com/bucket/a/b.bin",
		header: map[string][]string{
			"X-Amz-Checksum-Sha256": {"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
			"If-None-Match":         {"*"},
		}},
	{name: "virtual host, session token", method: "PUT", url: "https://bucket.s3.amazonaws.com/k",
		header: map[string][]string{"Content-Type": {"application/json"}}, token: "FQoGZXIvYXdzE//session+token=="},
	{name: "key needing encoding", method: "PUT",
		url: "http://127.0.0.1:9000/bucket/" + s3utils.EncodePath("with space/and+plus=%20,ü~(x)!.txt")},
	{name: "query and white space", method: "PUT", url: "http://[::1]:9000/bucket/big.img?uploadId=a%2Bb%20c&partNumber=7",
		header: map[string][]string{
			"X-Amz-Meta-Note": {"  two   spaces\there  ", "second"},
			"Accept-Encoding": {"gzip"},
		}},
	{name: "unicode white space", method: "PUT", url: "http://127.0.0.1:9000/bucket/x",
		header: map[string][]string{"X-Amz-Meta-Title": {"caf\u00e9\u00a0 au\u2003lait "}}},
	{name: "GET", method: "GET", url: "http://127.0.0.1:9000/bucket/?list-type=2&prefix=a%2Fb&max-keys=1"},
}

func newSignCaseRequest(t *testing.T, method, rawURL string, header map[string][]string) *http.Request {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vv := range header {
		req.Header[k] = append([]string(nil), vv...)
	}
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	return req
}

func TestSignerMatchesMinio(t *testing.T) {
	v := credentials.Value{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SignerType: credentials.SignatureV4}
	for _, c := range signCases {
		t.Run(c.name, func(t *testing.T) {
			v := v
			v.SessionToken = c.token
			want := miniosigner.SignV4(*newSignCaseRequest(t, c.method, c.url, c.header), v.AccessKeyID, v.SecretAccessKey, v.SessionToken, "eu-west-1")
			at, err := time.Parse(amzDateFormat, want.Header.Get("X-Amz-Date"))
			if err != nil {
				t.Fatal(err)
			}
			got := newSignCaseRequest(t, c.method, c.url, c.header)
			s := &signer{region: "eu-west-1"}
			s.sign(got, v, at)
			if g, w := got.Header.Get("Authorization"), want.Header.Get("Authorization"); g != w {
				t.Errorf("Authorization:\n got %s\nwant %s", g, w)
			}
			for _, h := range []string{"X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
				if g, w := got.Header.Get(h), want.Header.Get(h); g != w {
					t.Errorf("%s = %q, want %q", h, g, w)
				}
			}
		})
	}
}

// A run that goes on past midnight (UTC) or sees its secret rotated signs
// with a key derived for the new day or secret, not the cached one.
func TestSignerKeyFollowsDayAndSecret(t *testing.T) {
	v := credentials.Value{AccessKeyID: "AKID", SecretAccessKey: "secret1", SignerType: credentials.SignatureV4}
	s := &signer{region: "us-east-1"}
	day1 := time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC)
	day2 := day1.Add(2 * time.Second)
	sign := func(s *signer, v credentials.Value, at time.Time) string {
		req := newSignCaseRequest(t, "PUT", "http://127.0.0.1:9000/b/k", nil)
		s.sign(req, v, at)
		return req.Header.Get("Authorization")
	}
	fresh := func(v credentials.Value, at time.Time) string { return sign(&signer{region: "us-east-1"}, v, at) }

	first := sign(s, v, day1)
	if got, want := sign(s, v, day2), fresh(v, day2); got != want {
		t.Errorf("after midnight:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(first, "/20261201/") || !strings.Contains(fresh(v, day2), "/20261202/") {
		t.Errorf("scopes: %s, %s", first, fresh(v, day2))
	}
	v2 := v
	v2.SecretAccessKey = "secret2"
	if got, want := sign(s, v2, day2), fresh(v2, day2); got != want {
		t.Errorf("after a new secret:\n got %s\nwant %s", got, want)
	}
	if got, want := sign(s, v, day1), first; got != want {
		t.Errorf("back to the first day and secret:\n got %s\nwant %s", got, want)
	}
}

// The signer leaves the caller's request as it was (http.RoundTripper's
// contract) and sends unsigned what anonymous credentials cannot sign.
func TestSignerRoundTrip(t *testing.T) {
	var sent *http.Request
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})
	for _, anon := range []bool{false, true} {
		creds := credentials.NewStaticV4("AKID", "secret", "")
		if anon {
			creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
		}
		s := &signer{rt: rt, creds: creds, region: "us-east-1", now: time.Now}
		req := newSignCaseRequest(t, "PUT", "http://127.0.0.1:9000/b/k", map[string][]string{"Content-Type": {"text/plain"}})
		before := req.Header.Clone()
		resp, err := s.RoundTrip(req.WithContext(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(req.Header) != len(before) || req.Header.Get("Authorization") != "" {
			t.Errorf("anonymous=%v: the caller's request was changed: %v", anon, req.Header)
		}
		if got := sent.Header.Get("Authorization") != ""; got == anon {
			t.Errorf("anonymous=%v: sent with Authorization %q", anon, sent.Header.Get("Authorization"))
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkSign signs the request of one small object's PUT.
func BenchmarkSign(b *testing.B) {
	v := credentials.Value{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SignerType: credentials.SignatureV4}
	c := signCases[0]
	u, _ := url.Parse(c.url)
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := &signer{region: "us-east-1"}
	b.ReportAllocs()
	for b.Loop() {
		req := &http.Request{Method: c.method, URL: u, Host: u.Host, Header: make(http.Header, len(c.header)+4)}
		for k, vv := range c.header {
			req.Header[k] = vv
		}
		req.Header["X-Amz-Content-Sha256"] = []string{unsignedPayload}
		s.sign(req, v, at)
	}
}

// BenchmarkSignMinio is the same with minio-go's signer, for comparison.
func BenchmarkSignMinio(b *testing.B) {
	c := signCases[0]
	u, _ := url.Parse(c.url)
	b.ReportAllocs()
	for b.Loop() {
		req := http.Request{Method: c.method, URL: u, Host: u.Host, Header: make(http.Header, len(c.header)+4)}
		for k, vv := range c.header {
			req.Header[k] = vv
		}
		req.Header["X-Amz-Content-Sha256"] = []string{unsignedPayload}
		miniosigner.SignV4(req, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", "us-east-1")
	}
}

// countingConn counts the writes to a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// A small object's PUT leaves in one write (headers and body together),
// though minio-go hands its body on wrapped in a reader net/http does not
// know to be in memory.
func TestSignerSmallBodyOneWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	var writes atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}}
	defer tr.CloseIdleConnections()
	s := &signer{rt: tr, creds: credentials.NewStaticV4("AKID", "secret", ""), region: "us-east-1", now: time.Now}
	for _, size := range []int{1, 2048} {
		data := bytes.Repeat([]byte("x"), size)
		req, err := http.NewRequest("PUT", srv.URL+"/b/k", struct{ io.Reader }{bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(size)
		writes.Store(0)
		resp, err := s.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := writes.Load(); got != 1 {
			t.Errorf("PUT of %d bytes: %d writes", size, got)
		}
	}
	// A body shorter than it claims is refused before anything is sent.
	req, _ := http.NewRequest("PUT", srv.URL+"/b/k", struct{ io.Reader }{strings.NewReader("short")})
	req.ContentLength = 10
	writes.Store(0)
	if _, err := s.RoundTrip(req); err == nil || writes.Load() != 0 {
		t.Errorf("short body: err %v, %d writes", err, writes.Load())
	}
}
