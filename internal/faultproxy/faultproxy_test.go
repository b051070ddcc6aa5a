package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// origin is a plain upstream: GET /blob/* serves body, anything else
// echoes what arrived (method, request URI, Host, a header, the body).
type origin struct {
	*httptest.Server
	body []byte
	mu   sync.Mutex
	hits int
}

func newOrigin(t *testing.T, size int) *origin {
	o := &origin{body: bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits++
		o.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/blob/") {
			http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(o.body))
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo-Method", r.Method)
		w.Header().Set("X-Echo-URI", r.RequestURI)
		w.Header().Set("X-Echo-Host", r.Host)
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.Header().Set("X-Echo-Length", strconv.FormatInt(r.ContentLength, 10))
		w.Write(body)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) Hits() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits
}

// freshClient does not reuse connections, so that a fault on one request
// reaches the caller instead of being retried by the transport on a new
// connection.
func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
}

func get(t *testing.T, url string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := freshClient().Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestForwardsTransparently(t *testing.T) {
	o := newOrigin(t, 100)
	p := Start(t, o.URL)
	count := p.Add(&Rule{Name: "count", Fault: Pass})

	body := []byte("signed payload")
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/bucket/a%3Ab/c%2Fd?x-id=PutObject&partNumber=1", bytes.NewReader(body))
	req.Host = "bucket.s3.example:9000" // what a client signs
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	resp, err := freshClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := map[string]string{
		"X-Echo-Method": "PUT",
		"X-Echo-URI":    "/bucket/a%3Ab/c%2Fd?x-id=PutObject&partNumber=1",
		"X-Echo-Host":   "bucket.s3.example:9000",
		"X-Echo-Auth":   req.Header.Get("Authorization"),
		"X-Echo-Length": strconv.Itoa(len(body)),
	}
	for k, v := range want {
		if g := resp.Header.Get(k); g != v {
			t.Errorf("upstream saw %s = %q, want %q", k, g, v)
		}
	}
	if !bytes.Equal(got, body) {
		t.Errorf("body = %q, want %q", got, body)
	}
	if count.Seen() != 1 || count.Applied() != 1 || p.Total() != 1 {
		t.Errorf("seen %d applied %d total %d, want 1 1 1", count.Seen(), count.Applied(), p.Total())
	}

	// HEAD keeps the upstream's Content-Length.
	resp, err = freshClient().Head(p.URL + "/blob/x")
	if err != nil || resp.ContentLength != 100 {
		t.Fatalf("HEAD: %v, length %d", err, resp.ContentLength)
	}
	resp.Body.Close()
	// Ranges pass through.
	req, _ = http.NewRequest(http.MethodGet, p.URL+"/blob/x", nil)
	req.Header.Set("Range", "bytes=90-")
	resp, err = freshClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != "bytes 90-99/100" || !bytes.Equal(got, o.body[90:]) {
		t.Errorf("range: %s %q %q", resp.Status, resp.Header.Get("Content-Range"), got)
	}
	log := p.Requests()
	if len(log) != 3 || log[2].Header.Get("Range") != "bytes=90-" || log[0].Method != "PUT" || log[0].RawQuery != "x-id=PutObject&partNumber=1" {
		t.Errorf("log = %+v", log)
	}
}

func TestReset(t *testing.T) {
	o := newOrigin(t, 1000)
	p := Start(t, o.URL)
	r := p.Add(&Rule{Path: "/blob/", First: 1, Fault: Reset})
	_, _, err := get(t, p.URL+"/blob/a")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("first GET: err = %v, want connection reset", err)
	}
	if o.Hits() != 0 {
		t.Errorf("reset request reached the upstream")
	}
	if _, body, err := get(t, p.URL+"/blob/a"); err != nil || !bytes.Equal(body, o.body) {
		t.Fatalf("second GET: %v", err)
	}
	if r.Seen() != 2 || r.Applied() != 1 {
		t.Errorf("seen %d applied %d, want 2 1", r.Seen(), r.Applied())
	}

	// AfterForward: the upstream acts, the answer is lost.
	p.Clear()
	p.Add(&Rule{Method: "PUT", Fault: Reset, AfterForward: true})
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/obj", strings.NewReader("x"))
	if _, err := freshClient().Do(req); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("PUT: err = %v, want connection reset", err)
	}
	if o.Hits() != 2 {
		t.Errorf("upstream hits = %d, want 2 (the PUT was forwarded)", o.Hits())
	}
}

func TestTruncate(t *testing.T) {
	o := newOrigin(t, 10000)
	p := Start(t, o.URL)
	p.Add(&Rule{Path: "/blob/", Nth: 1, Fault: Truncate, After: 3000})
	resp, body, err := get(t, p.URL+"/blob/a")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if resp.ContentLength != 10000 || !bytes.Equal(body, o.body[:3000]) {
		t.Errorf("Content-Length %d, got %d bytes; want 10000 announced, the first 3000 delivered", resp.ContentLength, len(body))
	}
	// After beyond the body still truncates (by one byte).
	p.Add(&Rule{Path: "/blob/", Fault: Truncate, After: 1 << 40})
	if _, body, err := get(t, p.URL+"/blob/a"); !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 9999 {
		t.Errorf("large After: %v, %d bytes", err, len(body))
	}
}

