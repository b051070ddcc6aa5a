package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
)

// StateKey is the garbage collection state object. It lives outside
// streams/, so it is never part of what the mirror serves to clients.
const StateKey = ".ssmirror/state.json"

// StateDir holds the tool's own objects (state, lease) in the target.
const StateDir = ".ssmirror/"

// DefaultGrace is the default grace period.
const DefaultGrace = 24 * time.Hour

// GCState records objects that no published metadata references any more,
// with the time since when, so that they are deleted only after the grace
// period. It is a hint, never trusted blindly: a path is deleted only if
// the new publication does not reference it.
//
// It is also the record of provenance. Published identifies the .json
// publications this tool wrote that may be live; a key enters Pending only
// when it leaves a publication the target holds and Published proves
// ours, and NamedBy says which file named it. Only such keys are ever
// deleted: objects no published metadata named (another application's
// files, a nested mirror) are never candidates, and a state that was lost
// cannot prove anything, so a rebuilt one deletes nothing.
type GCState struct {
	Version int `json:"version"`
	// Pending maps a key to the time it stopped being referenced.
	Pending map[string]time.Time `json:"pending"`
	// NamedBy maps each pending key to the metadata file this tool
	// published that named it (the key itself for a metadata file this
	// tool published). A pending key without one is not proven ours and
	// is never deleted.
	NamedBy map[string]string `json:"named_by,omitempty"`
	// Published lists the publication digests (SHA-256 over index.json
	// and its products files) of what this tool published and may be
	// live: the publication the state was written for, and the one it
	// replaces.
	Published []string `json:"published,omitempty"`
	// ListMarks are keys (in lexical order) of what the target held when
	// the state was written, about every ListPage-th (see listMarks), so
	// that the next run can list the target in ranges at once, a page
	// each (see apply.LoadState). A hint: wrong or stale marks cost
	// requests, never correctness.
	ListMarks []string `json:"list_marks,omitempty"`
}

// ListPage is the number of keys one S3 listing request returns.
const ListPage = 1000

// DecodeGCState parses a state object.
func DecodeGCState(data []byte) (*GCState, error) {
	var st GCState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", StateKey, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("%s: unknown version %d", StateKey, st.Version)
	}
	for k := range st.Pending {
		if err := catalog.ValidPath(k); err != nil {
			return nil, fmt.Errorf("%s: %w", StateKey, err)
		}
	}
	if st.Pending == nil {
		st.Pending = map[string]time.Time{}
	}
	if st.NamedBy == nil {
		st.NamedBy = map[string]string{}
	}
	if !validListMarks(st.ListMarks) {
		st.ListMarks = nil // a hint only: list the target in one range
	}
	return &st, nil
}

