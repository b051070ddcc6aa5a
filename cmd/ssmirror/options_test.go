package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// sample is a value of the option that differs from its default, as a
// flag or environment variable writes it and as a config file does.
func sample(o config.Option) (string, any) {
	switch o.Key {
	case "s3.part_size", "s3.upload_memory", "s3.multipart_threshold":
		return "6M", "6M"
	case "low_speed":
		return "10K/30s", "10K/30s"
	case "bwlimit":
		return "1M", "1M"
	case "filters":
		return "arch=amd64", []any{"arch=amd64"}
	}
	switch o.Type {
	case config.TypeBool:
		return "true", true
	case config.TypeInt:
		return "3", 3
	case config.TypeDuration:
		return "90s", "90s"
	case config.TypeStrings:
		return "x", []any{"x"}
	}
	return "x", "x"
}

// changedKeys names the settings in which a differs from b, by their
// config keys.
func changedKeys(a, b reflect.Value, prefix string) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		key := f.Tag.Get("mapstructure")
		if key == "-" {
			key = "filters"
		}
		if f.Type == reflect.TypeOf(config.S3{}) {
			out = append(out, changedKeys(a.Field(i), b.Field(i), prefix+key+".")...)
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			out = append(out, prefix+key)
		}
	}
	return out
}

// nest writes a dotted key as a config file section does.
func nest(key string, val any) map[string]any {
	if head, rest, ok := strings.Cut(key, "."); ok {
		return map[string]any{head: nest(rest, val)}
	}
	return map[string]any{key: val}
}

// TestOptionRoutes: every option's flag (on each command that has it), its
// SSMIRROR_* variable and its config file key set the same field of
// config.Sync, the one the key names, to the same value.
func TestOptionRoutes(t *testing.T) {
	base, err := resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range config.Options {
		t.Run(o.Key, func(t *testing.T) {
			text, yaml := sample(o)
			check := func(route string, get func() (config.Sync, error)) config.Sync {
				t.Helper()
				cfg, err := get()
				if err != nil {
					t.Fatalf("%s: %v", route, err)
				}
				if got := changedKeys(reflect.ValueOf(cfg), reflect.ValueOf(base), ""); len(got) != 1 || got[0] != o.Key {
					t.Errorf("%s changes %v, want [%s]", route, got, o.Key)
				}
				return cfg
			}
			fromFile := check("config key "+o.Key, func() (config.Sync, error) { return resolve(nil, nest(o.Key, yaml)) })
			t.Setenv(o.Env(), text)
			fromEnv := check("$"+o.Env(), func() (config.Sync, error) { return resolve(nil) })
			if !reflect.DeepEqual(fromEnv, fromFile) {
				t.Errorf("$%s gives %+v, the config file %+v", o.Env(), fromEnv, fromFile)
			}
			t.Setenv(o.Env(), "")
			for _, c := range o.Commands {
				fs := pflag.NewFlagSet(c, pflag.ContinueOnError)
				addSettingFlags(fs, c)
				if err := fs.Set(o.Flag, text); err != nil {
					t.Fatalf("%s --%s: %v", c, o.Flag, err)
				}
				fromFlag := check(c+" --"+o.Flag, func() (config.Sync, error) { return resolve(fs) })
				if !reflect.DeepEqual(fromFlag, fromFile) {
					t.Errorf("%s --%s gives %+v, the config file %+v", c, o.Flag, fromFlag, fromFile)
				}
			}
		})
	}
}

// TestOptionDefaults: the defaults --help shows are those the store and
// the publisher apply.
func TestOptionDefaults(t *testing.T) {
	if config.DefaultPartUploads != s3store.DefaultConcurrency {
		t.Errorf("config.DefaultPartUploads %d, s3store.DefaultConcurrency %d", config.DefaultPartUploads, s3store.DefaultConcurrency)
	}
	if config.DefaultItemCacheControl != apply.ItemCacheControl || config.DefaultMetadataCacheControl != apply.MetadataCacheControl {
		t.Errorf("config's Cache-Control defaults %q, %q; apply's %q, %q", config.DefaultItemCacheControl, config.DefaultMetadataCacheControl, apply.ItemCacheControl, apply.MetadataCacheControl)
	}
}
