package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
)

// AuditOptions say how Audit checks a mirror.
type AuditOptions struct {
	// Keyring verifies the published signed metadata; nil means none was
	// given (see DefaultKeyring).
	Keyring *gpg.Keyring
	// DefaultKeyring is the keyring file used when Keyring is nil, the
	// mirror publishes no key of its own and the file exists.
	DefaultKeyring string
	AllowSHA1      bool // accept signatures made with SHA-1 digests
	// Checksums reads every referenced object and checks its strongest
	// checksum, Transfers at a time.
	Checksums bool
	Transfers int
}

// Audit checks the mirror published in dst: every object the metadata
// references present with its catalog size (and, with Checksums, its
// checksum), the signed metadata, and the objects nothing references. It
// returns the report, findings sorted (notes first, then problems and
// warnings by path); Report.Err says whether the mirror is sound. An
// error means the audit could not run (no mirror published there, the
// store unreachable, unreadable metadata).
func Audit(ctx context.Context, dst target.Store, opts AuditOptions) (*Report, error) {
	a := &audit{dst: dst, opts: opts, Report: Report{Summary: AuditSummary{Type: "summary", Target: dst.String()}}}
	if err := a.run(ctx); err != nil {
		return nil, err
	}
	a.sort()
	return &a.Report, nil
}

// Report is what Audit found.
type Report struct {
	Findings []Finding
	Summary  AuditSummary
}

// Finding types.
const (
	FindMissing      = "missing"
	FindSize         = "size"
	FindChecksum     = "checksum"
	FindSignature    = "signature"
	FindUnreferenced = "unreferenced"
	FindSigned       = "signed" // re-signed metadata that is not exact
	FindNote         = "note"
)

// Finding is one finding of an audit: a problem, a warning or a note.
type Finding struct {
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

// Problem reports whether f makes the mirror unsound.
func (f Finding) Problem() bool {
	switch f.Type {
	case FindMissing, FindSize, FindChecksum, FindSignature, FindSigned:
		return true
	}
	return false
}

func int64p(n int64) *int64 { return &n }

// Values of AuditSummary.Signatures.
const (
	SigsNone       = "none"        // no index.sjson published
	SigsGood       = "good"        // every signed file verified
	SigsBad        = "bad"         // at least one did not
	SigsNotChecked = "not checked" // no keyring to check with
)

// AuditSummary counts what an audit found.
type AuditSummary struct {
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

// audit is one run of Audit.
type audit struct {
	Report
	dst   target.Store
	opts  AuditOptions
	state plan.State
	// meta holds the metadata keys the publication references (index,
	// products files, signed twins, published key).
	meta map[string]bool
	// signedOnly holds the paths verified signed products files name
	// that the target does not hold.
	signedOnly map[string]bool
}

func (a *audit) add(f Finding) { a.Findings = append(a.Findings, f) }

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
	if a.opts.Checksums {
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
			a.add(Finding{Type: FindMissing, Path: e.Path})
			a.Summary.Missing++
		}
	}
	if a.Summary.Missing == 0 {
		return err
	}
	a.Summary.Signatures = SigsNotChecked
	a.add(Finding{Type: FindNote, Message: "items not checked: the products files the index names are incomplete"})
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
				a.Summary.Referenced++
				a.Summary.ReferencedBytes += it.Size
			}
			checked[it.Path][it.Size] = true
			obj, ok := a.state.Objects[it.Path]
			switch {
			case !ok:
				if len(checked[it.Path]) == 1 {
					a.add(Finding{Type: FindMissing, Path: it.Path, CatalogSize: int64p(it.Size)})
					a.Summary.Missing++
				}
			case obj.Size != it.Size:
				a.add(Finding{Type: FindSize, Path: it.Path, Size: int64p(obj.Size), CatalogSize: int64p(it.Size)})
				a.Summary.WrongSize++
			}
			return true
		})
	}
	return items
}

// checkSums reads every referenced object that has its catalog size and
// checks its strongest checksum, opts.Transfers at a time.
func (a *audit) checkSums(ctx context.Context, items map[string]*catalog.Item) error {
	a.Summary.ChecksumsChecked = true
	check := map[string]*catalog.Item{}
	for p, it := range items {
		if obj, ok := a.state.Objects[p]; ok && obj.Size == it.Size {
			check[p] = it // a missing object or a wrong size is already reported
		}
	}
	bad, err := apply.CheckObjects(ctx, a.dst, check, a.opts.Transfers)
	for _, p := range catalog.SortedKeys(bad) {
		if errors.Is(bad[p], target.ErrNotExist) {
			a.add(Finding{Type: FindMissing, Path: p, CatalogSize: int64p(items[p].Size)})
			a.Summary.Missing++
			continue
		}
		a.add(Finding{Type: FindChecksum, Path: p, Error: strings.TrimPrefix(bad[p].Error(), p+": ")})
		a.Summary.BadChecksums++
	}
	return err
}

