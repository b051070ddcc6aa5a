// Package plan decides what a sync does. Build is a pure function: from the
// upstream catalog as read, what the target holds (a listing and the
// metadata this tool published there last time) and the selection options,
// it returns a Plan value that says which objects to transfer, which
// metadata files to publish (in publish order) and which objects to delete
// afterwards, each with a reason. The plan can be printed as text or JSON
// before anything runs; package plan/apply executes it.
//
// The package does no I/O.
package plan

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
)

// Well-known metadata keys of a published mirror.
const (
	IndexJSON  = "streams/v1/index.json"
	IndexSJSON = "streams/v1/index.sjson"
)

// Errors callers branch on.
var (
	// ErrConflict means two items name the same path with different content.
	ErrConflict = errors.New("conflicting items")
	// ErrMode means the signed-metadata mode does not fit the source or
	// the options.
	ErrMode = errors.New("invalid signed metadata mode")
)

// Options selects what to mirror and how to publish it.
type Options struct {
	Filters filter.Set // items to keep; empty keeps everything
	Max     int        // newest versions to keep per product; 0 keeps all
	Keep    bool       // keep already-mirrored versions (up to Max) after upstream dropped them
	// Grace is how long an object stays in the target after the index
	// that referenced it was replaced (clients cache indexes).
	Grace time.Duration

	// Signed says which signed metadata (.sjson) to publish beside the
	// rewritten .json files.
	Signed SignedMode
	// Resign describes the operator's key for SignedResign.
	Resign *ResignKey
	// Browse, when set, renders the browse page (BrowsePage), published
	// after the products files, before the index, whenever a plan
	// publishes anything or the target lacks the page.
	Browse func(Publication) ([]byte, error)
}

// SignedMode says which signed metadata a mirror publishes.
type SignedMode int

// Signed metadata modes.
const (
	// SignedNone publishes .json only.
	SignedNone SignedMode = iota
	// SignedUpstream copies the upstream .sjson files byte for byte (the
	// source must be signed).
	SignedUpstream
	// SignedResign clearsigns the rewritten metadata with the operator's
	// key and publishes the public key beside it.
	SignedResign
)

var signedModeNames = []string{"none", "upstream", "resign"}

// String returns upstream, resign or none.
func (m SignedMode) String() string { return signedModeNames[m] }

// ParseSignedMode parses upstream, resign or none.
func ParseSignedMode(s string) (SignedMode, error) {
	for i, n := range signedModeNames {
		if s == n {
			return SignedMode(i), nil
		}
	}
	return 0, fmt.Errorf("signed metadata mode %q: want upstream, resign or none", s)
}

// ResignKey is what the planner needs of the operator's signing key: its
// public keyring, to publish and to recognise metadata it signed before.
type ResignKey struct {
	Public   []byte       // binary public keyring (published as mirror-keyring.gpg)
	Armored  []byte       // the same, armored (mirror-keyring.asc)
	Verifier *gpg.Keyring // the public key, to check existing .sjson files
}

// Publication is what a browse page shows of the mirror a plan publishes.
type Publication struct {
	// Catalog is what the published metadata describe, by content id,
	// and Paths the products file of each content id.
	Catalog map[string]*catalog.Products
	Paths   map[string]string
	// Index is the index clients start from; SignedIndex the signed one,
	// or "" (signed-metadata mode none).
	Index, SignedIndex string
	// Keyring is the published public key (resign mode), or "".
	Keyring string
	// Source is the upstream; Signed the signed-metadata mode.
	Source, Signed string
	// Published is the time of the run.
	Published time.Time
}

// Keys of the published public key in resign mode.
const (
	KeyringGPG = "streams/v1/mirror-keyring.gpg"
	KeyringASC = "streams/v1/mirror-keyring.asc"
)