// collect decides what of gone (keys leaving the mirror with this plan,
// each with the published metadata file that named it) and of the pending
// keys of the state is deleted now, and renders the new state. A key
// referenced by the new publication (keep) is never deleted. A key still
// referenced by any published metadata file, signed or not, starts its
// grace period now, since it stops being referenced only when this plan
// publishes. Only keys that metadata this tool published named are
// candidates: keys leaving a publication that the state proves this tool
// wrote, and pending keys the state says one named. A key without that
// proof, and any object no published metadata names, is kept and
// reported (Plan.Kept); so a lost state deletes nothing. Without deletes,
// due keys stay pending.
func (p *Plan) collect(gone map[string]string, keep map[string]bool, deletes bool) {
	now := p.state.Now
	if now.IsZero() {
		now = time.Now()
	}
	grace := p.opts.Grace
	var old map[string]time.Time
	var oldBy map[string]string
	live := p.liveDigest()
	proven := false
	if p.state.GC != nil {
		old, oldBy = p.state.GC.Pending, p.state.GC.NamedBy
		proven = live != "" && slices.Contains(p.state.GC.Published, live)
	}
	published := slices.Clone(p.digests)
	if proven {
		published = append(published, live)
	}
	slices.Sort(published)
	published = slices.Compact(published)
	referenced := p.publishedKeys()
	signedDone := false
	withSigned := func() {
		if !signedDone {
			signedDone = true
			for k := range p.signedReferences() {
				referenced[k] = true
			}
		}
	}
	candidates := map[string]string{}
	for k := range old {
		if by := oldBy[k]; by != "" {
			candidates[k] = by
		}
	}
	if proven {
		for k, by := range gone {
			candidates[k] = by
		}
	}
	if len(candidates) > 0 {
		withSigned()
	}
	pending := map[string]time.Time{}
	namedBy := map[string]string{}
	for _, k := range catalog.SortedKeys(candidates) {
		obj, present := p.state.Objects[k]
		if keep[k] || !present {
			continue
		}
		since, ok := old[k]
		if !ok || referenced[k] {
			since = now
		}
		if deletes && (k == IndexJSON || k == IndexSJSON) {
			// An entry point no longer published (the signed-metadata
			// mode changed): nothing refers to it, and left in place it
			// would keep advertising the old mirror.
			p.Deletes = append(p.Deletes, Delete{Path: k, Size: obj.Size, Reason: "index no longer published"})
			continue
		}
		// Keys deleted now stay in the state written before the deletes,
		// so a run killed while deleting leaves no orphans: the next run
		// deletes what is left and drops what is gone.
		pending[k], namedBy[k] = since, candidates[k]
		if deletes && now.Sub(since) >= grace {
			reason := "unreferenced since " + since.UTC().Format(time.RFC3339)
			if grace == 0 {
				reason = "no longer referenced"
			}
			p.Deletes = append(p.Deletes, Delete{Path: k, Size: obj.Size, Reason: reason})
		}
	}
	p.Kept = p.foreign(keep, referenced, pending, withSigned)
	marks := p.listMarks()
	if len(pending) == 0 && len(old) == 0 && p.state.GC != nil && slices.Equal(marks, p.state.GC.ListMarks) &&
		slices.Equal(published, p.state.GC.Published) {
		return
	}
	body, _ := json.MarshalIndent(GCState{Version: 1, Pending: pending, NamedBy: namedBy, Published: published, ListMarks: marks}, "", " ")
	body = append(body, '\n')
	if prev, ok := p.state.Metadata[StateKey]; ok && string(prev) == string(body) {
		return
	}
	// The state goes first, before any products file or index changes
	// what the published metadata names: a run killed after it leaves
	// pending keys that the published metadata still names, and the next
	// run restarts their grace period (see above); a run killed before it
	// leaves the published metadata as it was.
	p.Publish = append([]Meta{{Key: StateKey, Body: body, Size: int64(len(body))}}, p.Publish...)
}

// Kept is an object in the target that no metadata this tool published
// named: another application's file, a nested mirror, or one whose
// provenance was lost with the state. It is never deleted.
type Kept struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

const reasonNotOurs = "kept, not ours: no metadata this tool published named it"

