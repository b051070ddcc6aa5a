// Package filter selects SimpleStreams catalog items by their attributes.
//
// It implements the filter grammar of the reference tool, sstream-mirror:
//
//	key=value    the attribute equals value exactly
//	key!=value   the attribute does not equal value
//	key~regex    regex matches somewhere in the attribute (unanchored search)
//	key!~regex   regex matches nowhere in the attribute
//
// An attribute missing from an item matches as the empty string, so
// "arch!=amd64" and "arch=" both select an item that has no arch.
// Filters in a [Group] are ANDed, like all the filters given to the reference
// tool. On top of that, a [Set] ORs several groups; on the command line the
// groups are separated by the argument [OrArg] ("--or"), which lets one run
// mirror both MAAS images and their bootloaders:
//
//	arch=amd64 release~(jammy|noble) --or os~(grub*|pxelinux)
//
// Regular expressions use Go's RE2 syntax ([regexp]); a pattern RE2 cannot
// compile (lookaround, backreferences) is a syntax error when parsing rather
// than a surprise later.
//
// The package matches flattened attribute maps (map[string]string) and
// nothing else: it knows nothing about catalogs, products, versions, the
// inheritance of attributes from products to items, or version selection such
// as --max. Callers flatten items and apply those rules themselves.
package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every error returned for text that is not a valid
// filter, argument list or JSON filter set. Test for it with [errors.Is].
var ErrSyntax = errors.New("invalid filter")

// OrArg is the literal command-line argument that separates groups in
// [ParseArgs].
const OrArg = "--or"

// expected is the reason given when a filter has no operator.
const expected = "expected key=value, key!=value, key~regex or key!~regex"

// Op is the comparison a [Filter] makes.
type Op int

const (
	Eq        Op = iota // "=": the attribute equals the value
	Ne                  // "!=": the attribute does not equal the value
	Search              // "~": the regex matches somewhere in the attribute
	NotSearch           // "!~": the regex matches nowhere in the attribute
)

// String returns the operator as written in a filter: "=", "!=", "~" or "!~".
func (o Op) String() string {
	switch o {
	case Eq:
		return "="
	case Ne:
		return "!="
	case Search:
		return "~"
	case NotSearch:
		return "!~"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// SyntaxError describes text that is not a valid filter. It wraps
// [ErrSyntax] and, for a bad regex, the error from [regexp.Compile].
type SyntaxError struct {
	Arg    string // the offending filter text, as given
	Reason string // what is wrong with it
	Err    error  // underlying error, if any (e.g. from regexp)
}

func (e *SyntaxError) Error() string {
	return "filter " + strconv.Quote(e.Arg) + ": " + e.Reason
}

// Unwrap returns ErrSyntax and the underlying error, if any.
func (e *SyntaxError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrSyntax, e.Err}
	}
	return []error{ErrSyntax}
}

// Filter is one parsed filter: Key Op Value.
//
// Use [Parse] to build one. A Filter written as a literal also works, but its
// regex (for Search and NotSearch) is compiled on every Match, and a literal
// whose Op is unknown or whose regex does not compile matches nothing.
type Filter struct {
	Key   string
	Op    Op
	Value string

	re *regexp.Regexp // compiled Value, set by Parse for Search and NotSearch
}