// stallClock is a Proxy.After that records each stall's length and ends
// it only when the test calls end.
type stallClock struct {
	asked chan time.Duration
	ch    chan time.Time
}

func newStallClock(p *Proxy) *stallClock {
	c := &stallClock{asked: make(chan time.Duration, 1), ch: make(chan time.Time)}
	p.After = func(d time.Duration) <-chan time.Time { c.asked <- d; return c.ch }
	return c
}

// end waits for the stall to begin, checks its length, and ends it.
func (c *stallClock) end(t *testing.T, want time.Duration, before func()) {
	t.Helper()
	if d := <-c.asked; d != want {
		t.Errorf("stalled for %v, want %v", d, want)
	}
	before()
	close(c.ch)
}

// getAsync runs get in the background.
func getAsync(t *testing.T, url string) <-chan []byte {
	res := make(chan []byte, 1)
	go func() {
		_, body, err := get(t, url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
		}
		res <- body
	}()
	return res
}

func TestStallHeaders(t *testing.T) {
	o := newOrigin(t, 100)
	p := Start(t, o.URL)
	clock := newStallClock(p)
	p.Add(&Rule{First: 1, Fault: StallHeaders}) // until the client gives up
	c := freshClient()
	c.Timeout = 200 * time.Millisecond
	if _, err := c.Get(p.URL + "/blob/a"); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	if o.Hits() != 0 {
		t.Errorf("an endless header stall forwarded the request")
	}
	p.Add(&Rule{Fault: StallHeaders, Stall: 150 * time.Millisecond})
	res := getAsync(t, p.URL+"/blob/a")
	clock.end(t, 150*time.Millisecond, func() {
		select {
		case <-res:
			t.Error("answered during the stall")
		default:
		}
		if o.Hits() != 0 {
			t.Errorf("forwarded during the stall")
		}
	})
	if body := <-res; !bytes.Equal(body, o.body) {
		t.Errorf("finite stall: got %d bytes, want the whole %d", len(body), len(o.body))
	}
}

func TestStallBody(t *testing.T) {
	o := newOrigin(t, 5000)
	p := Start(t, o.URL)
	clock := newStallClock(p)
	p.Add(&Rule{First: 1, Fault: StallBody, After: 100})
	resp, err := freshClient().Get(p.URL + "/blob/a")
	if err != nil {
		t.Fatal(err) // headers arrive
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 5000 {
		t.Fatalf("%s, length %d", resp.Status, resp.ContentLength)
	}
	head := make([]byte, 100)
	if _, err := io.ReadFull(resp.Body, head); err != nil || !bytes.Equal(head, o.body[:100]) {
		t.Fatalf("the bytes before the stall: %v", err)
	}
	got := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, resp.Body)
		got <- int(n)
	}()
	resp.Body.Close() // the reader returns
	if n := <-got; n != 0 {
		t.Errorf("delivered %d bytes after the first 100 of an endless stall, want none", n)
	}

	// A finite stall delivers everything once it is over.
	p.Clear()
	p.Add(&Rule{Fault: StallBody, After: 10, Stall: 150 * time.Millisecond})
	res := getAsync(t, p.URL+"/blob/a")
	clock.end(t, 150*time.Millisecond, func() {
		select {
		case <-res:
			t.Error("the body finished during the stall")
		default:
		}
	})
	if body := <-res; !bytes.Equal(body, o.body) {
		t.Errorf("finite stall: got %d bytes, want the whole %d", len(body), len(o.body))
	}
}

