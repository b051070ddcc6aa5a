package source_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/source"
)

// TestFetchIfChanged: against servers that send an ETag only or a
// Last-Modified only, a fetch with the validators of the last answer is
// answered not modified, one with other validators gets the file, and the
// Retrying and metered wrappers pass both through.
func TestFetchIfChanged(t *testing.T) {
	body := []byte("hello, conditional world")
	mod := time.Date(2025, 7, 24, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		etag  bool
		stale source.Validators
	}{
		{"etag", true, source.Validators{ETag: `"other"`}},
		{"last-modified", false, source.Validators{LastModified: mod.Add(-time.Hour).Format(http.TimeFormat)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				m := time.Time{}
				if c.etag {
					w.Header().Set("ETag", `"v1"`)
				} else {
					m = mod
				}
				http.ServeContent(w, r, "f", m, bytes.NewReader(body))
			}))
			defer srv.Close()
			h, err := source.NewHTTP(srv.URL+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			var meter source.Meter
			f := source.NewRetrying(meter.Fetcher(h), source.RetryPolicy{Attempts: 1}).(source.ConditionalFetcher)
			ctx := context.Background()
			rc, _, got, err := f.FetchIfChanged(ctx, "f", source.Validators{})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(data, body) || got.Zero() {
				t.Fatalf("first fetch: %q, validators %+v", data, got)
			}
			if _, _, _, err := f.FetchIfChanged(ctx, "f", got); !errors.Is(err, source.ErrNotModified) {
				t.Errorf("with the validators of the last answer: %v, want ErrNotModified", err)
			}
			rc, _, _, err = f.FetchIfChanged(ctx, "f", c.stale)
			if err != nil {
				t.Fatalf("with stale validators: %v", err)
			}
			data, _ = io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(data, body) {
				t.Errorf("with stale validators: %q", data)
			}
			if meter.Requests() != 3 || meter.Bytes() != 2*int64(len(body)) {
				t.Errorf("meter: %d requests, %d bytes; want 3 and %d", meter.Requests(), meter.Bytes(), 2*len(body))
			}
		})
	}
}