// isKeyRune reports whether r may appear in a key: the reference pattern's
// [\w|-], where Python's \w (on str patterns) is any Unicode letter or number,
// or the underscore.
func isKeyRune(r rune) bool {
	return r == '_' || r == '-' || r == '|' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// Parse parses one filter.
//
// It accepts exactly what the reference tool's pattern
// ^(?P<key>[\w|-]+)(?P<op>!?[=~])(?P<value>.*)$ accepts: the key is one or more
// letters, digits, "_", "-" or "|"; the value is everything after the
// operator, may be empty and may itself contain "=", "~" or "!". As with
// Python's "." and "$", the value cannot contain a newline, except that a single
// trailing newline is allowed and dropped. Text that is not valid UTF-8 is
// rejected. For "~" and "!~" the value must compile as a Go regular
// expression.
func Parse(s string) (Filter, error) {
	fail := func(reason string, err error) (Filter, error) {
		return Filter{}, &SyntaxError{Arg: s, Reason: reason, Err: err}
	}
	if s == "" {
		return fail("empty filter; "+expected, nil)
	}
	if !utf8.ValidString(s) {
		return fail("not valid UTF-8", nil)
	}
	// The key class excludes "!", "=" and "~", so the greedy key of the
	// reference pattern never backtracks: the key is the longest prefix of
	// key characters, and the operator must follow it immediately.
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isKeyRune(r) {
			break
		}
		i += size
	}
	key, rest := s[:i], s[i:]
	var op Op
	switch {
	case strings.HasPrefix(rest, "!="):
		op = Ne
	case strings.HasPrefix(rest, "!~"):
		op = NotSearch
	case strings.HasPrefix(rest, "="):
		op = Eq
	case strings.HasPrefix(rest, "~"):
		op = Search
	case rest == "":
		return fail(expected, nil)
	default:
		r, _ := utf8.DecodeRuneInString(rest)
		return fail(fmt.Sprintf("invalid character %+q in key (keys are letters, digits, \"_\", \"-\" and \"|\"); %s", r, expected), nil)
	}
	if key == "" {
		return fail("empty key; "+expected, nil)
	}
	value := rest[len(op.String()):]
	value = strings.TrimSuffix(value, "\n")
	if strings.Contains(value, "\n") {
		return fail("value contains a newline", nil)
	}
	f := Filter{Key: key, Op: op, Value: value}
	if op == Search || op == NotSearch {
		re, err := regexp.Compile(value)
		if err != nil {
			return fail("invalid regex: "+err.Error(), err)
		}
		f.re = re
	}
	return f, nil
}

// Match reports whether item satisfies the filter. A key missing from item
// matches as "".
func (f Filter) Match(item map[string]string) bool {
	v := item[f.Key]
	switch f.Op {
	case Eq:
		return v == f.Value
	case Ne:
		return v != f.Value
	case Search, NotSearch:
		re := f.re
		if re == nil {
			var err error
			if re, err = regexp.Compile(f.Value); err != nil {
				return false
			}
		}
		return re.MatchString(v) == (f.Op == Search)
	}
	return false
}

// String returns the filter's canonical text, key, operator and value with
// nothing between them; Parse(f.String()) gives an equal filter.
func (f Filter) String() string {
	return f.Key + f.Op.String() + f.Value
}

// MarshalText returns f.String(), so a Filter encodes as a JSON string.
func (f Filter) MarshalText() ([]byte, error) {
	return []byte(f.String()), nil
}

// UnmarshalText parses text with [Parse].
func (f *Filter) UnmarshalText(text []byte) error {
	g, err := Parse(string(text))
	if err != nil {
		return err
	}
	*f = g
	return nil
}

// Group is a conjunction of filters: an item matches when every filter does.
type Group []Filter

// Match reports whether item satisfies every filter of g. An empty group
// matches everything.
func (g Group) Match(item map[string]string) bool {
	for _, f := range g {
		if !f.Match(item) {
			return false
		}
	}
	return true
}

// String returns the group's filters separated by spaces. Values are not
// quoted, so the text is for people; JSON is the lossless form.
func (g Group) String() string {
	parts := make([]string, len(g))
	for i, f := range g {
		parts[i] = f.String()
	}
	return strings.Join(parts, " ")
}

// Set is a disjunction of groups: an item matches when any group does.
type Set []Group

// Match reports whether item satisfies any group of s. An empty set matches
// everything (no filters select every item).
func (s Set) Match(item map[string]string) bool {
	if len(s) == 0 {
		return true
	}
	for _, g := range s {
		if g.Match(item) {
			return true
		}
	}
	return false
}

