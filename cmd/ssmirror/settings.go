package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/ssmirror/ssmirror/config"
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

// readConfigFile reads a YAML (or JSON, TOML) config file and rejects
// unknown keys, naming them.
func readConfigFile(path string) (*config.File, error) {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", errUsage, path, err)
	}
	return config.NewFile(path, v.AllSettings())
}

// mirrorNames returns the mirrors of cf to run: those asked for, or all.
func mirrorNames(cf *config.File, asked []string) ([]string, error) {
	names, err := cf.Names(asked)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return names, nil
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
			// Viper merges into the maps it is given (File.Sections copies).
			if err := v.MergeConfigMap(sec); err != nil {
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
		config.DecodeText,
	))
	if err := v.Unmarshal(&cfg, hook, func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = false }); err != nil {
		// mapstructure lists its errors on several lines; keep one.
		msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "decoding failed due to the following error(s):", "")), " ")
		return config.Sync{}, fmt.Errorf("%w: %s", config.ErrInvalid, msg)
	}
	fs, err := config.ParseFilters(v.Get("filters"))
	if err != nil {
		return config.Sync{}, err
	}
	cfg.Filters = fs
	return cfg, nil
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
	if _, err := mirrorNames(cf, []string{name}); err != nil {
		return config.Sync{}, nil, err
	}
	cfg, err := resolve(flags, cf.Sections(name)...)
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
