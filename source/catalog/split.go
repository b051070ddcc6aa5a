package catalog

import (
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
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errNotObject
	}
	i = skipSpace(data, i+1)
	if data[i] == '}' {
		return nil
	}
	for {
		kend := skipString(data, i)
		key, err := unquote(data[i:kend])
		if err != nil {
			return err
		}
		i = skipSpace(data, kend) + 1 // the colon
		i = skipSpace(data, i)
		vend := skipValue(data, i)
		if err := fn(key, data[i:vend]); err != nil {
			return err
		}
		i = skipSpace(data, vend)
		if data[i] == '}' {
			return nil
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

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i].
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
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
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		plain := true
		for _, c := range raw[1 : len(raw)-1] {
			if c == '\\' || c < 0x20 || c >= 0x80 {
				plain = false
				break
			}
		}
		if plain {
			return string(raw[1 : len(raw)-1]), nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("not a string")
	}
	return s, nil
}
