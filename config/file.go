package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/plan/filter"
)

// File is a parsed config file: a "defaults" section and named mirrors,
// each the settings as the file writes them.
type File struct {
	Path     string
	Defaults map[string]any
	Mirrors  map[string]map[string]any
}

// NewFile checks the settings read from the config file at path (its top
// level: defaults and mirrors) and rejects unknown keys, naming them.
func NewFile(path string, settings map[string]any) (*File, error) {
	cf := &File{Path: path, Mirrors: map[string]map[string]any{}}
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
	}
	check := func(section string, m map[string]any) error {
		for _, k := range flatKeys(m, "") {
			if !known[k] {
				return fmt.Errorf("%w: config %s: unknown key %s%s", ErrInvalid, path, section, k)
			}
		}
		return nil
	}
	for top, val := range settings {
		m, ok := val.(map[string]any)
		switch {
		case top == "defaults" && ok:
			if err := check("defaults.", m); err != nil {
				return nil, err
			}
			cf.Defaults = m
		case top == "mirrors" && ok:
			for name, mv := range m {
				sec, ok := mv.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%w: config %s: mirrors.%s: not a mapping", ErrInvalid, path, name)
				}
				if err := check("mirrors."+name+".", sec); err != nil {
					return nil, err
				}
				cf.Mirrors[name] = sec
			}
		default:
			return nil, fmt.Errorf("%w: config %s: unknown key %s (want defaults and mirrors)", ErrInvalid, path, top)
		}
	}
	if len(cf.Mirrors) == 0 {
		return nil, fmt.Errorf("%w: config %s: no mirrors", ErrInvalid, path)
	}
	return cf, nil
}

// flatKeys lists the dotted keys of a nested map; "filters" is a leaf.
func flatKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && k != "filters" {
			out = append(out, flatKeys(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// Names returns the mirrors to run: those asked for, or all, sorted.
func (cf *File) Names(asked []string) ([]string, error) {
	if len(asked) == 0 {
		for n := range cf.Mirrors {
			asked = append(asked, n)
		}
		sort.Strings(asked)
		return asked, nil
	}
	for _, n := range asked {
		if _, ok := cf.Mirrors[n]; !ok {
			return nil, fmt.Errorf("config %s has no mirror %q", cf.Path, n)
		}
	}
	return asked, nil
}

// Sections returns copies of a mirror's settings, which the caller may
// change: the defaults section, then the mirror's own, which takes
// precedence (nil where the file has none).
func (cf *File) Sections(name string) []map[string]any {
	return []map[string]any{deepCopy(cf.Defaults), deepCopy(cf.Mirrors[name])}
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// DecodeText decodes a setting written as text into its type: Size from
// "16MiB", Duration from "24h", LowSpeed from "10K/30s", Timetable from
// "08:00,1M 18:00,off"; other values pass unchanged. It is a decode hook
// for settings read as maps (github.com/go-viper/mapstructure).
func DecodeText(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String {
		return data, nil
	}
	switch to {
	case reflect.TypeOf(Size(0)):
		return ParseSize(data.(string))
	case reflect.TypeOf(Duration(0)):
		d, err := time.ParseDuration(data.(string))
		if err != nil {
			return nil, fmt.Errorf("duration %q: want e.g. 90s, 30m or 24h", data)
		}
		return Duration(d), nil
	case reflect.TypeOf(LowSpeed{}):
		return ParseLowSpeed(data.(string))
	case reflect.TypeOf(Timetable(nil)):
		return ParseTimetable(data.(string))
	}
	return data, nil
}

// ParseFilters reads the filters setting: a list of groups (lists of
// filters), a list of filters (one group), or a string of filters
// separated by spaces with --or between groups (the environment's form).
func ParseFilters(raw any) (filter.Set, error) {
	switch val := raw.(type) {
	case nil:
		return nil, nil
	case string:
		return filter.ParseArgs(strings.Fields(val))
	case []string:
		return filter.ParseArgs(val)
	case []any:
		var args []string
		for i, g := range val {
			switch gv := g.(type) {
			case string:
				args = append(args, gv)
			case []any:
				if i > 0 {
					args = append(args, filter.OrArg)
				}
				for _, f := range gv {
					s, ok := f.(string)
					if !ok {
						return nil, fmt.Errorf("%w: filters: %v is not a string", ErrInvalid, f)
					}
					args = append(args, s)
				}
			default:
				return nil, fmt.Errorf("%w: filters: %v is neither a filter nor a list of filters", ErrInvalid, g)
			}
		}
		return filter.ParseArgs(args)
	}
	return nil, fmt.Errorf("%w: filters: want a list of filter groups", ErrInvalid)
}
