package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan/filter"
)

// Settings come from four places, in this order of precedence: flags that
// were given, SSMIRROR_* environment variables (SSMIRROR_TRANSFERS,
// SSMIRROR_S3_ENDPOINT, SSMIRROR_SIGN_PASSPHRASE, ...), the config file
// (the mirror's section over its "defaults" section), built-in defaults.
// Viper is used here only; library packages receive config.Sync.

// addSettingFlags adds the flags config.Options gives the command (one of
// config.CmdSync, CmdList, ...). The flags are read through resolve, so
// their values are not bound to variables.
func addSettingFlags(f *pflag.FlagSet, command string) {
	for _, o := range config.Options {
		if !o.On(command) {
			continue
		}
		help := o.HelpOn(command)
		switch o.Type {
		case config.TypeBool:
			f.BoolP(o.Flag, o.Short, o.Default.(bool), help)
		case config.TypeInt:
			f.IntP(o.Flag, o.Short, o.Default.(int), help)
		case config.TypeString:
			f.StringP(o.Flag, o.Short, o.Default.(string), help)
		case config.TypeStrings:
			def, _ := o.Default.([]string)
			f.StringArrayP(o.Flag, o.Short, def, help)
		case config.TypeDuration:
			f.DurationP(o.Flag, o.Short, o.Default.(time.Duration), help)
		default:
			panic("config.Options: " + o.Key + ": unknown type")
		}
	}
}

// settingKey returns the config key of a setting flag; false for the
// other flags of a command (--json, --config, ...).
func settingKey(flag string) (string, bool) {
	for _, o := range config.Options {
		if o.Flag == flag {
			return o.Key, true
		}
	}
	return "", false
}

// configFile is a parsed config file: a "defaults" section and named
// mirrors.
type configFile struct {
	path     string
	defaults map[string]any
	mirrors  map[string]map[string]any
}

// readConfigFile reads a YAML (or JSON, TOML) config file and rejects
// unknown keys, naming them.
func readConfigFile(path string) (*configFile, error) {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", errUsage, path, err)
	}
	cf := &configFile{path: path, mirrors: map[string]map[string]any{}}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k] = true
	}
	check := func(section string, m map[string]any) error {
		for _, k := range flatKeys(m, "") {
			if !known[k] {
				return fmt.Errorf("%w: config %s: unknown key %s%s", config.ErrInvalid, path, section, k)
			}
		}
		return nil
	}
	for top, val := range v.AllSettings() {
		m, ok := val.(map[string]any)
		switch {
		case top == "defaults" && ok:
			if err := check("defaults.", m); err != nil {
				return nil, err
			}
			cf.defaults = m
		case top == "mirrors" && ok:
			for name, mv := range m {
				sec, ok := mv.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%w: config %s: mirrors.%s: not a mapping", config.ErrInvalid, path, name)
				}
				if err := check("mirrors."+name+".", sec); err != nil {
					return nil, err
				}
				cf.mirrors[name] = sec
			}
		default:
			return nil, fmt.Errorf("%w: config %s: unknown key %s (want defaults and mirrors)", config.ErrInvalid, path, top)
		}
	}
	if len(cf.mirrors) == 0 {
		return nil, fmt.Errorf("%w: config %s: no mirrors", config.ErrInvalid, path)
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

// names returns the mirrors to run: those asked for, or all, sorted.
func (cf *configFile) names(asked []string) ([]string, error) {
	if len(asked) == 0 {
		for n := range cf.mirrors {
			asked = append(asked, n)
		}
		sort.Strings(asked)
		return asked, nil
	}
	for _, n := range asked {
		if _, ok := cf.mirrors[n]; !ok {
			return nil, fmt.Errorf("%w: config %s has no mirror %q", errUsage, cf.path, n)
		}
	}
	return asked, nil
}

// resolve computes one mirror's settings: defaults, then the config file
// sections (may be nil), then the environment, then the flags that were
// given.
func resolve(flags *pflag.FlagSet, sections ...map[string]any) (config.Sync, error) {
	v := viper.New()
	def := config.Default()
	v.SetDefault("transfers", def.Transfers)
	v.SetDefault("gc_grace", def.GCGrace.String())
	v.SetDefault("retries", def.Retries)
	v.SetDefault("retry_delay", def.RetryDelay.String())
	v.SetDefault("idle_timeout", def.IdleTimeout.String())
	for _, sec := range sections {
		if sec != nil {
			// Viper merges into the maps it is given: pass copies.
			if err := v.MergeConfigMap(deepCopy(sec)); err != nil {
				return config.Sync{}, err
			}
		}
	}
	for _, o := range config.Options {
		v.BindEnv(o.Key, o.Env())
	}
	if flags != nil {
		var err error
		flags.Visit(func(f *pflag.Flag) {
			key, ok := settingKey(f.Name)
			if !ok || err != nil {
				return
			}
			switch f.Value.Type() {
			case "stringArray":
				var vals []string
				vals, err = flags.GetStringArray(f.Name)
				v.Set(key, vals)
			case "bool":
				var b bool
				b, err = flags.GetBool(f.Name)
				v.Set(key, b)
			case "int":
				var n int
				n, err = flags.GetInt(f.Name)
				v.Set(key, n)
			default:
				v.Set(key, f.Value.String())
			}
		})
		if err != nil {
			return config.Sync{}, err
		}
	}
	var cfg config.Sync
	hook := viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToSliceHookFunc(","),
		unitHook,
	))
	if err := v.Unmarshal(&cfg, hook, func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = false }); err != nil {
		// mapstructure lists its errors on several lines; keep one.
		msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "decoding failed due to the following error(s):", "")), " ")
		return config.Sync{}, fmt.Errorf("%w: %s", config.ErrInvalid, msg)
	}
	fs, err := filterValue(v.Get("filters"))
	if err != nil {
		return config.Sync{}, err
	}
	cfg.Filters = fs
	return cfg, nil
}