// State is what the target holds before the run.
type State struct {
	// Objects is a listing of the target, by key.
	Objects map[string]target.Object
	// Published is the metadata this tool published last time, read from
	// the target's streams/v1/index.json; nil when there is none.
	Published *source.Mirror
	// Metadata holds the current bytes of metadata objects in the target
	// (index and products files), by key, so unchanged ones are not
	// rewritten. Missing keys are treated as absent.
	Metadata map[string][]byte
	// GC is the garbage collection state read from the target; nil when
	// missing or unreadable (it is then rebuilt, see gc.go).
	GC *GCState
	// GCErr says why a state object present in the target was not
	// usable (it is rebuilt).
	GCErr error
	// Now is the time of the run, for the grace period.
	Now time.Time
	// Damaged names objects found unsound when read back (sync
	// --verify-existing), with the finding: they are copied again.
	Damaged map[string]error
}

// Action is what a Change does to an item.
type Action int

// Actions.
const (
	Add Action = iota
	Remove
)

// String returns "+" or "-".
func (a Action) String() string {
	if a == Remove {
		return "-"
	}
	return "+"
}

// MarshalText renders the action as "add" or "remove".
func (a Action) MarshalText() ([]byte, error) {
	if a == Remove {
		return []byte("remove"), nil
	}
	return []byte("add"), nil
}

// Change is one item entering or leaving the mirror.
type Change struct {
	Action    Action `json:"action"`
	ContentID string `json:"content_id"`
	Product   string `json:"product"`
	Version   string `json:"version"`
	Item      string `json:"item"`
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Reason    string `json:"reason"`
}

// Transfer is one object to copy from upstream into the target.
type Transfer struct {
	Path   string           `json:"path"`
	Size   int64            `json:"size"`
	Sum    catalog.Checksum `json:"-"`
	SHA256 string           `json:"sha256,omitempty"` // when the catalog has one; the store checks it
	Reason string           `json:"reason"`
	// Adopt marks an object already present with the right size that no
	// previous publication recorded (a run stopped before publishing): the
	// executor keeps it if the checksum it was stored with matches.
	Adopt bool `json:"adopt,omitempty"`
	// Overwrite marks a path the published metadata names with other
	// bytes (upstream changed them in place): Plan.Retract withdraws it
	// from the published metadata before it is written.
	Overwrite bool `json:"overwrite,omitempty"`
}

// Meta is one metadata file to publish.
type Meta struct {
	Key  string `json:"key"`
	Body []byte `json:"-"`
	Size int64  `json:"size"`
	// Verbatim marks upstream signed bytes copied unchanged.
	Verbatim bool `json:"verbatim,omitempty"`
	// Sign marks a payload the executor clearsigns before writing.
	Sign bool `json:"sign,omitempty"`
	// IfMatch and IfAbsent make the write conditional on the object the
	// plan was made against (the index files), so that a concurrent
	// publisher's index is never silently replaced.
	IfMatch  string `json:"-"`
	IfAbsent bool   `json:"-"`
	// Index marks an entry point of the mirror (index.json, the signed
	// index): publishing one publishes the index.
	Index bool `json:"-"`
}

// Delete is one object to remove after the new index is published.
type Delete struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

// Plan is the outcome of Build.
type Plan struct {
	Source    string     `json:"source"`
	Target    string     `json:"target"`
	Changes   []Change   `json:"changes"`
	Transfers []Transfer `json:"transfers"`
	// Retract lists metadata to publish before any transfer, when some
	// transfer overwrites a path the published metadata names (see
	// Transfer.Overwrite): the garbage collection state, then the
	// published catalog without the versions that name such a path. So
	// the published metadata never names bytes it does not describe.
	Retract []Meta `json:"retract,omitempty"`
	// Publish lists changed metadata in publish order: the garbage
	// collection state, products files, then the index.
	Publish []Meta   `json:"publish"`
	Deletes []Delete `json:"deletes"`
	// Kept lists objects of the target that no metadata this tool
	// published named; they are never deleted.
	Kept []Kept `json:"kept,omitempty"`
	// Warnings name selections a consumer may not be able to use, such
	// as a version whose items the filters split.
	Warnings []string `json:"warnings"`
	// Catalog is what the target's .json metadata will describe, by
	// content id.
	Catalog map[string]*catalog.Products `json:"-"`
	// StaleResumes is set when the target holds resume records
	// (target.ResumeDir) of paths no transfer of this plan names: what
	// cut-off transfers of items that have left the catalog kept. The
	// executor drops them.
	StaleResumes bool `json:"-"`

	src   *source.Mirror
	state State
	opts  Options
	// landed are the objects a degraded plan's original transferred (see
	// Without): the target holds them, no transfer of this plan names them.
	landed []string
	// paths are the products files of the new publication, by content id
	// (set by render).
	paths map[string]string
	// base is the published catalog as the transfers find it (after
	// Retract), which a product whose transfer failed falls back to.
	base map[string]*catalog.Products
	// written is the metadata the target holds after Retract, by key; nil
	// when there is no Retract (then it is state.Metadata).
	written map[string][]byte
	// digest is the publication digest of what render rendered last;
	// digests are those of every publication this plan may leave live
	// (the retraction's, then its own), which the state records.
	digest  string
	digests []string
}