func TestStatus(t *testing.T) {
	o := newOrigin(t, 100)
	p := Start(t, o.URL)
	p.Add(&Rule{Nth: 1, Fault: Status, RetryAfter: 2 * time.Second})
	p.Add(&Rule{Nth: 1, Fault: Status, Code: 500})
	resp, body, err := get(t, p.URL+"/bucket/key")
	if err != nil || resp.StatusCode != 503 || !bytes.Contains(body, []byte("<Code>SlowDown</Code>")) ||
		!bytes.Contains(body, []byte("<Resource>/bucket/key</Resource>")) || resp.Header.Get("Retry-After") != "2" ||
		resp.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("503: %v %v %q %q", err, resp.Status, body, resp.Header)
	}
	resp, body, err = get(t, p.URL+"/bucket/key")
	if err != nil || resp.StatusCode != 500 || !bytes.Contains(body, []byte("<Code>InternalError</Code>")) {
		t.Errorf("500: %v %v %q", err, resp.Status, body)
	}
	if o.Hits() != 0 {
		t.Errorf("status faults reached the upstream %d times", o.Hits())
	}
	if resp, _, err = get(t, p.URL+"/blob/a"); err != nil || resp.StatusCode != 200 {
		t.Errorf("third request: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	o := newOrigin(t, 70000) // several reads
	p := Start(t, o.URL)
	for _, at := range []int64{0, 40000, 69999, 1 << 30} {
		p.Clear()
		p.Add(&Rule{Fault: Corrupt, After: at})
		resp, body, err := get(t, p.URL+"/blob/a")
		if err != nil || resp.StatusCode != 200 || len(body) != len(o.body) {
			t.Fatalf("at %d: %v, %d bytes", at, err, len(body))
		}
		want := min(at, int64(len(o.body)-1))
		var diff []int
		for i := range body {
			if body[i] != o.body[i] {
				diff = append(diff, i)
			}
		}
		if len(diff) != 1 || int64(diff[0]) != want || body[want] != ^o.body[want] {
			t.Errorf("at %d: differing bytes %v, want only %d, inverted", at, diff, want)
		}
	}
}

func TestHTML(t *testing.T) {
	o := newOrigin(t, 100)
	p := Start(t, o.URL)
	p.Add(&Rule{Fault: HTML})
	resp, body, err := get(t, p.URL+"/streams/v1/index.json")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(body, []byte("<html>")) || o.Hits() != 0 {
		t.Errorf("html: %v %v %q %q hits %d", err, resp.Status, resp.Header.Get("Content-Type"), body, o.Hits())
	}
}

func TestSelection(t *testing.T) {
	o := newOrigin(t, 10)
	p := Start(t, o.URL)
	first := p.Add(&Rule{Name: "first2", Method: "GET", Path: "/a/", First: 2, Fault: Status})
	nth := p.Add(&Rule{Name: "third", PathRE: regexp.MustCompile(`^/b/\d+$`), Nth: 3, Fault: Status, Code: 500})
	every := p.Add(&Rule{Name: "every2", Path: "/c/", Every: 2, Fault: HTML})
	var codes []string
	for _, path := range []string{"/a/1", "/a/2", "/a/3", "/b/1", "/b/x", "/b/2", "/b/3", "/b/4", "/c/1", "/c/2", "/c/3", "/c/4"} {
		resp, _, err := get(t, p.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, fmt.Sprint(resp.StatusCode))
	}
	// /c/ HTML faults are 200 too: check them in the log.
	if got, want := strings.Join(codes, " "), "503 503 200 200 200 200 500 200 200 200 200 200"; got != want {
		t.Errorf("statuses %s, want %s", got, want)
	}
	var faulted []string
	for _, r := range p.Requests() {
		if r.Fault != Pass {
			faulted = append(faulted, r.Path+"="+r.Rule)
		}
	}
	if got, want := strings.Join(faulted, " "), "/a/1=first2 /a/2=first2 /b/3=third /c/2=every2 /c/4=every2"; got != want {
		t.Errorf("faulted %s, want %s", got, want)
	}
	for _, c := range []struct {
		r             *Rule
		seen, applied int64
	}{{first, 3, 2}, {nth, 4, 1}, {every, 4, 2}} {
		if c.r.Seen() != c.seen || c.r.Applied() != c.applied {
			t.Errorf("%s: seen %d applied %d, want %d %d", c.r.Name, c.r.Seen(), c.r.Applied(), c.seen, c.applied)
		}
	}
	// POST does not match a GET rule.
	p.Clear()
	get := p.Add(&Rule{Method: "GET", Fault: Status})
	resp, err := freshClient().Post(p.URL+"/a/1", "text/plain", strings.NewReader("x"))
	if err != nil || resp.StatusCode != 200 || get.Seen() != 0 {
		t.Errorf("POST matched a GET rule: %v %v seen %d", err, resp.Status, get.Seen())
	}
	// The first rule that applies wins; later ones do not see the request.
	p.Clear()
	a := p.Add(&Rule{Fault: Status})
	b := p.Add(&Rule{Fault: HTML})
	freshClient().Get(p.URL + "/x")
	if a.Applied() != 1 || b.Seen() != 0 {
		t.Errorf("a applied %d, b seen %d", a.Applied(), b.Seen())
	}
}

func TestRuleValidation(t *testing.T) {
	p, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Rule{{First: 1, Nth: 2}, {Every: -1}, {After: -1}, {Fault: Fault(99)}, {Fault: Throttle}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%+v) did not panic", r)
				}
			}()
			p.Add(r)
		}()
	}
	if _, err := New("ftp://x"); err == nil {
		t.Error("ftp upstream accepted")
	}
}

// TestThrottle: the body arrives whole, and the waits on the proxy's clock
// add up to the body's time at the rate.
func TestThrottle(t *testing.T) {
	o := newOrigin(t, 100000)
	p := Start(t, o.URL)
	var (
		mu     sync.Mutex
		waited time.Duration
	)
	p.After = func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waited += d
		mu.Unlock()
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	p.Add(&Rule{Fault: Throttle, Rate: 10000})
	resp, body, err := get(t, p.URL+"/blob/a")
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, o.body) {
		t.Fatalf("throttled body: %v, %d of %d bytes", err, len(body), len(o.body))
	}
	mu.Lock()
	defer mu.Unlock()
	// 10 s, and 1 ns more for each chunk.
	if waited < 10*time.Second || waited > 10*time.Second+time.Microsecond {
		t.Errorf("waited %v for 100000 bytes at 10000 B/s, want 10s", waited)
	}
}
