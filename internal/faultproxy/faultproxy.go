// Package faultproxy is a fault-injecting HTTP reverse proxy for tests. It
// sits between ssmirror and an upstream HTTP server (a mirror) or an S3
// server, forwards every request transparently (method, path and query as
// sent, body, headers, and the Host header, so S3 signatures still verify)
// and, for the requests its rules select, breaks the exchange the way
// networks and servers do: connection resets, truncated or corrupted
// bodies, stalls, 5xx answers with an S3 error body, HTML error pages.
//
// It is a test helper; nothing in the product imports it. It speaks
// HTTP/1.1 to its clients (faults such as resets need the raw connection).
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// Fault is what a rule does to a request it selects.
type Fault int

// Faults.
const (
	// Pass forwards the request unchanged (a rule that only counts).
	Pass Fault = iota
	// Reset closes the client's connection with a TCP RST and no response.
	// The request is not forwarded unless Rule.AfterForward is set (then
	// the upstream acts on it and the client never hears the answer).
	Reset
	// Truncate forwards the request, sends the upstream's status and
	// headers (with the full Content-Length) and the first Rule.After
	// bytes of the body (at most the length minus one), then closes the
	// connection.
	Truncate
	// StallHeaders holds the request for Rule.Stall before forwarding it;
	// nothing at all is sent meanwhile.
	StallHeaders
	// StallBody forwards the request, sends the status, headers and the
	// first Rule.After body bytes, then holds the rest for Rule.Stall.
	StallBody
	// Status answers Rule.Code (default 503) with an S3 XML error body
	// (SlowDown for 503, InternalError for 500) without forwarding.
	Status
	// Corrupt forwards the request and relays the upstream's response with
	// the same status and length but the byte at offset Rule.After (the
	// last byte when the body is shorter) inverted.
	Corrupt
	// HTML answers 200 OK with an HTML error page (a captive portal, a
	// misconfigured CDN) without forwarding.
	HTML
	// Strip forwards the request without the headers Rule.Header and the
	// query parameters Rule.Query name, signed again with
	// Proxy.Credentials (S3 SigV4 covers both): the server sees a request
	// that never carried them.
	Strip
	// CorruptRequest forwards the request with the byte of its body at
	// offset Rule.After (the last one when the body is shorter) inverted:
	// damage in transit that only the server's own check of the body can
	// catch.
	CorruptRequest
	// Throttle forwards the request and relays the upstream's response
	// body at Rule.Rate bytes a second: after each chunk of it (at most
	// 32 KiB) it waits for the chunk's time on Proxy.After's clock.
	Throttle
)

var faultNames = [...]string{"pass", "reset", "truncate", "stall-headers", "stall-body", "status", "corrupt", "html", "strip", "corrupt-request", "throttle"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Rule selects requests and says what to do to them. Set its fields before
// passing it to Proxy.Add and do not change them afterwards.
//
// A request matches when its method, path substring and path regexp all
// match (empty ones match anything). Matching requests are numbered 1, 2,
// ... per rule; First, Nth and Every (at most one of them) choose which
// numbers the fault applies to; none of them means every matching request.
type Rule struct {
	Name   string         // for the request log; default: the fault's name
	Method string         // e.g. GET, PUT; "" matches any
	Path   string         // substring of the URL path; "" matches any
	PathRE *regexp.Regexp // nil matches any

	First int // apply to matching requests 1..First
	Nth   int // apply only to matching request Nth
	Every int // apply to matching requests Every, 2*Every, ...

	// Header, when set, restricts the rule to requests that carry at
	// least one of these headers; Query, to requests with at least one of
	// these query parameters. Strip removes them.
	Header []string
	Query  []string

	Fault Fault
	Code  int // Status: the status code; 0 means 503
	// S3Code and Message, for Status, are the error document's code and
	// message (default: by status, e.g. SlowDown for 503).
	S3Code, Message string
	// RetryAfter, for Status, is sent as a Retry-After header (whole
	// seconds) when positive.
	RetryAfter time.Duration
	// After is, for Truncate and StallBody, the number of body bytes sent
	// before the fault, and for Corrupt the offset of the inverted byte.
	After int64
	// Stall is how long StallHeaders and StallBody hold the exchange; 0
	// holds it until the client goes away or the proxy is closed.
	Stall time.Duration
	// AfterForward makes Reset forward the request and wait for the whole
	// upstream response before resetting the client's connection.
	AfterForward bool
	// Rate is, for Throttle, the body's rate in bytes a second.
	Rate int64

	seen      atomic.Int64
	applied   atomic.Int64
	firstOnce sync.Once
	first     chan struct{} // closed when the rule first matches
}

// Seen returns the number of requests the rule matched (including those
// its occurrence settings let through).
func (r *Rule) Seen() int64 { return r.seen.Load() }

// Matched returns a channel that is closed once the rule has matched a
// request, for a test to wait for it.
func (r *Rule) Matched() <-chan struct{} { return r.firstMatch() }

func (r *Rule) firstMatch() chan struct{} {
	r.firstOnce.Do(func() { r.first = make(chan struct{}) })
	return r.first
}

// Applied returns the number of requests the rule's fault was applied to.
func (r *Rule) Applied() int64 { return r.applied.Load() }

func (r *Rule) name() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Fault.String()
}

