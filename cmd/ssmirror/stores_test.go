package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// capLine matches doctor's row of a capability and what it found.
func capLine(name string, found bool) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+` + ui.YesNo(found) + `\s`)
}

// checkDoctor runs doctor on target and checks the capability rows and
// the JSON document against want.
func checkDoctor(t *testing.T, dst string, flags []string, kind string, want target.Capabilities) {
	t.Helper()
	out, errOut, code := run(t, append(append([]string{"doctor"}, flags...), dst)...)
	if code != 0 {
		t.Fatalf("doctor exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("ssmirror doctor %s:\n%s", dst, out)
	for _, row := range ui.CapabilityRows(kind, want) {
		if !capLine(row.Name, row.OK).MatchString(out) {
			t.Errorf("doctor does not print %s %s:\n%s", row.Name, ui.YesNo(row.OK), out)
		}
	}
	out, errOut, code = run(t, append(append([]string{"doctor", "--json"}, flags...), dst)...)
	var doc struct {
		Kind         string              `json:"kind"`
		Capabilities target.Capabilities `json:"capabilities"`
		Checks       []target.Check      `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("doctor --json exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if doc.Kind != kind || doc.Capabilities != want || len(doc.Checks) == 0 {
		t.Errorf("doctor --json: capabilities %+v (%d checks), want %+v", doc.Capabilities, len(doc.Checks), want)
	}
}

// TestDoctorRealServers: doctor prints what every real server of the
// matrix honours.
func TestDoctorRealServers(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		setS3Env(t, srv)
		bucket := srv.NewBucket(t)
		checkDoctor(t, "s3://"+bucket+"/mirror", []string{"--endpoint", srv.Endpoint, "--path-style"}, target.KindS3, probedCaps[srv.Kind])
	})
}

// TestDoctorDirectory: doctor on a local directory checks the file
// system calls it rests on and speaks of them, not of S3 headers.
func TestDoctorDirectory(t *testing.T) {
	dir := t.TempDir()
	checkDoctor(t, dir, nil, target.KindDirectory, target.Full)
	out, _, _ := run(t, "doctor", dir)
	if strings.Contains(out, "x-amz") || strings.Contains(out, "If-None-Match") || !strings.Contains(out, "link(2)") {
		t.Errorf("doctor on a directory:\n%s", out)
	}
}

// probedCaps is what each real server honours.
var probedCaps = map[s3test.Kind]target.Capabilities{
	s3test.Versity:   target.Full,
	s3test.MinIO:     target.Full,
	s3test.SeaweedFS: target.Full,
}

// emulatedCaps is what each emulation honours.
var emulatedCaps = map[string]target.Capabilities{
	"ignores-conditional-writes": {ConditionalWrites: false, ChecksumSHA256: true, ContentMD5: true, StartAfter: true, Metadata: true},
	"rejects-checksum-header":    {ConditionalWrites: true, ChecksumSHA256: false, ContentMD5: true, StartAfter: true, Metadata: true},
	"ignores-wrong-checksum":     {ConditionalWrites: true, ChecksumSHA256: false, ContentMD5: true, StartAfter: true, Metadata: true},
	"ignores-start-after":        {ConditionalWrites: true, ChecksumSHA256: true, ContentMD5: true, StartAfter: false, Metadata: true},
	"conflicts-409":              target.Full,
}

// emulatedStore starts a proxy emulating name in front of srv.
func emulatedStore(t *testing.T, srv *s3test.Server, name string) *faultproxy.Proxy {
	t.Helper()
	px := faultproxy.Start(t, srv.Endpoint)
	px.Credentials = &faultproxy.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region}
	px.Emulate(name)
	return px
}

