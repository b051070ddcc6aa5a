package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
)

// verifyOptions are the flags of verify.
type verifyOptions struct {
	keyrings  []string
	allowSHA1 bool
	checksums bool
	json      bool
	transfers int
	s3        config.S3
}

func (o *verifyOptions) AddFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.keyrings, "keyring", nil, "OpenPGP keyring (binary or armored) to verify the published .sjson files; repeatable (default "+defaultKeyring+" if present and the mirror publishes no key of its own)")
	f.BoolVar(&o.allowSHA1, "allow-sha1", false, "accept signatures made with SHA-1 digests (some old streams)")
	f.BoolVar(&o.checksums, "checksums", false, "read every referenced object and check its checksum (sha512, sha256 or md5, the strongest the catalog gives)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per finding and line, then a summary object")
	f.IntVar(&o.transfers, "transfers", config.DefaultTransfers, "objects read at once with --checksums")
	addS3Flags(f, &o.s3)
}

const verifyExitHelp = `Exit status:
  0    the mirror is sound (unreferenced objects alone are warnings)
  1    error: target unreachable, no mirror published there, unreadable
       metadata, ...
  2    bad usage: bad flag or keyring file
  4    integrity failure: an object the metadata references is missing or
       has the wrong size or checksum, or a signature did not verify
  130  interrupted`

func newVerifyCommand() *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [flags] TARGET",
		Short: "Audit a published mirror: missing, damaged and unreferenced objects, signatures",
		Long: `Audit a mirror published in a directory or in s3://BUCKET[/PREFIX].

verify reads the mirror's streams/v1/index.json and the products files it
names, lists the target once, and checks that every object the metadata
references exists with the size the catalog gives. With --checksums it also
reads every referenced object and checks its strongest checksum (sha512,
sha256, md5). A plain sync repairs missing objects and wrong sizes; sync
--verify-existing also copies again objects with wrong bytes.

When the mirror publishes signed metadata (streams/v1/index.sjson), the signed
index and the products .sjson files it names are verified with --keyring. When
no --keyring is given and the mirror publishes its own key
(streams/v1/mirror-keyring.gpg), the signatures are not checked: a key read from
the mirror itself proves nothing; check its fingerprint, then give it with
--keyring. Otherwise the default keyring is used when installed.

When the signed index verifies, verify says whose it is: upstream (the
upstream's .sjson files, byte for byte) or resign (signed with the key the
mirror publishes), and counts the paths the signed products files name that
the mirror does not hold. Upstream signed metadata of a filtered mirror names
what the upstream offers, so there the count is informational; re-signed
metadata must be exact: a signed products file whose content is not the
.json one, and each path it names that the mirror lacks, is a problem.

Objects that the metadata does not reference are reported as warnings, with
the time since when they are pending deletion if sync's garbage collection
state records them (they go when the grace period is over); metadata files
(streams/v1/*.json, *.sjson, *.gpg, *.asc) and anything under .ssmirror/ are
not reported.

One line per finding:
  missing PATH
  size PATH: have N, catalog says M
  checksum PATH: REASON
  signature FILE: REASON
  signed PATH: REASON
  unreferenced PATH (N bytes[, pending deletion since TIME])
  note: TEXT
then a summary line starting with OK or FAILED. --json prints one JSON object
per line instead, with "type" set to missing, size, checksum, signature, signed,
unreferenced, note or, last, summary.

` + verifyExitHelp,
		Example: `  ssmirror verify /srv/mirror
  ssmirror verify --checksums --endpoint https://minio.example.com --path-style \
    --keyring /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg s3://mirror/maas/stable`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), o, args, cmd.OutOrStdout())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// Finding types.
const (
	findMissing      = "missing"
	findSize         = "size"
	findChecksum     = "checksum"
	findSignature    = "signature"
	findUnreferenced = "unreferenced"
	findSigned       = "signed" // re-signed metadata that is not exact
	findNote         = "note"
)

// finding is one line of a verify report.
type finding struct {
	Type        string `json:"type"`
	Path        string `json:"path,omitempty"`
	Size        *int64 `json:"size,omitempty"`         // bytes the target holds
	CatalogSize *int64 `json:"catalog_size,omitempty"` // bytes the catalog says
	Error       string `json:"error,omitempty"`
	Message     string `json:"message,omitempty"`
	// PendingSince is when an unreferenced object left the metadata, if
	// the target's garbage collection state records it (it is deleted
	// once the grace period is over).
	PendingSince *time.Time `json:"pending_since,omitempty"`
}

