package plan

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// ErrReserved means a catalog names, as an item or a products file, a key
// the tool itself writes (its state and lease, the index, a products file,
// the published key, the browse page).
var ErrReserved = errors.New("path reserved for the mirror's own files")

// Internal reports whether key is one of the tool's own objects under
// StateDir (the garbage collection state, the lease, the resume records
// of cut-off uploads under target.ResumeDir): never part of what the
// mirror serves.
func Internal(key string) bool { return strings.HasPrefix(key, StateDir) }

// staleResumes reports whether the state lists a resume record of a path
// no transfer names.
func (p *Plan) staleResumes() bool {
	var records []string
	for k := range p.state.Objects {
		if strings.HasPrefix(k, target.ResumeDir) {
			records = append(records, k)
		}
	}
	if len(records) == 0 {
		return false
	}
	want := make(map[string]bool, len(p.Transfers))
	for _, t := range p.Transfers {
		want[target.ResumeKey(t.Path)] = true
	}
	for _, k := range records {
		if !want[k] {
			return true
		}
	}
	return false
}

// BrowsePage is the mirror's browse page (see Options.Browse), at the
// mirror root.
const BrowsePage = "index.html"

// ToolObject reports whether key is one of the tool's own objects that no
// metadata names: an internal object or the browse page. Garbage
// collection leaves them alone, and does not report them as foreign.
func ToolObject(key string) bool { return Internal(key) || key == BrowsePage }

// MetadataKey reports whether key is a metadata file of streams/v1: index
// and products files, signed or not, detached signatures and keys.
func MetadataKey(key string) bool {
	if path.Dir(key) != "streams/v1" {
		return false
	}
	switch path.Ext(key) {
	case ".json", ".sjson", ".gpg", ".asc":
		return true
	}
	return false
}

// Ours reports whether key is the tool's own: an internal object, a
// metadata file or the browse page. No catalog item may take such a key.
func Ours(key string) bool { return ToolObject(key) || MetadataKey(key) }

// checkPaths refuses a catalog that names the tool's own keys: a products
// file under StateDir or at the index, the published key or another
// products file; an item at a key that is ours (see Ours), that a
// products file of this publication takes, or that is a directory of
// those ("streams/v1", ".ssmirror"). The error names the file that
// says so and the path, and wraps ErrReserved.
func (p *Plan) checkPaths() error {
	src := p.src
	name := func(f string) string { return strings.TrimSuffix(src.Root, "/") + "/" + f }
	// taken maps each metadata key this publication may write to the
	// content id whose products file it is ("" for the index and key).
	taken := map[string]string{IndexJSON: "", IndexSJSON: "", KeyringGPG: "", KeyringASC: "", src.StartPath: ""}
	for _, cid := range catalog.SortedKeys(src.Index.Entries) {
		e := src.Index.Entries[cid]
		if e.Format() != catalog.FormatProducts {
			continue
		}
		for _, k := range []string{jsonPath(e.Path), SignedPath(jsonPath(e.Path))} {
			owner, dup := taken[k]
			switch {
			case Internal(k):
				return fmt.Errorf("%s: %w: content id %q names products file %q, under the tool's own %s",
					name(src.StartPath), ErrReserved, cid, e.Path, StateDir)
			case dup && owner == "":
				return fmt.Errorf("%s: %w: content id %q names products file %q, which is the mirror's %s",
					name(src.StartPath), ErrReserved, cid, e.Path, k)
			case dup && owner != cid:
				return fmt.Errorf("%s: %w: content ids %q and %q both name products file %q",
					name(src.StartPath), ErrReserved, owner, cid, k)
			}
			taken[k] = cid
		}
	}
	// dirs holds the directories of those keys: an item there would be a
	// file where the mirror needs a directory (a directory target cannot
	// hold both).
	dirs := map[string]bool{strings.TrimSuffix(StateDir, "/"): true}
	for k := range taken {
		for d := path.Dir(k); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, cid := range catalog.SortedKeys(p.Catalog) {
		file := cid
		if e := src.Index.Entries[cid]; e != nil {
			file = name(e.Path)
		}
		var err error
		eachItem(p.Catalog[cid], func(pname, vname, iname string, it *catalog.Item) {
			if err != nil || it.Path == "" {
				return
			}
			why := ""
			if owner, ok := taken[it.Path]; ok && owner != "" {
				why = fmt.Sprintf("the products file of %q", owner)
			} else if ok || Ours(it.Path) {
				why = "one of the mirror's own files"
			} else if dirs[it.Path] {
				why = "a directory of the mirror's own files"
			}
			if why != "" {
				err = fmt.Errorf("%s: %w: item %s/%s/%s has path %q, %s",
					file, ErrReserved, pname, vname, iname, it.Path, why)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}