// foreign lists the objects of the target that are neither part of the new
// publication, nor named by the published metadata (signed or not), nor
// pending, nor this tool's own objects (state, lease, browse page), nor
// written by this run.
func (p *Plan) foreign(keep, referenced map[string]bool, pending map[string]time.Time, withSigned func()) []Kept {
	if len(p.state.Objects) == 0 {
		return nil
	}
	ours := make(map[string]bool, len(p.Transfers)+len(p.landed))
	for _, t := range p.Transfers {
		ours[t.Path] = true
	}
	for _, k := range p.landed {
		ours[k] = true
	}
	var keys []string
	for k := range p.state.Objects {
		if _, ok := pending[k]; !ok && !keep[k] && !referenced[k] && !ours[k] && !ToolObject(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	withSigned()
	slices.Sort(keys)
	var kept []Kept
	for _, k := range keys {
		if !referenced[k] {
			kept = append(kept, Kept{Path: k, Size: p.state.Objects[k].Size, Reason: reasonNotOurs})
		}
	}
	return kept
}

// signedReferences returns the item paths that the signed products files
// in the target name. In upstream mode they are the upstream's, and a
// partial run leaves them live while index.json advances: what they name
// is still referenced.
func (p *Plan) signedReferences() map[string]bool {
	keys := map[string]bool{}
	for k, body := range p.state.Metadata {
		if !strings.HasSuffix(k, ".sjson") || k == IndexSJSON || k == p.src.StartPath {
			continue
		}
		payload, err := gpg.ExtractClearsigned(k, body)
		if err != nil {
			continue
		}
		doc, err := catalog.DecodeProducts(k, payload)
		if err != nil {
			continue
		}
		eachItem(doc, func(_, _, _ string, it *catalog.Item) {
			if it.Path != "" {
				keys[it.Path] = true
			}
		})
	}
	return keys
}

// listMarks returns the list marks of the target as this plan leaves it:
// what it holds, with the transferred and published keys (the state
// among them), without the deleted ones. The range that holds StateDir
// leaves room for ListSlack more keys: the run writes some there besides
// the plan (its status record, the kept upstream metadata), which the
// next run lists. The state's marks are kept while they still bound
// ranges of a page each, no more of them than fresh marks would be, so
// that a run which changes nothing else does not rewrite the state.
func (p *Plan) listMarks() []string {
	n := len(p.state.Objects) + len(p.Transfers) + len(p.landed) + len(p.Publish) + 1
	if n <= ListPage {
		return nil
	}
	gone := make(map[string]bool, len(p.Deletes))
	for _, d := range p.Deletes {
		gone[d.Path] = true
	}
	keys := make([]string, 0, n)
	for k := range p.state.Objects {
		keys = append(keys, k)
	}
	for _, t := range p.Transfers {
		keys = append(keys, t.Path)
	}
	keys = append(keys, p.landed...)
	for _, m := range p.Publish {
		keys = append(keys, m.Key)
	}
	keys = append(keys, StateKey)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	keys = slices.DeleteFunc(keys, func(k string) bool { return gone[k] })
	var marks []string
	in, limit := 0, ListPage // keys in the current range, and its room
	for _, k := range keys[:len(keys)-1] {
		in++
		if strings.HasPrefix(k, StateDir) {
			limit = ListPage - ListSlack
		}
		if in >= limit {
			marks = append(marks, k)
			in, limit = 0, ListPage
		}
	}
	if p.state.GC != nil && len(p.state.GC.ListMarks) <= len(marks) && pagedRanges(keys, p.state.GC.ListMarks) {
		return p.state.GC.ListMarks
	}
	return marks
}

// ListSlack is the room for keys under StateDir that the range holding
// them leaves when list marks are placed (see listMarks).
const ListSlack = 24

// pagedRanges reports whether marks, each one of keys (sorted), split
// keys into ranges of at most ListPage keys each: listed a request each.
func pagedRanges(keys, marks []string) bool {
	from := 0
	for _, m := range marks {
		i, found := slices.BinarySearch(keys, m)
		if !found || i+1-from > ListPage {
			return false
		}
		from = i + 1
	}
	return len(keys)-from <= ListPage
}

// maxListMarks bounds the list marks a state may hold (a target of 100
// million objects): each costs a request.
const maxListMarks = 100_000

// validListMarks reports whether marks can bound listing ranges: keys
// (at most 1,024 bytes, as in S3) in strictly increasing order, not too
// many.
func validListMarks(marks []string) bool {
	if len(marks) > maxListMarks {
		return false
	}
	for i, m := range marks {
		if m == "" || len(m) > 1024 || i > 0 && marks[i-1] >= m {
			return false
		}
	}
	return true
}

// publishedKeys returns every key the target's published metadata names:
// items and metadata files.
func (p *Plan) publishedKeys() map[string]bool {
	keys := map[string]bool{}
	prev := p.state.Published
	if prev == nil {
		return keys
	}
	for _, doc := range prev.Products {
		eachItem(doc, func(_, _, _ string, it *catalog.Item) {
			if it.Path != "" {
				keys[it.Path] = true
			}
		})
	}
	for k := range p.previousMetaKeys() {
		if _, ok := p.state.Objects[k]; ok {
			keys[k] = true
		}
	}
	return keys
}

// GC plans a garbage collection run on its own (ssmirror gc): nothing is
// transferred or republished; pending objects whose grace period is over
// are deleted, unless the published metadata references them, and the
// state is updated. st.Published is the live publication, whose catalog
// the plan shows (nil: nothing is published).
func GC(st State, grace time.Duration) *Plan {
	if st.Objects == nil {
		st.Objects = map[string]target.Object{}
	}
	p := &Plan{Catalog: map[string]*catalog.Products{}, state: st, opts: Options{Grace: grace},
		Changes: []Change{}, Transfers: []Transfer{}, Publish: []Meta{}, Deletes: []Delete{}, Warnings: []string{},
		src: &source.Mirror{}}
	if st.Published != nil {
		p.Catalog = st.Published.Products
	}
	keep := p.publishedKeys()
	for k := range p.signedReferences() {
		keep[k] = true
	}
	p.collect(map[string]string{}, keep, true)
	return p
}