func (r *Rule) matches(req *http.Request) bool {
	return (r.Method == "" || strings.EqualFold(r.Method, req.Method)) &&
		(r.Path == "" || strings.Contains(req.URL.Path, r.Path)) &&
		(r.PathRE == nil || r.PathRE.MatchString(req.URL.Path)) &&
		(len(r.Header) == 0 || slices.ContainsFunc(r.Header, func(h string) bool { return req.Header.Get(h) != "" })) &&
		(len(r.Query) == 0 || slices.ContainsFunc(r.Query, func(q string) bool { return req.URL.Query().Has(q) }))
}

// selects counts a matching request and reports whether the fault applies.
func (r *Rule) selects() bool {
	n := r.seen.Add(1)
	if n == 1 {
		close(r.firstMatch())
	}
	switch {
	case r.First > 0:
		return n <= int64(r.First)
	case r.Nth > 0:
		return n == int64(r.Nth)
	case r.Every > 0:
		return n%int64(r.Every) == 0
	}
	return true
}

func (r *Rule) validate() error {
	set := 0
	for _, n := range []int{r.First, r.Nth, r.Every} {
		if n < 0 {
			return fmt.Errorf("faultproxy: rule %s: negative First, Nth or Every", r.name())
		}
		if n > 0 {
			set++
		}
	}
	if set > 1 {
		return fmt.Errorf("faultproxy: rule %s: set at most one of First, Nth and Every", r.name())
	}
	if r.After < 0 || r.Stall < 0 {
		return fmt.Errorf("faultproxy: rule %s: negative After or Stall", r.name())
	}
	if r.Fault == Throttle && r.Rate <= 0 {
		return fmt.Errorf("faultproxy: rule %s: Throttle needs a positive Rate", r.name())
	}
	if r.Fault < Pass || r.Fault > Throttle {
		return fmt.Errorf("faultproxy: rule %s: unknown fault %d", r.name(), r.Fault)
	}
	return nil
}

// Request is one request the proxy received, as logged.
type Request struct {
	Method   string
	Path     string // URL path as received
	RawQuery string
	Header   http.Header // a copy of the request headers
	Rule     string      // name of the rule whose fault was applied, or ""
	Fault    Fault       // Pass when none was applied
}

// maxLog bounds the request log.
const maxLog = 100000

// Proxy is a fault-injecting reverse proxy. It is an http.Handler; Start
// runs it on a loopback test server.
type Proxy struct {
	// URL is the proxy's base URL (http://127.0.0.1:PORT), set by Start.
	URL string
	// Transport carries forwarded requests upstream. New sets one without
	// compression or proxies; replace it (before the first request) to
	// reach a TLS upstream with its own trust settings.
	Transport http.RoundTripper
	// After is the clock of finite stalls and of Throttle: it returns a
	// channel that delivers once the wait of d is over. nil means
	// time.After. A test sets it (before the first request) to end stalls
	// when it chooses, or to throttle on a clock of its own.
	After func(d time.Duration) <-chan time.Time
	// Credentials sign the requests Strip changes (set before the first
	// request).
	Credentials *Credentials

	upstream *url.URL
	done     chan struct{} // closed by Close: releases stalled requests
	closing  sync.Once
	server   *httptest.Server
	total    atomic.Int64

	mu    sync.Mutex
	rules []*Rule
	log   []Request
}

// Credentials are an S3 server's keys and region, for signing again.
type Credentials struct {
	AccessKey, SecretKey, Region string
}