// Keys returns the attribute keys the filters of s read, each once, in
// the order they first appear: an item's other attributes do not change
// whether s matches it. An empty set reads none.
func (s Set) Keys() []string {
	keys := []string{}
	for _, g := range s {
		for _, f := range g {
			if !slices.Contains(keys, f.Key) {
				keys = append(keys, f.Key)
			}
		}
	}
	return keys
}

// String returns the set as command-line text, groups separated by
// " --or ", e.g. `arch=amd64 release~(jammy|noble) --or os~(grub|pxelinux)`.
// It returns "" for an empty set. Values are not quoted, so the text is for
// people; JSON is the lossless form.
func (s Set) String() string {
	parts := make([]string, len(s))
	for i, g := range s {
		parts[i] = g.String()
	}
	return strings.Join(parts, " "+OrArg+" ")
}

// ParseArgs parses command-line arguments: filters, with groups separated by
// the argument [OrArg]. Each argument is one filter, so a value may contain
// spaces. A leading, trailing or doubled OrArg (an empty group) is an error.
// No arguments give an empty Set, which matches everything.
func ParseArgs(args []string) (Set, error) {
	var set Set
	var group Group
	for i, a := range args {
		if a == OrArg {
			if len(group) == 0 {
				return nil, emptyGroupArg(args, i)
			}
			set = append(set, group)
			group = nil
			continue
		}
		f, err := Parse(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		group = append(group, f)
	}
	if len(group) == 0 {
		if len(args) == 0 {
			return nil, nil
		}
		return nil, emptyGroupArg(args, len(args)-1)
	}
	return append(set, group), nil
}

// emptyGroupArg reports the OrArg at args[i] as leading, trailing or
// doubled: it leaves an empty group.
func emptyGroupArg(args []string, i int) error {
	where := "doubled"
	switch {
	case i == 0:
		where = "leading"
	case i == len(args)-1 && args[i-1] != OrArg:
		where = "trailing"
	}
	return &otherSyntaxError{msg: fmt.Sprintf("argument %d %q: %s %s leaves an empty group (%s must separate non-empty groups of filters)",
		i+1, OrArg, where, OrArg, OrArg)}
}

// otherSyntaxError is a syntax error that is not about one filter's text.
type otherSyntaxError struct {
	msg string
	err error
}

func (e *otherSyntaxError) Error() string { return e.msg }

func (e *otherSyntaxError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrSyntax, e.err}
	}
	return []error{ErrSyntax}
}

// MarshalJSON encodes s as a JSON array of arrays of filter strings, e.g.
// [["arch=amd64","release~(jammy|noble)"],["os~(grub*|pxelinux)"]].
// An empty set encodes as [].
func (s Set) MarshalJSON() ([]byte, error) {
	out := make([][]string, len(s))
	for i, g := range s {
		out[i] = make([]string, len(g))
		for j, f := range g {
			out[i][j] = f.String()
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes the form written by MarshalJSON, parsing every
// filter. An empty group is an error, as in ParseArgs; [] gives an empty set
// and, by the encoding/json convention, null leaves s unchanged.
func (s *Set) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var raw [][]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return &otherSyntaxError{msg: "filter set: want a JSON array of arrays of filter strings: " + err.Error(), err: err}
	}
	set := make(Set, 0, len(raw))
	for i, strs := range raw {
		if len(strs) == 0 {
			return &otherSyntaxError{msg: fmt.Sprintf("filter set: group %d is empty (every group needs at least one filter)", i+1)}
		}
		g := make(Group, len(strs))
		for j, str := range strs {
			f, err := Parse(str)
			if err != nil {
				return fmt.Errorf("filter set: group %d: %w", i+1, err)
			}
			g[j] = f
		}
		set = append(set, g)
	}
	*s = set
	return nil
}
