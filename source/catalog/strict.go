package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays accepted in a
// document (real catalogs nest about 8 deep).
const MaxDepth = 64

// ErrDuplicateKey is wrapped when an object of a document has two keys
// that decode to the same string. encoding/json would silently keep the
// last one, so two readers could see different catalogs in one file.
var ErrDuplicateKey = errors.New("duplicate key")

// StrictJSON checks what encoding/json lets through: data must be one JSON
// object, no object in it (at any depth) may have two keys that decode to
// the same string, and nesting must stay within MaxDepth; and data must be
// valid JSON. Errors are *Error values (they match ErrInvalid) naming the
// file, the place and the reason.
func StrictJSON(name string, data []byte) error {
	if err := checkStrict(name, data, rAny); err != nil {
		return err
	}
	s := scanner{data: data, name: name}
	return s.syntax()
}

// checkStrict is the single pass DecodeIndex (top rIndex) and
// DecodeProducts (top rProducts) make before decoding: StrictJSON's
// checks, and that the containers of the tree are objects and identifying
// fields strings. It allocates little (nothing for keys without escapes in
// objects of up to 32 keys) and leaves details of the grammar that do not
// affect its checks (escapes, number syntax, control characters in
// strings) to the decoding that follows.
func checkStrict(name string, data []byte, top role) error {
	s := scanner{data: data, name: name}
	return s.run(top)
}

// role is the place of a value in a SimpleStreams document, for the
// structural checks. rAny is anywhere else.
type role uint8

const (
	rAny          role = iota
	rIndex             // an index document
	rIndexMap          // index: content id -> entry
	rEntry             // one index entry
	rProducts          // a products document
	rProductMap        // products: name -> product
	rProduct           // one product
	rVersionMap        // versions: name -> version
	rVersion           // one version
	rItemMap           // items: name -> item
	rItem              // one item
	rMustBeString      // a field that must be a string
)

// child returns the role of the value under key in an object of role r.
func (r role) child(key []byte) role {
	switch r {
	case rIndex:
		switch string(key) {
		case "index":
			return rIndexMap
		case "format":
			return rMustBeString
		}
	case rProducts:
		switch string(key) {
		case "products":
			return rProductMap
		case "format", "content_id":
			return rMustBeString
		}
	case rIndexMap:
		return rEntry
	case rProductMap:
		return rProduct
	case rProduct:
		if string(key) == "versions" {
			return rVersionMap
		}
	case rVersionMap:
		return rVersion
	case rVersion:
		if string(key) == "items" {
			return rItemMap
		}
	case rItemMap:
		return rItem
	}
	return rAny
}

// isMap reports whether the keys of an object of role r are names chosen
// by the publisher (shown as ["name"] in error locations).
func (r role) isMap() bool {
	return r == rIndexMap || r == rProductMap || r == rVersionMap || r == rItemMap
}

// bigObject is the number of keys from which an object's keys are kept in
// a map instead of being compared one by one.
const bigObject = 32

type frame struct {
	array bool
	role  role
	index int      // arrays: index of the current element
	key   []byte   // objects: the current key, decoded
	keys  [][]byte // objects: keys seen, while fewer than bigObject
	set   map[string]struct{}
}

type scanner struct {
	data  []byte
	name  string
	i     int
	stack []frame
}

func (s *scanner) run(top role) error {
	s.ws()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		if err := s.syntax(); err != nil {
			return err
		}
		return s.fail(0, "top level is %s, want an object", kindOf(s.data[s.i]))
	}
	want := top
	for {
		// A value starts at s.i (after whitespace).
		s.ws()
		if s.i >= len(s.data) {
			return s.malformed("unexpected end of input")
		}
		c := s.data[s.i]
		if want == rMustBeString && c != '"' {
			d := len(s.stack)
			return s.fail(d-1, "%s: not a string (%s)", strconv.Quote(string(s.stack[d-1].key)), kindOf(c))
		}
		if want != rAny && want != rMustBeString && c != '{' {
			return s.fail(len(s.stack), "not an object (%s)", kindOf(c))
		}
		closed := false // the value is complete
		switch c {
		case '{', '[':
			if len(s.stack) >= MaxDepth {
				return s.fail(len(s.stack), "nested deeper than %d levels", MaxDepth)
			}
			s.push(c == '[', want)
			s.i++
			s.ws()
			if s.i < len(s.data) && s.data[s.i] == c+2 { // '{'+2 is '}', '['+2 is ']'
				s.i++
				s.stack = s.stack[:len(s.stack)-1]
				closed = true
			} else if c == '{' {
				if err := s.key(); err != nil {
					return err
				}
			}
		case '"':
			end, _, ok := s.stringEnd()
			if !ok {
				return s.malformed("unterminated string")
			}
			s.i = end + 1
			closed = true
		case 't', 'f', 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if !bytes.HasPrefix(s.data[s.i:], []byte(lit)) {
				return s.malformed("invalid literal")
			}
			s.i += len(lit)
			closed = true
		default:
			j := s.i
			for j < len(s.data) && isNumberByte(s.data[j]) {
				j++
			}
			if j == s.i {
				return s.malformed(fmt.Sprintf("invalid character %q", c))
			}
			s.i = j
			closed = true
		}
		// After a complete value: close containers, or move to the next
		// element or member.
		for closed {
			if len(s.stack) == 0 {
				s.ws()
				if s.i != len(s.data) {
					return s.malformed("data after the top-level object")
				}
				return nil
			}
			s.ws()
			if s.i >= len(s.data) {
				return s.malformed("unexpected end of input")
			}
			f := &s.stack[len(s.stack)-1]
			switch c := s.data[s.i]; {
			case c == ',':
				s.i++
				if f.array {
					f.index++
				} else {
					s.ws()
					if err := s.key(); err != nil {
						return err
					}
				}
				closed = false
			case (c == ']' && f.array) || (c == '}' && !f.array):
				s.i++
				s.stack = s.stack[:len(s.stack)-1]
			default:
				return s.malformed(fmt.Sprintf("invalid character %q after a value", c))
			}
		}
		f := &s.stack[len(s.stack)-1]
		if f.array {
			want = rAny
		} else {
			want = f.role.child(f.key)
		}
	}
}

