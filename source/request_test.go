package source

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// TestGetRequest: the GET of an item is the request http.NewRequest makes
// of the resolved URL's text: same request line, host, credentials and
// headers, for paths that need escaping too.
func TestGetRequest(t *testing.T) {
	for _, root := range []string{"http://127.0.0.1:8080/", "https://user:pw@mirror.example/ubuntu/stable/", "http://[::1]:80/a%20b/", "http://host:/x/"} {
		r, err := url.Parse(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"streams/v1/index.json", "noble/amd64/20250709/squashfs", "a b/c%41+d?e#f;g", "ü/ß.img", "x/./y/../z"} {
			u := r.ResolveReference(&url.URL{Path: p})
			want, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			want.Header.Set("Accept-Encoding", "identity")
			got := getRequest(context.Background(), u)
			if got.Method != want.Method || got.URL.String() != want.URL.String() || got.URL.RequestURI() != want.URL.RequestURI() ||
				got.Host != want.Host || got.Proto != want.Proto || !reflect.DeepEqual(got.URL.User, want.URL.User) || !reflect.DeepEqual(got.Header, want.Header) {
				t.Errorf("GET %s%s: %s %s (host %q, %v), want %s %s (host %q, %v)", root, p,
					got.Method, got.URL.RequestURI(), got.Host, got.Header, want.Method, want.URL.RequestURI(), want.Host, want.Header)
			}
		}
	}
}

// TestParseContentRange: a range must name its first and last byte and a
// known total the last byte is inside of; a single byte is a range.
func TestParseContentRange(t *testing.T) {
	for _, c := range []struct {
		in                string
		start, end, total int64
		ok                bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 5-5/10", 5, 5, 10, true},
		{"bytes 0-0/1", 0, 0, 1, true},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes 6-5/10", 0, 0, 0, false},
		{"bytes 0-9/*", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"bytes 09/10", 0, 0, 0, false},
		{"bits 0-9/10", 0, 0, 0, false},
	} {
		start, end, total, ok := parseContentRange(c.in)
		if start != c.start || end != c.end || total != c.total || ok != c.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", c.in, start, end, total, ok, c.start, c.end, c.total, c.ok)
		}
	}
}

// TestLowSpeedOn: the low-speed check runs only with both a rate and a
// window.
func TestLowSpeedOn(t *testing.T) {
	for _, c := range []struct {
		l    LowSpeed
		want bool
	}{
		{LowSpeed{Rate: 1, Window: time.Second}, true},
		{LowSpeed{Rate: 0, Window: time.Second}, false},
		{LowSpeed{Rate: 1, Window: 0}, false},
	} {
		if got := c.l.on(); got != c.want {
			t.Errorf("%+v.on() = %v, want %v", c.l, got, c.want)
		}
	}
}

// TestRetryDefaults: a policy of one attempt keeps it (no retry); the
// zero policy takes the default attempts and delays.
func TestRetryDefaults(t *testing.T) {
	if got := (RetryPolicy{Attempts: 1}).withDefaults().Attempts; got != 1 {
		t.Errorf("Attempts 1 became %d", got)
	}
	if got := (RetryPolicy{}).withDefaults(); got.Attempts != DefaultAttempts || got.BaseDelay != DefaultBaseDelay || got.MaxDelay != DefaultMaxDelay {
		t.Errorf("the zero policy became %+v, want the defaults", got)
	}
}

// TestDelayNoOverflow: the backoff of a late retry under the largest
// MaxDelay a setting can give is that bound, never a wrapped-around
// negative or a shorter wait.
func TestDelayNoOverflow(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Duration(math.MaxInt64), NoJitter: true}
	for _, c := range []struct {
		n    int
		want time.Duration
	}{
		{1, time.Second},
		{20, time.Second << 19},
		{100, time.Duration(math.MaxInt64 - 1)}, // MaxDelay/2*2
	} {
		if d := p.Delay(c.n, nil); d != c.want {
			t.Errorf("Delay(%d) = %v, want %v", c.n, d, c.want)
		}
	}
}
