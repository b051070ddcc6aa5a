package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
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
type GCState struct {
	Version int `json:"version"`
	// Pending maps a key to the time it stopped being referenced.
	Pending map[string]time.Time `json:"pending"`
	// ListMarks are every ListPage-th key (in lexical order) of what the
	// target held when the state was written, so that the next run can
	// list the target in ranges at once, a page each (see
	// apply.LoadState). A hint: wrong or stale marks cost requests,
	// never correctness.
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
	if !validListMarks(st.ListMarks) {
		st.ListMarks = nil // a hint only: list the target in one range
	}
	return &st, nil
}

// collect decides what of gone (keys leaving the mirror with this plan)
// and of the pending keys of the state is deleted now, and renders the new
// state. A key referenced by the new publication (keep) is never deleted.
// A key still referenced by the published metadata starts its grace period
// now, since it stops being referenced only when this plan publishes. When
// the state was lost, objects that no published metadata references are
// adopted as pending from now (rebuilt from the listing), never deleted
// at once. Without deletes, due keys stay pending.
func (p *Plan) collect(gone, keep map[string]bool, deletes bool) {
	now := p.state.Now
	if now.IsZero() {
		now = time.Now()
	}
	grace := p.opts.Grace
	old := map[string]time.Time{}
	if p.state.GC != nil {
		old = p.state.GC.Pending
	}
	referenced := p.publishedKeys()
	candidates := map[string]bool{}
	for k := range gone {
		candidates[k] = true
	}
	for k := range old {
		candidates[k] = true
	}
	if p.state.GC == nil && p.state.Published != nil {
		for k := range p.state.Objects {
			if !referenced[k] && !Internal(k) {
				candidates[k] = true
			}
		}
	}
	pending := map[string]time.Time{}
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
		pending[k] = since
		if deletes && now.Sub(since) >= grace {
			reason := "unreferenced since " + since.UTC().Format(time.RFC3339)
			if grace == 0 {
				reason = "no longer referenced"
			}
			p.Deletes = append(p.Deletes, Delete{Path: k, Size: obj.Size, Reason: reason})
		}
	}
	marks := p.listMarks()
	if len(pending) == 0 && len(old) == 0 && p.state.GC != nil && slices.Equal(marks, p.state.GC.ListMarks) {
		return
	}
	body, _ := json.MarshalIndent(GCState{Version: 1, Pending: pending, ListMarks: marks}, "", " ")
	body = append(body, '\n')
	if prev, ok := p.state.Metadata[StateKey]; ok && string(prev) == string(body) {
		return
	}
	// The state goes before the index files: a run killed in between
	// leaves pending keys that the published index still names, and the
	// next run restarts their grace period (see above).
	m := Meta{Key: StateKey, Body: body, Size: int64(len(body))}
	at := len(p.Publish)
	for i, x := range p.Publish {
		if x.Key == IndexJSON || x.Key == p.src.StartPath && p.opts.Signed == SignedUpstream || x.Key == IndexSJSON {
			at = i
			break
		}
	}
	p.Publish = append(p.Publish[:at], append([]Meta{m}, p.Publish[at:]...)...)
}

// listMarks returns the list marks of the target as this plan leaves it:
// what it holds, with the transferred and published keys (the state
// among them), without the deleted ones.
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
	for i := ListPage - 1; i < len(keys)-1; i += ListPage {
		marks = append(marks, keys[i])
	}
	return marks
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
// state is updated. st.Published must be set.
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
	p.collect(map[string]bool{}, keep, true)
	return p
}