// unitHook decodes config.Size from "16MiB" and config.Duration from
// "24h".
func unitHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String {
		return data, nil
	}
	switch to {
	case reflect.TypeOf(config.Size(0)):
		return config.ParseSize(data.(string))
	case reflect.TypeOf(config.Duration(0)):
		d, err := time.ParseDuration(data.(string))
		if err != nil {
			return nil, fmt.Errorf("duration %q: want e.g. 90s, 30m or 24h", data)
		}
		return config.Duration(d), nil
	case reflect.TypeOf(config.LowSpeed{}):
		return config.ParseLowSpeed(data.(string))
	case reflect.TypeOf(config.Timetable(nil)):
		return config.ParseTimetable(data.(string))
	}
	return data, nil
}

// filterValue reads the filters setting: a list of groups (lists of
// filters), a list of filters (one group), or a string of filters
// separated by spaces with --or between groups (the environment's form).
func filterValue(raw any) (filter.Set, error) {
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
						return nil, fmt.Errorf("%w: filters: %v is not a string", config.ErrInvalid, f)
					}
					args = append(args, s)
				}
			default:
				return nil, fmt.Errorf("%w: filters: %v is neither a filter nor a list of filters", config.ErrInvalid, g)
			}
		}
		return filter.ParseArgs(args)
	}
	return nil, fmt.Errorf("%w: filters: want a list of filter groups", config.ErrInvalid)
}

// merged returns the defaults section overlaid with a mirror's section.
func (cf *configFile) merged(name string) []map[string]any {
	return []map[string]any{cf.defaults, cf.mirrors[name]}
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// addConfigFlag adds --config to a command over one SOURCE or TARGET
// (what names which).
func addConfigFlag(f *pflag.FlagSet, path *string, what string) {
	f.StringVar(path, "config", "", "YAML config file of named mirrors; then the first argument names the mirror whose settings and "+what+" apply")
}

// locationSettings resolves the settings of a command over one SOURCE or
// TARGET (list, verify, gc, status, doctor) as sync's are resolved: the
// flags that were given over the SSMIRROR_* environment over built-in
// defaults and, with --config FILE, over the sections of the mirror that
// args[0] names, whose location (loc picks its source or target) then
// takes the place of args[0].
func locationSettings(configPath string, flags *pflag.FlagSet, args []string, what string, loc func(config.Sync) string) (config.Sync, []string, error) {
	if configPath == "" {
		cfg, err := resolve(flags)
		return cfg, args, err
	}
	cf, err := readConfigFile(configPath)
	if err != nil {
		return config.Sync{}, nil, err
	}
	name := args[0]
	if _, err := cf.names([]string{name}); err != nil {
		return config.Sync{}, nil, err
	}
	cfg, err := resolve(flags, cf.merged(name)...)
	if err != nil {
		return config.Sync{}, nil, fmt.Errorf("mirror %s: %w", name, err)
	}
	l := loc(cfg)
	if l == "" {
		return config.Sync{}, nil, fmt.Errorf("%w: config %s: mirrors.%s has no %s", config.ErrInvalid, configPath, name, what)
	}
	return cfg, append([]string{l}, args[1:]...), nil
}

func sourceOf(c config.Sync) string { return c.Source }
func targetOf(c config.Sync) string { return c.Target }
