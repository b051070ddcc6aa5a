package config

import (
	"reflect"
	"slices"
	"sort"
	"testing"
)

// syncKeys returns the dotted mapstructure keys of Sync's fields, walking
// into its sections (S3), plus "filters" (decoded apart).
func syncKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		switch {
		case tag == "-":
			keys = append(keys, "filters")
		case f.Type == reflect.TypeOf(S3{}):
			keys = append(keys, syncKeys(f.Type, prefix+tag+".")...)
		default:
			keys = append(keys, prefix+tag)
		}
	}
	return keys
}

// TestOptionsCoverSync: the table has one option per setting of Sync, one
// flag per option at most, and no flag twice.
func TestOptionsCoverSync(t *testing.T) {
	want := syncKeys(reflect.TypeOf(Sync{}), "")
	got := Keys()
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("option keys\n%v\nwant the keys of Sync\n%v", got, want)
	}
	flags := map[string]bool{}
	for _, o := range Options {
		if o.Flag == "" {
			if len(o.Commands) > 0 || o.Help != "" {
				t.Errorf("%s: commands or help without a flag", o.Key)
			}
			continue
		}
		if flags[o.Flag] {
			t.Errorf("--%s: twice", o.Flag)
		}
		flags[o.Flag] = true
		if o.Help == "" || len(o.Commands) == 0 {
			t.Errorf("--%s: no help or no command", o.Flag)
		}
		for c := range o.HelpFor {
			if !o.On(c) {
				t.Errorf("--%s: help for %s, which lacks the flag", o.Flag, c)
			}
		}
	}
}

func TestEnvVar(t *testing.T) {
	for key, want := range map[string]string{"s3.endpoint": "SSMIRROR_S3_ENDPOINT", "transfers": "SSMIRROR_TRANSFERS", "sign_passphrase": "SSMIRROR_SIGN_PASSPHRASE"} {
		if got := EnvVar(key); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", key, got, want)
		}
	}
}