// New returns a proxy forwarding to upstream, an http(s) URL whose scheme
// and host are used; request paths are forwarded unchanged.
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream %q: not an http(s) URL", upstream)
	}
	tr := &http.Transport{
		// Forward bodies as they are: never ask for or undo compression.
		DisableCompression:    true,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // stalls are the client's to detect
	}
	return &Proxy{Transport: tr, upstream: &url.URL{Scheme: u.Scheme, Host: u.Host}, done: make(chan struct{})}, nil
}

// Start runs a proxy to upstream on a loopback test server, closed when
// the test ends.
func Start(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	p, err := New(upstream)
	if err != nil {
		tb.Fatal(err)
	}
	p.server = httptest.NewServer(p)
	p.URL = p.server.URL
	tb.Cleanup(p.Close)
	return p
}

// Close releases stalled requests and stops the server started by Start.
func (p *Proxy) Close() {
	p.closing.Do(func() {
		close(p.done)
		if p.server != nil {
			p.server.CloseClientConnections()
			p.server.Close()
		}
		if tr, ok := p.Transport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
}

// Add appends a rule and returns it (to read its counters later). Rules
// are tried in order; the first that matches and selects the request
// applies its fault, and later rules do not see the request. Add panics on
// an invalid rule (a test's mistake).
func (p *Proxy) Add(r *Rule) *Rule {
	if err := r.validate(); err != nil {
		panic(err)
	}
	p.mu.Lock()
	p.rules = append(p.rules, r)
	p.mu.Unlock()
	return r
}

// Clear removes every rule; requests are forwarded unchanged again.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// Requests returns the requests received so far, oldest first.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
}

// Total returns the number of requests received.
func (p *Proxy) Total() int64 { return p.total.Load() }

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p.total.Add(1)
	rule := p.pick(req)
	fault := Pass
	if rule != nil {
		fault = rule.Fault
	}
	switch fault {
	case Pass:
		p.forward(w, req, nil, 0)
	case Reset:
		if rule.AfterForward {
			if resp, err := p.roundTrip(req, nil); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		reset(w)
	case StallHeaders:
		if p.hold(req.Context(), rule.Stall) {
			p.forward(w, req, nil, 0)
		}
	case Status:
		writeS3Error(w, req, rule)
	case HTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, htmlPage)
	default: // faults on the request or on the upstream's response body
		p.forward(w, req, rule, rule.After)
	}
}

// pick finds the rule whose fault applies to req and logs the request.
func (p *Proxy) pick(req *http.Request) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	var chosen *Rule
	for _, r := range p.rules {
		if r.matches(req) && r.selects() {
			chosen = r
			r.applied.Add(1)
			break
		}
	}
	if len(p.log) < maxLog {
		entry := Request{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Header: req.Header.Clone()}
		if chosen != nil {
			entry.Rule, entry.Fault = chosen.name(), chosen.Fault
		}
		p.log = append(p.log, entry)
	}
	return chosen
}

// hold waits for d (0: forever) and reports whether it elapsed, rather
// than the client going away or the proxy closing.
func (p *Proxy) hold(ctx context.Context, d time.Duration) bool {
	var elapsed <-chan time.Time
	switch {
	case d > 0 && p.After != nil:
		elapsed = p.After(d)
	case d > 0:
		t := time.NewTimer(d)
		defer t.Stop()
		elapsed = t.C
	}
	select {
	case <-elapsed:
		return true
	case <-ctx.Done():
	case <-p.done:
	}
	return false
}

// hopHeaders are connection-level headers a proxy must not forward.
// (Expect is answered by this proxy's server; it is never signed.)
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// roundTrip sends req upstream unchanged but for the connection-level
// headers (same method, escaped path, query, body and Host header), and
// for what rule's Strip or CorruptRequest changes.
func (p *Proxy) roundTrip(req *http.Request, rule *Rule) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.URL.Scheme = p.upstream.Scheme
	out.URL.Host = p.upstream.Host
	out.Host = req.Host // what the client signed, not the upstream's address
	if req.ContentLength == 0 {
		out.Body = nil
	}
	removeHopHeaders(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // no Go default added
	}
	if rule != nil && rule.Fault == Strip {
		if err := p.strip(out, rule); err != nil {
			return nil, err
		}
	}
	if rule != nil && rule.Fault == CorruptRequest && out.Body != nil {
		at := rule.After
		if out.ContentLength > 0 && at >= out.ContentLength {
			at = out.ContentLength - 1
		}
		out.Body = struct {
			io.Reader
			io.Closer
		}{&flipReader{r: out.Body, at: at}, out.Body}
	}
	return p.Transport.RoundTrip(out)
}

