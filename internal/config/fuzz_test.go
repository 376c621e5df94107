package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// fuzzFlags binds every section's flags, so the environment can reach all
// of them.
func fuzzFlags(c *Config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("fuzz", pflag.ContinueOnError)
	c.BindGlobal(fs)
	c.Gen.Bind(fs)
	c.Sink.Bind(fs)
	c.Dashboard.Bind(fs)
	return fs
}

// FuzzLoadFile loads arbitrary YAML: never a panic, and a flag given on
// the command line is kept whatever the file says.
func FuzzLoadFile(f *testing.F) {
	for _, name := range []string{"config.yaml", "unknown-key.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "---\n", "kafka: [1, 2]\n", "gen:\n  rate: .nan\n", "kafka:\n  linger: -5h\n",
		"a: &a [*a]\n", "dashboard:\n  token: short\n  addr: \"\\0:99999\"\n", "topics:\n  partitions: 99999999999999999999\n",
		"kafka: {brokers: !!binary AAAA}\n", "sink:\n  batch_size: ~\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, yaml []byte) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, yaml, 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		fs := fuzzFlags(&c)
		if err := fs.Parse([]string{"--kafka-client-id", "from-flag"}); err != nil {
			t.Fatal(err)
		}
		err := Load(&c, fs, path, func(string) string { return "" })
		if err == nil {
			_ = c.Validate()
		}
		if c.Kafka.ClientID != "from-flag" {
			t.Fatalf("client id = %q after the file, want the flag's from-flag", c.Kafka.ClientID)
		}
	})
}

// FuzzLoadEnv sets one TRADESTREAM_ variable to an arbitrary value: never
// a panic, an error names the variable, and a flag given on the command
// line is kept.
func FuzzLoadEnv(f *testing.F) {
	for _, kv := range [][2]string{
		{"GEN_RATE", "75"}, {"GEN_RATE", "NaN"}, {"KAFKA_BROKERS", " , ,a:1,,"}, {"KAFKA_LINGER", "9999999999h"},
		{"TOPIC_PARTITIONS", "-1"}, {"DASHBOARD_TOKEN", "\x00\xff"}, {"METRICS_ADDR", ""}, {"KAFKA_TLS", "maybe"},
		{"DATABASE_URL", "postgres://u:p@h/d?password=x"}, {"KAFKA_CLIENT_ID", "from-env"},
	} {
		f.Add(kv[0], kv[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		env := "TRADESTREAM_" + strings.ToUpper(name)
		c := Default()
		fs := fuzzFlags(&c)
		if err := fs.Parse([]string{"--kafka-client-id", "from-flag"}); err != nil {
			t.Fatal(err)
		}
		err := LoadLookup(&c, fs, "", func(k string) (string, bool) {
			if k == env {
				return value, true
			}
			return "", false
		})
		if err != nil && !strings.Contains(err.Error(), env) {
			t.Fatalf("Load error %q does not name %s", err, env)
		}
		if err == nil {
			_ = c.Validate()
		}
		if c.Kafka.ClientID != "from-flag" {
			t.Fatalf("client id = %q after %s=%q, want the flag's from-flag", c.Kafka.ClientID, env, value)
		}
	})
}
