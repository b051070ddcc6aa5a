package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	ok := map[string]Size{"0": 0, "1024": 1024, "16MiB": 16 << 20, "5M": 5 << 20, "5 MB": 5 << 20, "2G": 2 << 30, "1k": 1024, "3KiB": 3072, "7B": 7, "1T": 1 << 40}
	for in, want := range ok {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1.5M", "1P", "99999999999T"} {
		if _, err := ParseSize(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSize(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	base := func() Sync { s := Default(); s.Source, s.Target = "https://x/", "/tmp/m"; return s }
	cases := []struct {
		mod  func(*Sync)
		want string // "" valid, else the key named in the error
	}{
		{func(*Sync) {}, ""},
		{func(s *Sync) { s.Source = "" }, "source"},
		{func(s *Sync) { s.Target = " " }, "target"},
		{func(s *Sync) { s.Max = -1 }, "max"},
		{func(s *Sync) { s.Transfers = 0 }, "transfers"},
		{func(s *Sync) { s.NoVerify = true; s.Keyrings = []string{"k"} }, "no_verify"},
		{func(s *Sync) { s.SignedMetadata = "maybe" }, "signed_metadata"},
		{func(s *Sync) { s.SignedMetadata = "resign" }, "signed_metadata"},
		{func(s *Sync) { s.SignKey = "k"; s.SignedMetadata = "none" }, "sign_key"},
		{func(s *Sync) { s.S3.Endpoint = "minio:9000" }, "s3.endpoint"},
		{func(s *Sync) { s.S3.PartSize = 1 << 20 }, "s3.part_size"},
		{func(s *Sync) { s.S3.MultipartThreshold = 6 << 30 }, "s3.multipart_threshold"},
		{func(s *Sync) { s.S3.MultipartThreshold = -1 }, "s3.multipart_threshold"},
		{func(s *Sync) { s.GCGrace = Duration(-time.Second) }, "gc_grace"},
		{func(s *Sync) { s.Wait = Duration(-time.Second) }, "wait"},
		{func(s *Sync) { s.SignKey = "k" }, ""},
	}
	for i, c := range cases {
		s := base()
		c.mod(&s)
		err := s.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("case %d: %v", i, err)
		case c.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want+":")):
			t.Errorf("case %d: err = %v, want one naming %s", i, err, c.want)
		}
	}
}

func TestParseLowSpeed(t *testing.T) {
	ok := map[string]LowSpeed{
		"":          {},
		"off":       {},
		"10K/30s":   {Rate: 10 << 10, Window: Duration(30 * time.Second)},
		"1000/1m":   {Rate: 1000, Window: Duration(time.Minute)},
		" 1M / 5s ": {Rate: 1 << 20, Window: Duration(5 * time.Second)},
	}
	for in, want := range ok {
		got, err := ParseLowSpeed(in)
		if err != nil || got != want {
			t.Errorf("ParseLowSpeed(%q) = %v, %v; want %v", in, got, err, want)
			continue
		}
		if back, err := ParseLowSpeed(got.String()); err != nil || back != got {
			t.Errorf("ParseLowSpeed(%q) = %v, %v: does not read back its String %q", in, back, err, got.String())
		}
	}
	for in, why := range map[string]string{
		"10K":     "no /",
		"0/30s":   "rate",
		"x/30s":   "rate",
		"10K/0s":  "duration",
		"10K/-1s": "duration",
		"10K/abc": "duration",
	} {
		_, err := ParseLowSpeed(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "RATE/DURATION") {
			t.Errorf("ParseLowSpeed(%q) = %v, want ErrInvalid naming the %s", in, err, why)
		}
	}
}

// FuzzParseLowSpeed: parsing never panics, errors wrap ErrInvalid, and
// what parses reads back from its String as the same setting.
func FuzzParseLowSpeed(f *testing.F) {
	for _, s := range []string{"", "off", "10K/30s", "1000/1m", "0/1s", "1M/0s", "x/y", "1/1ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLowSpeed(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		if back, err := ParseLowSpeed(l.String()); err != nil || back != l {
			t.Fatalf("%q parsed as %v, whose String %q reads back as %v, %v", s, l, l.String(), back, err)
		}
	})
}
