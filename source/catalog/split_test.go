package catalog

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzMembers checks the fast object walker against encoding/json on
// valid objects without duplicate keys: the same keys, the same values.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"}"}], "d":"x\"y", "e\u0041":null } `,
		`{"k":{"nested":{"deep":[[],{}]}},"s":"\\","n":-1.5e3,"t":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil || checkStrict("fuzz", data, rAny) != nil {
			return
		}
		got, err := fieldsOf(data)
		if err != nil {
			t.Fatalf("fieldsOf(%q): %v", data, err)
		}
		if len(got) != len(want) {
			t.Fatalf("fieldsOf(%q) has %d members, want %d", data, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
				t.Fatalf("member %q = %q, want %q", k, got[k], v)
			}
		}
	})
}