// problem reports whether f makes the mirror unsound.
func (f finding) problem() bool {
	switch f.Type {
	case findMissing, findSize, findChecksum, findSignature, findSigned:
		return true
	}
	return false
}

func (f finding) String() string {
	switch f.Type {
	case findMissing:
		return "missing " + f.Path
	case findSize:
		return fmt.Sprintf("size %s: have %d, catalog says %d", f.Path, *f.Size, *f.CatalogSize)
	case findChecksum, findSignature, findSigned:
		return fmt.Sprintf("%s %s: %s", f.Type, f.Path, f.Error)
	case findUnreferenced:
		if f.PendingSince != nil {
			return fmt.Sprintf("unreferenced %s (%d bytes, pending deletion since %s)", f.Path, *f.Size, f.PendingSince.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("unreferenced %s (%d bytes)", f.Path, *f.Size)
	}
	return "note: " + f.Message
}

func int64p(n int64) *int64 { return &n }

// Values of verifySummary.Signatures.
const (
	sigsNone       = "none"        // no index.sjson published
	sigsGood       = "good"        // every signed file verified
	sigsBad        = "bad"         // at least one did not
	sigsNotChecked = "not checked" // no keyring to check with
)

// verifySummary is the last line of a verify report.
type verifySummary struct {
	Type             string `json:"type"` // "summary"
	Target           string `json:"target"`
	OK               bool   `json:"ok"`
	Referenced       int    `json:"referenced"`
	ReferencedBytes  int64  `json:"referenced_bytes"`
	Missing          int    `json:"missing"`
	WrongSize        int    `json:"wrong_size"`
	ChecksumsChecked bool   `json:"checksums_checked"`
	BadChecksums     int    `json:"bad_checksums"`
	Signatures       string `json:"signatures"`
	SignedFiles      int    `json:"signed_files"` // .sjson files that verified
	BadSignatures    int    `json:"bad_signatures"`
	// SignedMetadata is "upstream" (the upstream's .sjson files) or
	// "resign" (signed with the key the mirror publishes), when the
	// signed index verified.
	SignedMetadata string `json:"signed_metadata,omitempty"`
	// SignedNotMirrored counts the paths the verified signed products
	// files name that the target does not hold: informational for
	// upstream signed metadata, a problem for re-signed metadata.
	SignedNotMirrored int   `json:"signed_not_mirrored"`
	Unreferenced      int   `json:"unreferenced"`
	UnreferencedBytes int64 `json:"unreferenced_bytes"`
	PendingDeletion   int   `json:"pending_deletion"` // unreferenced objects garbage collection will delete
}

func (s verifySummary) String() string {
	verdict := "OK"
	if !s.OK {
		verdict = "FAILED"
	}
	parts := []string{fmt.Sprintf("%s (%s)", count(s.Referenced, "referenced object"), plan.Bytes(s.ReferencedBytes))}
	if s.Missing+s.WrongSize == 0 {
		parts[0] += ", all present with their catalog sizes"
	} else {
		parts[0] += fmt.Sprintf(", %d missing, %d with the wrong size", s.Missing, s.WrongSize)
	}
	switch {
	case !s.ChecksumsChecked:
		parts = append(parts, "checksums not checked (--checksums)")
	case s.BadChecksums == 0:
		parts = append(parts, "checksums good")
	default:
		parts = append(parts, count(s.BadChecksums, "bad checksum"))
	}
	switch s.Signatures {
	case sigsNone:
		parts = append(parts, "no signed metadata")
	case sigsGood:
		parts = append(parts, fmt.Sprintf("signatures good (%s)", count(s.SignedFiles, "file")))
	case sigsBad:
		parts = append(parts, count(s.BadSignatures, "bad signature"))
	default:
		parts = append(parts, "signatures not checked")
	}
	if s.SignedMetadata != "" {
		parts = append(parts, fmt.Sprintf("signed metadata (%s) names %s not in the mirror", s.SignedMetadata, count(s.SignedNotMirrored, "path")))
	}
	unref := fmt.Sprintf("%s (%s", count(s.Unreferenced, "unreferenced object"), plan.Bytes(s.UnreferencedBytes))
	if s.PendingDeletion > 0 {
		unref += fmt.Sprintf(", %d pending deletion", s.PendingDeletion)
	}
	parts = append(parts, unref+")")
	return fmt.Sprintf("%s %s: %s", verdict, s.Target, strings.Join(parts, "; "))
}

// count returns "1 noun" or "n nouns".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func runVerify(ctx context.Context, o verifyOptions, args []string, stdout io.Writer) error {
	if o.transfers < 1 || o.transfers > 1024 {
		return fmt.Errorf("%w: --transfers: %d is not between 1 and 1024", config.ErrInvalid, o.transfers)
	}
	if err := o.s3.Validate(); err != nil {
		return err
	}
	loc := args[0]
	if !strings.Contains(loc, "://") || strings.HasPrefix(loc, "file://") {
		// openTarget creates a missing directory; an audit must not.
		dir := strings.TrimPrefix(loc, "file://")
		if fi, err := os.Stat(dir); err != nil {
			return fmt.Errorf("target: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("target %s: not a directory", dir)
		}
	}
	var kr *gpg.Keyring
	if len(o.keyrings) > 0 {
		var err error
		if kr, err = loadKeyring(o.keyrings, false, plan.IndexSJSON); err != nil {
			return err
		}
	}
	dst, err := openTarget(ctx, loc, o.s3)
	if err != nil {
		return err
	}
	a := &audit{dst: dst, opts: o, keyring: kr, sum: verifySummary{Type: "summary", Target: dst.String()}}
	if err := a.run(ctx); err != nil {
		return err
	}
	if err := a.write(stdout); err != nil {
		return err
	}
	return a.err()
}

// audit is one run of verify.
type audit struct {
	dst      target.Store
	opts     verifyOptions
	keyring  *gpg.Keyring // from --keyring; nil when none was given
	state    plan.State
	findings []finding
	sum      verifySummary
	// meta holds the metadata keys the publication references (index,
	// products files, signed twins, published key).
	meta map[string]bool
	// signedOnly holds the paths verified signed products files name
	// that the target does not hold.
	signedOnly map[string]bool
}

func (a *audit) add(f finding) { a.findings = append(a.findings, f) }

func (a *audit) run(ctx context.Context) error {
	st, err := apply.LoadState(ctx, a.dst, apply.LoadOptions{})
	if err != nil {
		return a.incomplete(ctx, st, err)
	}
	if st.Published == nil {
		return fmt.Errorf("%s: no mirror is published here: %s not found", a.dst, plan.IndexJSON)
	}
	a.state = st
	a.meta = map[string]bool{plan.IndexJSON: true, plan.IndexSJSON: true, plan.KeyringGPG: true, plan.KeyringASC: true}
	for _, e := range st.Published.Index.Entries {
		a.meta[e.Path] = true
		a.meta[plan.SignedPath(e.Path)] = true
	}
	items := a.items()
	if a.opts.checksums {
		if err := a.checkSums(ctx, items); err != nil {
			return err
		}
	}
	if err := a.signatures(ctx); err != nil {
		return err
	}
	a.unreferenced(items)
	return nil
}

// incomplete handles a publication LoadState could not read: products
// files the index names but the target lacks are reported as missing;
// any other failure is returned.
func (a *audit) incomplete(ctx context.Context, st plan.State, err error) error {
	if !errors.Is(err, source.ErrNotExist) {
		return err
	}
	data, rerr := source.ReadStored(ctx, a.dst, plan.IndexJSON)
	if rerr != nil {
		return err
	}
	idx, derr := catalog.DecodeIndex(plan.IndexJSON, data)
	if derr != nil {
		return err
	}
	for _, cid := range catalog.SortedKeys(idx.Entries) {
		e := idx.Entries[cid]
		if _, ok := st.Objects[e.Path]; !ok && e.Format() == catalog.FormatProducts {
			a.add(finding{Type: findMissing, Path: e.Path})
			a.sum.Missing++
		}
	}
	if a.sum.Missing == 0 {
		return err
	}
	a.sum.Signatures = sigsNotChecked
	a.add(finding{Type: findNote, Message: "items not checked: the products files the index names are incomplete"})
	return nil
}

// items checks every object the published products files reference
// against the listing and returns them by path (the first item naming
// each path).
func (a *audit) items() map[string]*catalog.Item {
	items := map[string]*catalog.Item{}
	checked := map[string]map[int64]bool{} // path -> catalog sizes already checked
	pub := a.state.Published
	for _, cid := range catalog.SortedKeys(pub.Products) {
		pub.Products[cid].Each(func(fl catalog.Flat) bool {
			it := fl.Item
			if it.Path == "" || checked[it.Path][it.Size] {
				return true
			}
			if checked[it.Path] == nil {
				checked[it.Path] = map[int64]bool{}
				items[it.Path] = it
				a.sum.Referenced++
				a.sum.ReferencedBytes += it.Size
			}
			checked[it.Path][it.Size] = true
			obj, ok := a.state.Objects[it.Path]
			switch {
			case !ok:
				if len(checked[it.Path]) == 1 {
					a.add(finding{Type: findMissing, Path: it.Path, CatalogSize: int64p(it.Size)})
					a.sum.Missing++
				}
			case obj.Size != it.Size:
				a.add(finding{Type: findSize, Path: it.Path, Size: int64p(obj.Size), CatalogSize: int64p(it.Size)})
				a.sum.WrongSize++
			}
			return true
		})
	}
	return items
}

// checkSums reads every referenced object that has its catalog size and
// checks its strongest checksum, opts.transfers at a time.
func (a *audit) checkSums(ctx context.Context, items map[string]*catalog.Item) error {
	a.sum.ChecksumsChecked = true
	check := map[string]*catalog.Item{}
	for p, it := range items {
		if obj, ok := a.state.Objects[p]; ok && obj.Size == it.Size {
			check[p] = it // a missing object or a wrong size is already reported
		}
	}
	bad, err := apply.CheckObjects(ctx, a.dst, check, a.opts.transfers)
	for _, p := range catalog.SortedKeys(bad) {
		if errors.Is(bad[p], target.ErrNotExist) {
			a.add(finding{Type: findMissing, Path: p, CatalogSize: int64p(items[p].Size)})
			a.sum.Missing++
			continue
		}
		a.add(finding{Type: findChecksum, Path: p, Error: strings.TrimPrefix(bad[p].Error(), p+": ")})
		a.sum.BadChecksums++
	}
	return err
}

// signatures verifies the published signed metadata: index.sjson and the
// products .sjson files it names.
func (a *audit) signatures(ctx context.Context) error {
	if _, ok := a.state.Objects[plan.IndexSJSON]; !ok {
		a.sum.Signatures = sigsNone
		return nil
	}
	kr := a.keyring
	if kr == nil {
		if _, ok := a.state.Objects[plan.KeyringGPG]; ok {
			a.sum.Signatures = sigsNotChecked
			a.add(finding{Type: findNote, Message: fmt.Sprintf(
				"signatures not checked: no --keyring given. The mirror publishes its signing key as %s, "+
					"but a key read from the mirror proves nothing: fetch it, compare its fingerprint "+
					"(gpg --show-keys mirror-keyring.gpg) with the one the mirror's operator announced, "+
					"then run: ssmirror verify --keyring mirror-keyring.gpg %s", plan.KeyringGPG, a.dst)})
			return nil
		}
		var err error
		if kr, err = loadKeyring(nil, false, plan.IndexSJSON); err != nil {
			return err
		}
		if kr == nil {
			a.sum.Signatures = sigsNotChecked
			a.add(finding{Type: findNote, Message: fmt.Sprintf(
				"signatures not checked: no keyring (give --keyring FILE; %s is not installed)", defaultKeyring)})
			return nil
		}
	}
	opts := gpg.Options{AllowSHA1: a.opts.allowSHA1}
	bad := func(p string, err error) {
		a.add(finding{Type: findSignature, Path: p, Error: strings.TrimPrefix(err.Error(), p+": ")})
		a.sum.BadSignatures++
	}
	data, ok := a.state.Metadata[plan.IndexSJSON]
	if !ok {
		var err error
		if data, err = source.ReadStored(ctx, a.dst, plan.IndexSJSON); err != nil {
			return err
		}
	}
	payload, _, err := kr.VerifyClearsigned(plan.IndexSJSON, data, opts)
	if err != nil {
		bad(plan.IndexSJSON, err)
		a.sum.Signatures = sigsBad
		return nil
	}
	a.sum.SignedFiles++
	a.sum.SignedMetadata = plan.SignedUpstream.String()
	if a.signedByMirror(data) {
		a.sum.SignedMetadata = plan.SignedResign.String()
	}
	idx, err := catalog.DecodeIndex(plan.IndexSJSON, payload)
	if err != nil {
		return err
	}
	for _, cid := range catalog.SortedKeys(idx.Entries) {
		e := idx.Entries[cid]
		if e.Format() != catalog.FormatProducts {
			continue
		}
		a.meta[e.Path] = true
		if !strings.HasSuffix(e.Path, ".sjson") {
			bad(e.Path, errors.New("named by the signed index, but not a signed (.sjson) file"))
			continue
		}
		if _, ok := a.state.Objects[e.Path]; !ok {
			a.add(finding{Type: findMissing, Path: e.Path})
			a.sum.Missing++
			continue
		}
		data, err := source.ReadStored(ctx, a.dst, e.Path)
		if errors.Is(err, target.ErrNotExist) {
			a.add(finding{Type: findMissing, Path: e.Path})
			a.sum.Missing++
			continue
		}
		if err != nil {
			return err
		}
		payload, _, err := kr.VerifyClearsigned(e.Path, data, opts)
		if err != nil {
			bad(e.Path, err)
			continue
		}
		a.sum.SignedFiles++
		if err := a.signedItems(e.Path, payload); err != nil {
			return err
		}
	}
	a.sum.Signatures = sigsGood
	if a.sum.BadSignatures > 0 {
		a.sum.Signatures = sigsBad
	}
	return nil
}

// signedByMirror reports whether the signed index data was signed with
// the key the mirror publishes (streams/v1/mirror-keyring.gpg): the
// mirror re-signs its metadata. The key proves nothing about who signed;
// it only tells the two modes apart.
func (a *audit) signedByMirror(data []byte) bool {
	pub, ok := a.state.Metadata[plan.KeyringGPG]
	if !ok {
		return false
	}
	k, err := gpg.ParseKeyring(plan.KeyringGPG, pub)
	if err != nil {
		return false
	}
	_, _, err = k.VerifyClearsigned(plan.IndexSJSON, data, gpg.Options{AllowSHA1: true})
	return err == nil
}

// signedItems counts the paths the verified signed products file names
// that the target does not hold. A mirror's own signed metadata (resign)
// must be exact: its payload must be the .json products file, and a path
// it names that is not mirrored is a problem. Upstream signed metadata
// names what the upstream offers; the count is informational.
func (a *audit) signedItems(file string, payload []byte) error {
	doc, err := catalog.DecodeProducts(file, payload)
	if err != nil {
		return err
	}
	resigned := a.sum.SignedMetadata == plan.SignedResign.String()
	if twin := strings.TrimSuffix(file, ".sjson") + ".json"; resigned && !bytes.Equal(a.state.Metadata[twin], payload) {
		a.add(finding{Type: findSigned, Path: file, Error: "its signed content is not the mirror's " + twin})
	}
	if a.signedOnly == nil {
		a.signedOnly = map[string]bool{}
	}
	doc.Each(func(fl catalog.Flat) bool {
		p := fl.Item.Path
		if _, held := a.state.Objects[p]; p == "" || held || a.signedOnly[p] {
			return true
		}
		a.signedOnly[p] = true
		a.sum.SignedNotMirrored++
		if resigned {
			a.add(finding{Type: findSigned, Path: p, Error: "named by " + file + ", not in the mirror"})
		}
		return true
	})
	return nil
}

// unreferenced reports the objects of the listing that neither the items
// nor the metadata reference.
func (a *audit) unreferenced(items map[string]*catalog.Item) {
	for _, key := range catalog.SortedKeys(a.state.Objects) {
		if items[key] != nil || a.meta[key] || plan.Ours(key) {
			continue
		}
		obj := a.state.Objects[key]
		f := finding{Type: findUnreferenced, Path: key, Size: int64p(obj.Size)}
		if gc := a.state.GC; gc != nil {
			if since, ok := gc.Pending[key]; ok && gc.NamedBy[key] != "" { // else never deleted
				f.PendingSince = &since
				a.sum.PendingDeletion++
			}
		}
		a.add(f)
		a.sum.Unreferenced++
		a.sum.UnreferencedBytes += obj.Size
	}
}

// write prints the findings, notes first, then problems and warnings by
// path, then the summary.
func (a *audit) write(w io.Writer) error {
	rank := func(f finding) int {
		switch {
		case f.Type == findNote:
			return 0
		case f.problem():
			return 1
		}
		return 2
	}
	sort.SliceStable(a.findings, func(i, j int) bool {
		fi, fj := a.findings[i], a.findings[j]
		if rank(fi) != rank(fj) {
			return rank(fi) < rank(fj)
		}
		return fi.Path < fj.Path
	})
	a.sum.OK = a.problems() == 0
	if a.opts.json {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, f := range a.findings {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
		return enc.Encode(a.sum)
	}
	for _, f := range a.findings {
		if _, err := fmt.Fprintln(w, f); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, a.sum)
	return err
}

func (a *audit) problems() int {
	n := 0
	for _, f := range a.findings {
		if f.problem() {
			n++
		}
	}
	return n
}

// err returns the error that makes a failed audit exit with status 4.
func (a *audit) err() error {
	n := a.problems()
	if n == 0 {
		return nil
	}
	if a.sum.BadSignatures > 0 {
		return fmt.Errorf("verify %s: %s found: %w, %w", a.dst, count(n, "problem"), source.ErrIntegrity, gpg.ErrVerification)
	}
	return fmt.Errorf("verify %s: %s found: %w", a.dst, count(n, "problem"), source.ErrIntegrity)
}
