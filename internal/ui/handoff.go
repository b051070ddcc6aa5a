package ui

import (
	"encoding/base64"
	"fmt"
	"io"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// SyncSummary is the summary of a sync run that got as far as planning:
// what it transferred, published and deleted (when it applied a plan), its
// upstream traffic, and what the store lacked. err and exitStatus are how
// the run ended.
func SyncSummary(res *mirror.Result, up *mirror.Upstream, bwlimit config.Timetable, err error, exitStatus int) Summary {
	p := res.Plan
	s := Summary{Source: p.Source, Target: p.Target, UpstreamRequests: up.Meter.Requests(), UpstreamBytes: up.Meter.Bytes(),
		Degraded: mirror.Shorts(res.Degraded)}
	if !res.Applied { // nothing to do
		return s
	}
	a := res.Apply
	s.Transferred, s.TransferredBytes, s.Adopted, s.Failed = a.Transferred, a.TransferredBytes, a.Adopted, len(a.Failed)
	s.Published, s.Deleted, s.IndexPublished = a.Published, a.Deleted, a.IndexPublished
	s.Duration, s.ExitStatus, s.Err, s.Sources = res.Duration, exitStatus, err, up.SourceBytes()
	if !bwlimit.Off() {
		s.BWLimit = bwlimit.String()
	}
	return s
}

// HandOff is what the operator is told after a sync: where clients reach
// the mirror and, as it applies, how to trust its signing key, how to
// make a new bucket prefix readable, and where to browse it.
type HandOff struct {
	URL        string // where clients reach the mirror
	Store      target.Store
	BrowsePage bool // the run published the browse page and is not quiet
}

// WriteHandOff prints the hand-off of a sync run whose result is res and
// error err (res did not stop before planning).
func WriteHandOff(w io.Writer, h HandOff, res *mirror.Result, err error) {
	if !res.Applied { // nothing to do
		h.browsable(w)
		if res.Signer != nil {
			writeSigned(w, h.URL, res.Signer)
		}
		return
	}
	if err == nil && res.Signer != nil {
		writeSigned(w, h.URL, res.Signer)
	}
	if res.NewMirror {
		writeReadable(w, h.Store, h.URL)
	}
	if err == nil {
		h.browsable(w)
	}
}

// browsable prints where people browse the mirror.
func (h HandOff) browsable(w io.Writer) {
	if h.BrowsePage {
		fmt.Fprintf(w, "browse the mirror at %s%s\n", h.URL, plan.BrowsePage)
	}
}

// writeSigned prints what a MAAS operator pastes to use a re-signed mirror.
func writeSigned(w io.Writer, url string, key *gpg.SigningKey) {
	data := base64.StdEncoding.EncodeToString(key.PublicKeyring())
	fmt.Fprintf(w, `
The mirror is signed with key %s. To use it from MAAS:
  boot source URL:  %s
  keyring_data:     %s
  or keyring_filename: a copy of %s%s on the region controller, e.g.
  maas $PROFILE boot-sources create url=%s keyring_filename=/etc/maas/mirror-keyring.gpg
`, key.Fingerprint(), url, data, url, plan.KeyringGPG, url)
}

// writeReadable prints, after a mirror's first publication in a bucket, where
// clients read it and the commands that make its prefix readable without
// credentials, should the bucket be private.
func writeReadable(w io.Writer, dst target.Store, url string) {
	s, ok := dst.(*s3store.Store)
	if !ok {
		return
	}
	bucket, prefix := s.Location()
	resource := "arn:aws:s3:::" + bucket + "/" + prefix + "*"
	fmt.Fprintf(w, `
Clients (MAAS, LXD, a CDN) read this mirror at %s
If the bucket is private, make the prefix readable, e.g.:
  MinIO:  mc anonymous set download ALIAS/%s/%s
  AWS S3: aws s3api put-bucket-policy --bucket %s --policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"%s"}]}'
`, url, bucket, prefix, bucket, resource)
}