// Totals summarises a plan.
type Totals struct {
	TransferObjects int   `json:"transfer_objects"`
	TransferBytes   int64 `json:"transfer_bytes"`
	DeleteObjects   int   `json:"delete_objects"`
	DeleteBytes     int64 `json:"delete_bytes"`
	Metadata        int   `json:"metadata"`
}

// Totals counts the plan's work.
func (p *Plan) Totals() Totals {
	t := Totals{TransferObjects: len(p.Transfers), DeleteObjects: len(p.Deletes), Metadata: len(p.Retract) + len(p.Publish)}
	for _, x := range p.Transfers {
		t.TransferBytes += x.Size
	}
	for _, d := range p.Deletes {
		t.DeleteBytes += d.Size
	}
	return t
}

// Empty reports whether the plan has nothing to do.
func (p *Plan) Empty() bool {
	return len(p.Transfers) == 0 && len(p.Retract) == 0 && len(p.Publish) == 0 && len(p.Deletes) == 0
}

// Build plans a sync of src into a target in state st.
func Build(src *source.Mirror, st State, opts Options) (*Plan, error) {
	if st.Objects == nil {
		st.Objects = map[string]target.Object{}
	}
	prev := st.Published
	switch {
	case opts.Signed == SignedUpstream && !src.Signed:
		return nil, fmt.Errorf("%w: upstream signed metadata needs a signed source (%s is read from %s)", ErrMode, src.Root, src.StartPath)
	case opts.Signed == SignedResign && opts.Resign == nil:
		return nil, fmt.Errorf("%w: re-signing needs a signing key", ErrMode)
	}
	cat, warnings := selectCatalog(src, prev, st.Objects, opts)
	if warnings == nil {
		warnings = []string{}
	}
	p := &Plan{Source: src.Root, Catalog: cat, src: src, state: st, opts: opts, Warnings: warnings,
		Changes: []Change{}, Transfers: []Transfer{}, Deletes: []Delete{}}
	if err := p.checkPaths(); err != nil {
		return nil, err
	}
	// Rendering the metadata and planning the transfers read the same
	// selection and write different fields of p: they run side by side.
	var keys map[string]bool
	var renderErr error
	rendered := make(chan struct{})
	go func() {
		defer close(rendered)
		keys, renderErr = p.render(true)
	}()
	err := p.planTransfers()
	<-rendered
	if err != nil {
		return nil, err
	}
	if renderErr != nil {
		return nil, renderErr
	}
	if prev != nil {
		p.base = prev.Products
	}
	retracted, err := p.retract()
	if err != nil {
		return nil, err
	}
	if retracted != "" {
		if keys, err = p.render(true); err != nil {
			return nil, err
		}
		p.digests = []string{retracted}
	}
	p.digests = append(p.digests, p.digest)
	p.planDeletes(keys, true)
	p.StaleResumes = p.staleResumes()
	if len(p.Retract) > 0 {
		// The state goes first: what the retraction withdraws is pending
		// from now, named by what it was published in.
		if i := slices.IndexFunc(p.Publish, func(m Meta) bool { return m.Key == StateKey }); i >= 0 {
			p.Retract = append([]Meta{p.Publish[i]}, p.Retract...)
			p.Publish = slices.Delete(p.Publish, i, i+1)
		}
	}
	if err := p.addBrowsePage(); err != nil {
		return nil, err
	}
	return p, nil
}