// TestStoreEmulations: for each emulated store, doctor prints what it
// honours, and a sync does what the README's table of stores says:
// refused without --single-writer where conditional writes are ignored
// (exit 2, naming the store and the feature), published with it (saying
// every run that the lease is advisory); published with Content-MD5, a
// sequential listing or conflicts tried again elsewhere, saying so in the
// plan, the summary and --json.
func TestStoreEmulations(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	for _, e := range faultproxy.Emulations {
		t.Run(e.Name, func(t *testing.T) {
			f := newFixture(t)
			px := emulatedStore(t, srv, e.Name)
			bucket := srv.NewBucket(t)
			dst := "s3://" + bucket + "/maas"
			flags := []string{"--endpoint", px.URL, "--path-style"}
			want := emulatedCaps[e.Name]
			checkDoctor(t, dst, flags, target.KindS3, want)

			st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "maas", Endpoint: srv.Endpoint, PathStyle: true})
			if err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{"sync", "--keyring", f.keyring}, flags...), f.srv.Root(), dst)
			args = append(args, maasFilter...)
			if !want.ConditionalWrites {
				out, errOut, code := run(t, args...)
				if code != 2 || !strings.Contains(errOut, dst) || !strings.Contains(errOut, "ignores conditional writes") || !strings.Contains(errOut, "--single-writer") {
					t.Fatalf("sync without --single-writer: exit %d, want 2 naming the store and the feature\n%s%s", code, out, errOut)
				}
				if _, err := st.Stat(context.Background(), "streams/v1/index.json"); err == nil {
					t.Fatal("a refused sync published an index")
				}
				args = append(args, "--single-writer")
			}
			for i := range 2 { // every run says how it degrades
				out, errOut, code := run(t, append(args, "--json")...)
				if code != 0 {
					t.Fatalf("sync %d: exit %d\n%s%s", i, code, out, errOut)
				}
				var plan, summary struct {
					Type     string   `json:"type"`
					Warnings []string `json:"warnings"`
					Degraded []string `json:"degraded"`
				}
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					var ev struct {
						Type string `json:"type"`
					}
					json.Unmarshal([]byte(line), &ev)
					switch ev.Type {
					case "plan":
						json.Unmarshal([]byte(line), &plan)
					case "summary":
						json.Unmarshal([]byte(line), &summary)
					}
				}
				wantShort := map[string]string{"ignores-conditional-writes": "advisory lease", "rejects-checksum-header": "Content-MD5 uploads",
					"ignores-wrong-checksum": "Content-MD5 uploads", "ignores-start-after": "sequential listing"}[e.Name]
				if wantShort == "" {
					if len(summary.Degraded) != 0 {
						t.Errorf("sync %d: summary degraded %q, want none", i, summary.Degraded)
					}
					continue
				}
				if len(summary.Degraded) != 1 || summary.Degraded[0] != wantShort {
					t.Errorf("sync %d: summary degraded %q, want [%s]", i, summary.Degraded, wantShort)
				}
				if !strings.Contains(strings.Join(plan.Warnings, "\n"), dst) {
					t.Errorf("sync %d: the plan's warnings do not name the degraded store: %q", i, plan.Warnings)
				}
				if e.Name == "ignores-conditional-writes" && !strings.Contains(strings.Join(plan.Warnings, "\n"), "the lease is advisory") {
					t.Errorf("sync %d: the plan's warnings do not say the lease is advisory: %q", i, plan.Warnings)
				}
			}
			f.checkJSON(t, st, f.expected())

			switch e.Name {
			case "rejects-checksum-header", "ignores-wrong-checksum":
				// Every upload carried Content-MD5, and no checksum header.
				for _, r := range px.Requests() {
					if r.Method == http.MethodPut && !strings.Contains(r.Path, "/.ssmirror/probe-") {
						if r.Header.Get("X-Amz-Checksum-Sha256") != "" {
							t.Errorf("PUT %s carried x-amz-checksum-sha256", r.Path)
						}
						if r.Header.Get("Content-Md5") == "" && !strings.Contains(r.RawQuery, "uploadId") {
							t.Errorf("PUT %s carried no Content-MD5", r.Path)
						}
					}
				}
			case "ignores-start-after":
				for _, r := range px.Requests() {
					if r.Rule != "" && !strings.Contains(r.RawQuery, "probe-") {
						t.Errorf("a listing sent start-after after the probe: %s?%s", r.Path, r.RawQuery)
					}
				}
			}
		})
	}
}

// TestPublicReadPolicy: the README's public-read recipe for self-hosted
// stores, an AWS-style bucket policy granting s3:GetObject on the prefix,
// lets a client without credentials read the mirror (and nothing outside
// the prefix) on every real server of the matrix.
func TestPublicReadPolicy(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		ctx := context.Background()
		bucket := srv.NewBucket(t)
		c := srv.Client(t)
		for _, key := range []string{"maas/streams/v1/index.json", "private/x"} {
			if _, err := c.PutObject(ctx, bucket, key, strings.NewReader("{}"), 2, minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucket + `/maas/*"}]}`
		if err := c.SetBucketPolicy(ctx, bucket, policy); err != nil {
			t.Fatalf("%s: put-bucket-policy: %v", srv.Kind, err)
		}
		get := func(key string) int {
			resp, err := http.Get(srv.Endpoint + "/" + bucket + "/" + key)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := get("maas/streams/v1/index.json"); code != http.StatusOK {
			t.Errorf("%s: anonymous GET under the prefix: %d, want 200", srv.Kind, code)
		}
		if code := get("private/x"); code == http.StatusOK {
			t.Errorf("%s: anonymous GET outside the prefix: %d, want a refusal", srv.Kind, code)
		}
	})
}