// strip removes rule's headers and query parameters from out and signs it
// again.
func (p *Proxy) strip(out *http.Request, rule *Rule) error {
	c := p.Credentials
	if c == nil {
		return fmt.Errorf("faultproxy: rule %s: Strip needs Proxy.Credentials", rule.name())
	}
	if strings.HasPrefix(out.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		// The body's chunk signatures chain from the header's.
		return fmt.Errorf("faultproxy: rule %s: cannot sign a streaming-signed (aws-chunked) body again", rule.name())
	}
	for _, h := range rule.Header {
		out.Header.Del(h)
	}
	if len(rule.Query) > 0 {
		q := out.URL.Query()
		for _, k := range rule.Query {
			q.Del(k)
		}
		out.URL.RawQuery = q.Encode()
	}
	out.Header.Del("Authorization")
	signed := signer.SignV4(*out, c.AccessKey, c.SecretKey, "", c.Region)
	out.Header = signed.Header
	return nil
}

// forward relays req upstream and the response back, applying rule's
// body fault (Truncate, StallBody, Corrupt) at offset after.
func (p *Proxy) forward(w http.ResponseWriter, req *http.Request, rule *Rule, after int64) {
	resp, err := p.roundTrip(req, rule)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		http.Error(w, "faultproxy: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	if rule == nil || req.Method == http.MethodHead || rule.Fault == Strip || rule.Fault == CorruptRequest {
		io.Copy(w, resp.Body)
		return
	}
	switch rule.Fault {
	case Truncate:
		if resp.ContentLength >= 0 && after >= resp.ContentLength {
			after = max(resp.ContentLength-1, 0)
		}
		io.CopyN(w, resp.Body, after)
		rc.Flush()
		if conn, _, err := rc.Hijack(); err == nil {
			conn.Close()
		}
	case StallBody:
		io.CopyN(w, resp.Body, after)
		rc.Flush()
		if p.hold(req.Context(), rule.Stall) {
			io.Copy(w, resp.Body)
		}
	case Corrupt:
		at := after
		if resp.ContentLength >= 0 && at >= resp.ContentLength {
			at = resp.ContentLength - 1
		}
		io.Copy(w, &flipReader{r: resp.Body, at: at})
	case Throttle:
		buf := make([]byte, max(min(32<<10, rule.Rate), 1))
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				rc.Flush()
				if !p.hold(req.Context(), time.Duration(float64(n)/float64(rule.Rate)*float64(time.Second))+1) {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// reset closes the client's connection with a TCP RST (SO_LINGER 0).
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection anyway
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// flipReader inverts the byte at offset at of r.
type flipReader struct {
	r   io.Reader
	at  int64
	off int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.off; f.at >= 0 && i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

// s3Codes names the S3 error code sent with a status.
var s3Codes = map[int][2]string{
	http.StatusInternalServerError: {"InternalError", "We encountered an internal error. Please try again."},
	http.StatusServiceUnavailable:  {"SlowDown", "Please reduce your request rate."},
	http.StatusTooManyRequests:     {"SlowDown", "Please reduce your request rate."},
	http.StatusBadGateway:          {"BadGateway", "Bad gateway."},
	http.StatusForbidden:           {"AccessDenied", "Access Denied"},
	http.StatusConflict:            {"ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource. Please try again."},
}

// writeS3Error answers rule's status with an S3-style XML error document.
func writeS3Error(w http.ResponseWriter, req *http.Request, rule *Rule) {
	code, retryAfter := rule.Code, rule.RetryAfter
	if code == 0 {
		code = http.StatusServiceUnavailable
	}
	c, ok := s3Codes[code]
	if !ok {
		c = [2]string{strings.ReplaceAll(http.StatusText(code), " ", ""), http.StatusText(code)}
	}
	if rule.S3Code != "" {
		c = [2]string{rule.S3Code, rule.Message}
	}
	w.Header().Set("Content-Type", "application/xml")
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>`,
		c[0], c[1], xmlEscape(req.URL.Path))
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

const htmlPage = `<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><h1>Bad Gateway</h1><p>The upstream server is temporarily unavailable. Please try again later.</p></body></html>
`