// push opens an object or array of role r, reusing the frame's memory.
func (s *scanner) push(array bool, r role) {
	if len(s.stack) < cap(s.stack) {
		s.stack = s.stack[:len(s.stack)+1]
	} else {
		s.stack = append(s.stack, frame{})
	}
	f := &s.stack[len(s.stack)-1]
	f.array, f.role, f.index, f.key = array, r, 0, nil
	f.keys = f.keys[:0]
	if f.set != nil {
		clear(f.set)
	}
}

// key reads an object key and the colon after it, and records the key in
// the current object, failing on a duplicate.
func (s *scanner) key() error {
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return s.malformed("expected a key")
	}
	end, escaped, ok := s.stringEnd()
	if !ok {
		return s.malformed("unterminated key")
	}
	k := s.data[s.i+1 : end]
	if escaped || !isASCII(k) && !utf8.Valid(k) {
		// Compare keys as encoding/json decodes them (escapes undone,
		// invalid UTF-8 replaced).
		var str string
		if err := json.Unmarshal(s.data[s.i:end+1], &str); err != nil {
			return s.malformed("invalid key")
		}
		k = []byte(str)
	}
	s.i = end + 1
	f := &s.stack[len(s.stack)-1]
	if len(f.keys) == bigObject { // a big object: keys move to a map
		if f.set == nil {
			f.set = make(map[string]struct{}, 2*bigObject)
		}
		if len(f.set) == 0 {
			for _, old := range f.keys {
				f.set[string(old)] = struct{}{}
			}
		}
		if _, dup := f.set[string(k)]; dup {
			return s.duplicate(k)
		}
		f.set[string(k)] = struct{}{}
	} else {
		for _, old := range f.keys {
			if bytes.Equal(old, k) {
				return s.duplicate(k)
			}
		}
		f.keys = append(f.keys, k)
	}
	f.key = k
	s.ws()
	if s.i >= len(s.data) || s.data[s.i] != ':' {
		return s.malformed("expected a colon after a key")
	}
	s.i++
	return nil
}

func (s *scanner) duplicate(k []byte) error {
	return &Error{File: s.name, Where: s.where(len(s.stack) - 1), Err: fmt.Errorf("%w %s", ErrDuplicateKey, strconv.Quote(string(k)))}
}

// stringEnd returns the index of the quote closing the string that starts
// at s.i, and whether the string has escapes.
func (s *scanner) stringEnd() (end int, escaped, ok bool) {
	j := s.i + 1
	for {
		k := bytes.IndexByte(s.data[j:], '"')
		if k < 0 {
			return 0, false, false
		}
		q := j + k
		if !escaped && bytes.IndexByte(s.data[j:q], '\\') < 0 {
			return q, false, true
		}
		escaped = true
		n := 0 // backslashes right before the quote
		for p := q - 1; p > s.i && s.data[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q, true, true
		}
		j = q + 1
	}
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// where formats the location of the value at depth d: the keys (and
// indexes) of the first d open containers.
func (s *scanner) where(d int) string {
	var b []byte
	for i := 0; i < d; i++ {
		f := &s.stack[i]
		switch {
		case f.array:
			b = fmt.Appendf(b, "[%d]", f.index)
		case f.role.isMap() || !isIdent(f.key):
			b = append(append(append(b, '['), strconv.Quote(string(f.key))...), ']')
		case i == 0:
			b = append(b, f.key...)
		default:
			b = append(append(b, '.'), f.key...)
		}
	}
	return string(b)
}

func (s *scanner) fail(d int, format string, a ...any) error {
	return &Error{File: s.name, Where: s.where(d), Err: fmt.Errorf(format, a...)}
}

// malformed reports a syntax error, in encoding/json's words when it
// finds one (it checks the grammar completely), else in ours.
func (s *scanner) malformed(why string) error {
	if err := s.syntax(); err != nil {
		return err
	}
	return &Error{File: s.name, Err: fmt.Errorf("malformed JSON: %s at byte %d", why, s.i)}
}

// syntax returns encoding/json's syntax error for the document, if any.
func (s *scanner) syntax() error {
	var raw json.RawMessage
	if err := json.Unmarshal(s.data, &raw); err != nil {
		return &Error{File: s.name, Err: fmt.Errorf("malformed JSON: %w", err)}
	}
	return nil
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isIdent reports whether a key reads well after a dot: letters, digits,
// '_' and '-', not empty.
func isIdent(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
