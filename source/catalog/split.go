package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// A fast path for decoding documents already known to be valid JSON (the
// decoders validate first): members walks an object once, handing out each
// member's key and raw value, where json.Unmarshal into maps of raw values
// would validate and scan every subtree again at every level.

var errNotObject = errors.New("not an object")

// members calls fn with the key and the raw value of each member of the
// JSON object data, in document order. data must be valid JSON; a value
// that is not an object gives errNotObject.
func members(data []byte, fn func(key string, val []byte) error) error {
	return memberBytes(data, func(key, val []byte) error { return fn(string(key), val) })
}

// memberBytes is members with the keys as bytes: a part of data when the
// key has no escapes (nothing is allocated), else the decoded key.
func memberBytes(data []byte, fn func(key, val []byte) error) error {
	_, err := walkMembers(data, func(key []byte, at int) (int, error) {
		end := skipValue(data, at)
		return end, fn(key, data[at:end])
	})
	return err
}

// walkMembers walks the object that starts data (after any space): for
// each member it calls value with the key (as memberBytes gives it) and
// the index in data where the value starts, and value returns the index
// after it. walkMembers returns the index after the object.
func walkMembers(data []byte, value func(key []byte, at int) (end int, err error)) (int, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return 0, errNotObject
	}
	i = skipSpace(data, i+1)
	if data[i] == '}' {
		return i + 1, nil
	}
	for {
		kend := skipString(data, i)
		key, err := unquoteBytes(data[i:kend])
		if err != nil {
			return 0, err
		}
		i = skipSpace(data, kend) + 1 // the colon
		i = skipSpace(data, i)
		vend, err := value(key, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(data, vend)
		if data[i] == '}' {
			return i + 1, nil
		}
		i = skipSpace(data, i+1) // the comma
	}
}

// fieldsOf decodes an object into its raw members.
func fieldsOf(data []byte) (Fields, error) {
	f := Fields{}
	err := members(data, func(k string, v []byte) error {
		f[k] = json.RawMessage(v)
		return nil
	})
	return f, err
}

// Object is a JSON object kept as its text, as an item's fields are:
// members are found when asked for, so the items of a large catalog (a
// million of them) cost little more than their text, which is a part of
// the document they were decoded from. The empty Object has no members.
type Object json.RawMessage

// Get returns the raw value of the member key.
func (o Object) Get(key string) (json.RawMessage, bool) {
	var found json.RawMessage
	o.each(func(k, v []byte) bool {
		if string(k) == key {
			found = v
			return false
		}
		return true
	})
	return found, found != nil
}

// String returns the member key as Fields.String does.
func (o Object) String(key string) (string, bool) {
	raw, _ := o.Get(key)
	return scalar(raw)
}

// Fields returns the members as a map.
func (o Object) Fields() Fields {
	f := Fields{}
	o.each(func(k, v []byte) bool { f[string(k)] = json.RawMessage(v); return true })
	return f
}

// each calls fn with each member's key and raw value, in document order,
// until fn returns false. The key is only valid during the call.
func (o Object) each(fn func(key, val []byte) bool) {
	if len(o) == 0 {
		return
	}
	stop := errors.New("")
	memberBytes(o, func(k, v []byte) error {
		if !fn(k, v) {
			return stop
		}
		return nil
	})
}

// interner hands out one string for equal byte strings: the names and
// keys that repeat through a catalog (item names, version names,
// attribute keys) are then stored once.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// lookup is get without adding b: callers may share the interner.
func (in interner) lookup(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	return string(b)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i]: the
// first quote not escaped by an odd run of backslashes.
func skipString(data []byte, i int) int {
	for i++; ; {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return len(data)
		}
		q := i + j
		n := 0
		for p := q - 1; data[p] == '\\'; p-- { // the opening quote stops it
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// skipValue returns the index after the value starting at data[i].
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				i = skipString(data, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			return i
		}
		i++
	}
	return i
}

// unquote decodes a JSON string, quickly when it has no escapes.
func unquote(raw []byte) (string, error) {
	if plain(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	return unquoteSlow(raw)
}

// unquoteBytes is unquote without a copy when the string has no escapes.
func unquoteBytes(raw []byte) ([]byte, error) {
	if plain(raw) {
		return raw[1 : len(raw)-1], nil
	}
	s, err := unquoteSlow(raw)
	return []byte(s), err
}

// plain reports whether raw is a quoted string of printable ASCII
// without escapes: its bytes between the quotes are its value.
func plain(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}

func unquoteSlow(raw []byte) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("not a string")
	}
	return s, nil
}