// retract plans Retract when some transfer overwrites a path that the
// published metadata names with other bytes: the published catalog
// without every version that names such a path becomes the base that
// failed products fall back to, and what the main publication compares
// against. It returns the retraction's publication digest, or "" when
// there is none.
func (p *Plan) retract() (string, error) {
	over := map[string]bool{}
	for _, t := range p.Transfers {
		if t.Overwrite {
			over[t.Path] = true
		}
	}
	if len(over) == 0 {
		return "", nil
	}
	base := map[string]*catalog.Products{}
	for cid, doc := range p.state.Published.Products {
		nd := doc.Subset(map[string]*catalog.Product{})
		for pname, prod := range doc.Products {
			np := &catalog.Product{Fields: prod.Fields, Versions: map[string]*catalog.Version{}}
			for vname, v := range prod.Versions {
				if !versionReferences(v, over) {
					np.Versions[vname] = v
				}
			}
			if len(np.Versions) > 0 {
				nd.Products[pname] = np
			}
		}
		if len(nd.Products) > 0 {
			base[cid] = nd
		}
	}
	r := &Plan{Catalog: base, src: p.src, state: p.state, opts: p.opts}
	if _, err := r.render(false); err != nil {
		return "", err
	}
	p.base, p.Retract = base, r.Publish
	p.written = maps.Clone(p.state.Metadata)
	for _, m := range r.Publish {
		p.written[m.Key] = m.Body
	}
	for _, path := range catalog.SortedKeys(over) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s changes in place (upstream replaced its bytes at the same path): it is withdrawn from the published metadata before it is overwritten, but a client holding an older index may read the new bytes against the old checksum, and a cache holding the old bytes (items are served as immutable) may serve them against the new one", path))
	}
	return r.digest, nil
}

// Without returns the plan to publish after the transfers of the paths in
// failed did not succeed: every product that references a failed path
// keeps its previously published state (or stays out of the mirror), no
// upstream signed files are republished and nothing is deleted (what left
// the mirror enters the garbage collection state). The result has no
// transfers.
func (p *Plan) Without(failed map[string]bool) (*Plan, error) {
	prev := p.base
	cat := map[string]*catalog.Products{}
	for cid, doc := range p.Catalog {
		nd := doc.Subset(map[string]*catalog.Product{})
		for pname, prod := range doc.Products {
			if !references(prod, failed) {
				nd.Products[pname] = prod
			} else if old := prev[cid]; old != nil && old.Products[pname] != nil {
				nd.Products[pname] = old.Products[pname]
			}
		}
		if len(nd.Products) > 0 {
			cat[cid] = nd
		}
	}
	q := &Plan{Source: p.Source, Target: p.Target, Catalog: cat, src: p.src, state: p.state, opts: p.opts,
		Changes: []Change{}, Transfers: []Transfer{}, Deletes: []Delete{}, Warnings: p.Warnings,
		base: p.base, written: p.written, digests: slices.Clone(p.digests[:len(p.digests)-1])}
	for _, t := range p.Transfers {
		if !failed[t.Path] {
			q.landed = append(q.landed, t.Path)
		}
	}
	keys, err := q.render(false)
	if err != nil {
		return nil, err
	}
	q.digests = append(q.digests, q.digest)
	q.planDeletes(keys, false)
	if err := q.addBrowsePage(); err != nil {
		return nil, err
	}
	return q, nil
}

// addBrowsePage adds the browse page to the publication, before the
// index files, when the plan publishes (or retracts) anything or the
// target lacks it.
func (p *Plan) addBrowsePage() error {
	if p.opts.Browse == nil {
		return nil
	}
	if _, present := p.state.Objects[BrowsePage]; present && len(p.Publish) == 0 && len(p.Retract) == 0 {
		return nil
	}
	now := p.state.Now
	if now.IsZero() {
		now = time.Now()
	}
	pub := Publication{Catalog: p.Catalog, Paths: p.paths, Index: IndexJSON, Source: p.Source, Signed: p.opts.Signed.String(), Published: now}
	switch p.opts.Signed {
	case SignedUpstream:
		pub.SignedIndex = p.src.StartPath
	case SignedResign:
		pub.SignedIndex, pub.Keyring = IndexSJSON, KeyringGPG
	}
	body, err := p.opts.Browse(pub)
	if err != nil {
		return fmt.Errorf("render %s: %w", BrowsePage, err)
	}
	at := p.indexAt()
	p.Publish = append(p.Publish[:at], append([]Meta{{Key: BrowsePage, Body: body, Size: int64(len(body))}}, p.Publish[at:]...)...)
	return nil
}

