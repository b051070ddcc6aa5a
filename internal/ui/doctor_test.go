package ui

import (
	"bytes"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/golden"
	"github.com/ssmirror/ssmirror/target"
)

// TestWriteDoctor: what doctor prints for a store that honours
// everything, for one that lacks every capability, and in each case for
// S3 and for a directory, whose rows speak of the file system calls it
// rests on and never of HTTP headers.
func TestWriteDoctor(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	none := target.Capabilities{}
	dirChecks := []target.Check{
		{Name: "link(2) to a new name, then again", Want: "made, then refused (exists)", Got: "failed: operation not permitted"},
		{Name: "extended attribute user.ssmirror.probe", Want: "kept", Got: "not kept"},
	}
	s3Checks := []target.Check{{Name: "If-None-Match: * on an existing key", Want: "412", Got: "200"}}
	for _, c := range []struct {
		name  string
		probe target.Probe
	}{
		{"doctor_s3_full.golden", target.Probe{Store: "s3://b/m", Kind: target.KindS3, Endpoint: "http://127.0.0.1:9000", Server: "MinIO", Time: at, Capabilities: target.Full}},
		{"doctor_s3_none.golden", target.Probe{Store: "s3://b/m", Kind: target.KindS3, Endpoint: "http://127.0.0.1:9000", Time: at, Checks: s3Checks, Capabilities: none}},
		{"doctor_dir_full.golden", target.Probe{Store: "/srv/mirror", Kind: target.KindDirectory, Time: at, Capabilities: target.Full}},
		{"doctor_dir_none.golden", target.Probe{Store: "/srv/mirror", Kind: target.KindDirectory, Time: at, Checks: dirChecks,
			Capabilities: target.Capabilities{ChecksumSHA256: true, ContentMD5: true, StartAfter: true}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var text, js bytes.Buffer
			if err := WriteDoctor(&text, c.probe, false); err != nil {
				t.Fatal(err)
			}
			if err := WriteDoctor(&js, c.probe, true); err != nil {
				t.Fatal(err)
			}
			if c.probe.Kind == target.KindDirectory && bytes.Contains(text.Bytes(), []byte("x-amz")) {
				t.Errorf("a directory's doctor speaks of S3 headers:\n%s", text.Bytes())
			}
			golden.Check(t, c.name, append(append(text.Bytes(), "\n--- --json\n"...), js.Bytes()...))
		})
	}
}