// signatures verifies the published signed metadata: index.sjson and the
// products .sjson files it names.
func (a *audit) signatures(ctx context.Context) error {
	if _, ok := a.state.Objects[plan.IndexSJSON]; !ok {
		a.Summary.Signatures = SigsNone
		return nil
	}
	kr := a.opts.Keyring
	if kr == nil {
		if _, ok := a.state.Objects[plan.KeyringGPG]; ok {
			a.Summary.Signatures = SigsNotChecked
			a.add(Finding{Type: FindNote, Message: fmt.Sprintf(
				"signatures not checked: no --keyring given. The mirror publishes its signing key as %s, "+
					"but a key read from the mirror proves nothing: fetch it, compare its fingerprint "+
					"(gpg --show-keys mirror-keyring.gpg) with the one the mirror's operator announced, "+
					"then run: ssmirror verify --keyring mirror-keyring.gpg %s", plan.KeyringGPG, a.dst)})
			return nil
		}
		var err error
		if kr, err = loadDefault(a.opts.DefaultKeyring); err != nil {
			return err
		}
		if kr == nil {
			a.Summary.Signatures = SigsNotChecked
			a.add(Finding{Type: FindNote, Message: fmt.Sprintf(
				"signatures not checked: no keyring (give --keyring FILE; %s is not installed)", a.opts.DefaultKeyring)})
			return nil
		}
	}
	opts := gpg.Options{AllowSHA1: a.opts.AllowSHA1}
	bad := func(p string, err error) {
		a.add(Finding{Type: FindSignature, Path: p, Error: gpg.Reason(err)})
		a.Summary.BadSignatures++
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
		a.Summary.Signatures = SigsBad
		return nil
	}
	a.Summary.SignedFiles++
	a.Summary.SignedMetadata = plan.SignedUpstream.String()
	if a.signedByMirror(data) {
		a.Summary.SignedMetadata = plan.SignedResign.String()
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
			a.add(Finding{Type: FindMissing, Path: e.Path})
			a.Summary.Missing++
			continue
		}
		data, err := source.ReadStored(ctx, a.dst, e.Path)
		if errors.Is(err, target.ErrNotExist) {
			a.add(Finding{Type: FindMissing, Path: e.Path})
			a.Summary.Missing++
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
		a.Summary.SignedFiles++
		if err := a.signedItems(e.Path, payload); err != nil {
			return err
		}
	}
	a.Summary.Signatures = SigsGood
	if a.Summary.BadSignatures > 0 {
		a.Summary.Signatures = SigsBad
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
	resigned := a.Summary.SignedMetadata == plan.SignedResign.String()
	if twin := strings.TrimSuffix(file, ".sjson") + ".json"; resigned && !bytes.Equal(a.state.Metadata[twin], payload) {
		a.add(Finding{Type: FindSigned, Path: file, Error: "its signed content is not the mirror's " + twin})
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
		a.Summary.SignedNotMirrored++
		if resigned {
			a.add(Finding{Type: FindSigned, Path: p, Error: "named by " + file + ", not in the mirror"})
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
		f := Finding{Type: FindUnreferenced, Path: key, Size: int64p(obj.Size)}
		if gc := a.state.GC; gc != nil {
			if since, ok := gc.Pending[key]; ok && gc.NamedBy[key] != "" { // else never deleted
				f.PendingSince = &since
				a.Summary.PendingDeletion++
			}
		}
		a.add(f)
		a.Summary.Unreferenced++
		a.Summary.UnreferencedBytes += obj.Size
	}
}

// Problems counts the findings that make the mirror unsound.
func (r *Report) Problems() int {
	n := 0
	for _, f := range r.Findings {
		if f.Problem() {
			n++
		}
	}
	return n
}

// Err returns nil for a sound mirror, else an error wrapping
// source.ErrIntegrity (and gpg.ErrVerification when a signature failed).
func (r *Report) Err() error {
	n := r.Problems()
	if n == 0 {
		return nil
	}
	if r.Summary.BadSignatures > 0 {
		return fmt.Errorf("verify %s: %s found: %w, %w", r.Summary.Target, plan.Count(n, "problem"), source.ErrIntegrity, gpg.ErrVerification)
	}
	return fmt.Errorf("verify %s: %s found: %w", r.Summary.Target, plan.Count(n, "problem"), source.ErrIntegrity)
}

// loadDefault loads the keyring file path if it exists; nil if not.
func loadDefault(path string) (*gpg.Keyring, error) {
	if path == "" {
		return nil, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	return gpg.LoadKeyrings(path)
}

// sort orders the findings, notes first, then problems and warnings by
// path, and sets Summary.OK.
func (a *audit) sort() {
	rank := func(f Finding) int {
		switch {
		case f.Type == FindNote:
			return 0
		case f.Problem():
			return 1
		}
		return 2
	}
	sort.SliceStable(a.Findings, func(i, j int) bool {
		fi, fj := a.Findings[i], a.Findings[j]
		if rank(fi) != rank(fj) {
			return rank(fi) < rank(fj)
		}
		return fi.Path < fj.Path
	})
	a.Summary.OK = a.Problems() == 0
}

// AuditAt audits the mirror published at the TARGET location loc (which,
// unlike OpenTarget, it never creates), verifying its signed metadata with
// the keyring files given (none: see AuditOptions.DefaultKeyring).
func AuditAt(ctx context.Context, loc string, s3cfg config.S3, keyrings []string, opts AuditOptions) (*Report, error) {
	if opts.Transfers < 1 || opts.Transfers > 1024 {
		return nil, fmt.Errorf("%w: --transfers: %d is not between 1 and 1024", config.ErrInvalid, opts.Transfers)
	}
	if err := s3cfg.Validate(); err != nil {
		return nil, err
	}
	if !strings.Contains(loc, "://") || strings.HasPrefix(loc, "file://") {
		// OpenTarget creates a missing directory; an audit must not.
		dir := strings.TrimPrefix(loc, "file://")
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("target %s: not a directory", dir)
		}
	}
	if len(keyrings) > 0 {
		var err error
		if opts.Keyring, err = LoadKeyring(keyrings, false, plan.IndexSJSON); err != nil {
			return nil, err
		}
	}
	dst, err := OpenTarget(ctx, loc, s3cfg)
	if err != nil {
		return nil, err
	}
	return Audit(ctx, dst, opts)
}