// indexAt returns the position of the first index file in p.Publish (the
// end if none): what must be published before the index goes there.
func (p *Plan) indexAt() int {
	for i, x := range p.Publish {
		if x.Key == IndexJSON || x.Key == p.src.StartPath && p.opts.Signed == SignedUpstream || x.Key == IndexSJSON {
			return i
		}
	}
	return len(p.Publish)
}

func references(prod *catalog.Product, paths map[string]bool) bool {
	for _, v := range prod.Versions {
		if versionReferences(v, paths) {
			return true
		}
	}
	return false
}

func versionReferences(v *catalog.Version, paths map[string]bool) bool {
	for _, it := range v.Items {
		if it.Path != "" && paths[it.Path] {
			return true
		}
	}
	return false
}

// planTransfers lists the objects the new catalog needs that the target
// does not verifiably hold, and the item changes.
func (p *Plan) planTransfers() error {
	recorded := map[string]*catalog.Item{} // path -> item as published last time
	if prev := p.state.Published; prev != nil {
		for _, doc := range prev.Products {
			eachItem(doc, func(_, _, _ string, it *catalog.Item) {
				if it.Path != "" {
					recorded[it.Path] = it
				}
			})
		}
	}
	n := 0
	for _, doc := range p.Catalog {
		n += doc.Len()
	}
	// seen holds the first item of each path, and the index of its
	// transfer in p.Transfers (-1 for none).
	type first struct {
		it       *catalog.Item
		transfer int
	}
	seen := make(map[string]first, n)
	p.Changes = slices.Grow(p.Changes, n)
	p.Transfers = slices.Grow(p.Transfers, n)
	for _, cid := range catalog.SortedKeys(p.Catalog) {
		var err error
		eachItem(p.Catalog[cid], func(pname, vname, iname string, it *catalog.Item) {
			if it.Path == "" || err != nil {
				return
			}
			f, ok := seen[it.Path]
			if ok {
				if !f.it.SameContent(it) {
					err = fmt.Errorf("%w: %s: path %q is listed with different sizes or checksums", ErrConflict, cid, it.Path)
				}
			} else {
				f = first{it, -1}
				if reason := needTransfer(it, p.state, recorded); reason != "" {
					f.transfer = len(p.Transfers)
					old := recorded[it.Path]
					p.Transfers = append(p.Transfers, Transfer{
						Path: it.Path, Size: it.Size, Sum: it.Strongest(), SHA256: it.SHA256, Reason: reason,
						Adopt: reason == reasonUnrecorded, Overwrite: old != nil && !old.SameContent(it),
					})
				}
				seen[it.Path] = f
			}
			if f.transfer >= 0 {
				p.Changes = append(p.Changes, Change{Add, cid, pname, vname, iname, it.Path, it.Size, p.Transfers[f.transfer].Reason})
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

const reasonUnrecorded = "present but not recorded by a previous run"

// needTransfer says why an item's object must be copied, or "" if the
// target already holds it: present with the right size, not found damaged,
// and recorded with the same checksum by a previous run.
func needTransfer(it *catalog.Item, st State, recorded map[string]*catalog.Item) string {
	obj, ok := st.Objects[it.Path]
	switch {
	case !ok && recorded[it.Path] != nil:
		return "missing from target"
	case !ok:
		return "new"
	case obj.Size != it.Size:
		return fmt.Sprintf("size differs (target has %d)", obj.Size)
	case st.Damaged[it.Path] != nil:
		return "damaged in target: " + strings.TrimPrefix(st.Damaged[it.Path].Error(), it.Path+": ")
	case recorded[it.Path] == nil:
		return reasonUnrecorded
	case !recorded[it.Path].SameContent(it):
		return "checksum changed upstream"
	}
	return ""
}

// Held returns the items of the new catalog, by path, that the target
// already holds and the plan does not copy.
func (p *Plan) Held() map[string]*catalog.Item {
	copied := make(map[string]bool, len(p.Transfers))
	for _, t := range p.Transfers {
		copied[t.Path] = true
	}
	held := map[string]*catalog.Item{}
	for _, doc := range p.Catalog {
		eachItem(doc, func(_, _, _ string, it *catalog.Item) {
			if _, ok := p.state.Objects[it.Path]; ok && it.Path != "" && !copied[it.Path] {
				held[it.Path] = it
			}
		})
	}
	return held
}

// planDeletes lists the item changes and what leaves the mirror: paths the
// previous catalog referenced and the new one does not, and metadata files
// no longer published. Those are not deleted at once: they enter the
// garbage collection state and are deleted once unreferenced for the
// grace period (see gc.go).
func (p *Plan) planDeletes(newMeta map[string]bool, deletes bool) {
	// keep holds what the new publication names, of what the target
	// holds: only keys the target holds are ever looked up in it.
	keep := map[string]bool{}
	for k := range newMeta {
		keep[k] = true
	}
	if len(p.state.Objects) > 0 {
		for _, doc := range p.Catalog {
			eachItem(doc, func(_, _, _ string, it *catalog.Item) {
				if _, ok := p.state.Objects[it.Path]; ok {
					keep[it.Path] = true
				}
			})
		}
	}
	gone := map[string]string{} // key -> the published file that named it
	if prev := p.state.Published; prev != nil {
		for _, cid := range catalog.SortedKeys(prev.Products) {
			var namedBy string
			if e := prev.Index.Entries[cid]; e != nil {
				namedBy = jsonPath(e.Path)
			}
			eachItem(prev.Products[cid], func(pname, vname, iname string, it *catalog.Item) {
				if p.hasItem(cid, pname, vname, iname) {
					return
				}
				p.Changes = append(p.Changes, Change{Remove, cid, pname, vname, iname, it.Path, it.Size, "no longer selected"})
				if it.Path != "" && !keep[it.Path] && namedBy != "" {
					gone[it.Path] = namedBy
				}
			})
		}
		for key := range p.previousMetaKeys() {
			if !keep[key] {
				gone[key] = key
			}
		}
	}
	p.collect(gone, keep, deletes)
}

func (p *Plan) hasItem(cid, pname, vname, iname string) bool {
	doc := p.Catalog[cid]
	if doc == nil || doc.Products[pname] == nil || doc.Products[pname].Versions[vname] == nil {
		return false
	}
	return doc.Products[pname].Versions[vname].Items[iname] != nil
}

// previousMetaKeys returns the metadata keys a previous publication may
// have written: those its index names, their signed twins, the signed
// files read from the target (upstream copies of content ids it does not
// mirror among them) and the published key.
func (p *Plan) previousMetaKeys() map[string]bool {
	keys := map[string]bool{IndexJSON: true, IndexSJSON: true, KeyringGPG: true, KeyringASC: true}
	if prev := p.state.Published; prev != nil {
		for _, e := range prev.Index.Entries {
			keys[e.Path] = true
			keys[SignedPath(e.Path)] = true
		}
	}
	for k := range p.state.Metadata {
		if strings.HasPrefix(k, "streams/") {
			keys[k] = true
		}
	}
	return keys
}

// SignedPath returns the .sjson sibling of a products or index .json path.
func SignedPath(p string) string { return strings.TrimSuffix(p, ".json") + ".sjson" }

// jsonPath returns the .json twin of a signed (.sjson) path; other paths
// are returned as they are.
func jsonPath(p string) string {
	if base, ok := strings.CutSuffix(p, ".sjson"); ok {
		return base + ".json"
	}
	return p
}

func eachItem(doc *catalog.Products, fn func(pname, vname, iname string, it *catalog.Item)) {
	for _, pname := range catalog.SortedKeys(doc.Products) {
		prod := doc.Products[pname]
		for _, vname := range catalog.SortedKeys(prod.Versions) {
			ver := prod.Versions[vname]
			for _, iname := range ver.ItemNames() {
				fn(pname, vname, iname, ver.Items[iname])
			}
		}
	}
}

// sortDesc sorts version names newest first (plain byte order, LANG=C).
func sortDesc(v []string) {
	sort.Sort(sort.Reverse(sort.StringSlice(v)))
}
