package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Load fills c, which already holds the defaults and whatever flags fs has
// parsed, from the YAML file at path (if not empty) and from the environment
// read through getenv, keeping every flag that was set on the command line.
// It reports every bad value it meets together. An empty variable counts
// as unset.
func Load(c *Config, fs *pflag.FlagSet, path string, getenv func(string) string) error {
	return LoadLookup(c, fs, path, func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	})
}

// LoadLookup is Load reading the environment through lookupEnv
// (os.LookupEnv in production), which tells an empty variable from an
// unset one: an empty variable is still ignored, except for the settings
// where empty is a value (TRADESTREAM_METRICS_ADDR= turns metrics off).
func LoadLookup(c *Config, fs *pflag.FlagSet, path string, lookupEnv func(string) (string, bool)) error {
	set := snapshot(fs)

	var errs []error
	if path != "" {
		if err := loadFile(c, path); err != nil {
			errs = append(errs, err)
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		env := EnvName(f)
		if env == "" {
			return
		}
		v, ok := lookupEnv(env)
		if !ok || v == "" && len(f.Annotations[emptyAnnotation]) == 0 {
			return
		}
		if err := setValue(f.Value, v, strings.Split(v, ",")); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", env, err))
		}
	})
	for name, v := range set {
		f := fs.Lookup(name)
		if err := setValue(f.Value, v.one, v.list); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// flagValue is a flag's value as given on the command line.
type flagValue struct {
	one  string
	list []string
}

// snapshot records the flags set on the command line so they can be put
// back after the file and the environment are applied.
func snapshot(fs *pflag.FlagSet) map[string]flagValue {
	set := map[string]flagValue{}
	fs.Visit(func(f *pflag.Flag) {
		var v flagValue
		switch val := f.Value.(type) {
		case pflag.SliceValue:
			v.list = append([]string(nil), val.GetSlice()...)
		case interface{ raw() string }:
			v.one = val.raw()
		default:
			v.one = val.String()
		}
		set[f.Name] = v
	})
	return set
}

func setValue(val pflag.Value, one string, list []string) error {
	if sv, ok := val.(pflag.SliceValue); ok {
		var clean []string
		for _, s := range list {
			if s = strings.TrimSpace(s); s != "" {
				clean = append(clean, s)
			}
		}
		return sv.Replace(clean)
	}
	return val.Set(one)
}

func loadFile(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}
