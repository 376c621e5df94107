package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func newFlags(c *Config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c.BindGlobal(fs)
	c.Gen.Bind(fs)
	return fs
}

func TestLoadPrecedence(t *testing.T) {
	env := map[string]string{
		"TRADESTREAM_KAFKA_CLIENT_ID":    "from-env",
		"TRADESTREAM_TOPIC_PARTITIONS":   "8",
		"TRADESTREAM_KAFKA_BROKERS":      "env-a:1, env-b:2",
		"TRADESTREAM_GEN_RATE":           "75",
		"TRADESTREAM_DATABASE_URL":       "postgres://u:envpass@db:5432/y",
		"TRADESTREAM_KAFKA_LINGER":       "20ms",
		"TRADESTREAM_UNRELATED_VARIABLE": "x",
	}
	c := Default()
	fs := newFlags(&c)
	if err := fs.Parse([]string{"--kafka-client-id", "from-flag", "--kafka-brokers", "flag:9", "--rate", "100"}); err != nil {
		t.Fatal(err)
	}
	if err := Load(&c, fs, "testdata/config.yaml", func(k string) string { return env[k] }); err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"flag beats env and file", c.Kafka.ClientID, "from-flag"},
		{"flag slice beats env", strings.Join(c.Kafka.Brokers, ","), "flag:9"},
		{"subcommand flag", c.Gen.Rate.String(), "100"},
		{"env beats file", c.Topics.Partitions, 8},
		{"env secret", c.Database.URL.Reveal(), "postgres://u:envpass@db:5432/y"},
		{"env duration", c.Kafka.Linger, 20 * time.Millisecond},
		{"file beats default", c.Kafka.Compression, "lz4"},
		{"file prefix", c.Topics.Prefix, "file."},
		{"default kept", c.Topics.ReplicationFactor, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	c := Default()
	fs := newFlags(&c)
	env := map[string]string{"TRADESTREAM_TOPIC_PARTITIONS": "many", "TRADESTREAM_KAFKA_LINGER": "soon"}
	err := Load(&c, fs, "testdata/unknown-key.yaml", func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("got nil error, want one for the unknown key and both bad variables")
	}
	for _, want := range []string{"brokerz", "TRADESTREAM_TOPIC_PARTITIONS", "TRADESTREAM_KAFKA_LINGER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := Default()
	c.Kafka.Compression = "brotli"
	c.Topics.Partitions = -3
	c.Database.URL = "postgres://u:secret@db:notaport/x"
	c.Kafka.SASL.Mechanism = "KERBEROS"
	c.Log.Level = "loud"
	err := c.Validate()
	if err == nil {
		t.Fatal("got nil, want every problem")
	}
	msg := err.Error()
	for _, want := range []string{"compression", "brotli", "partitions", "database url", "sasl mechanism", "log level"} {
		if !strings.Contains(msg, want) {
			t.Errorf("got %q, want it to mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("got %q, which leaks the password", msg)
	}
	if n := strings.Count(msg, "\n") + 1; n < 5 {
		t.Errorf("got %d problems, want at least 5", n)
	}
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	for _, v := range []interface{ Validate() error }{&c.Gen, &c.Sink, &c.Dashboard} {
		if err := v.Validate(); err != nil {
			t.Errorf("default %T: %v", v, err)
		}
	}
}

func TestGenValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Gen)
		want string
	}{
		{"rate and rate bytes", func(g *Gen) {
			_ = g.Rate.Set("100")
			_ = g.RateBytes.Set("5MB")
		}, "not both"},
		{"manifest without inject", func(g *Gen) { g.InjectManifest = "m.json" }, "without --inject"},
		{"zero users", func(g *Gen) { g.Users = 0 }, "users"},
		{"missing symbols file", func(g *Gen) { g.SymbolsFile = "testdata/nope.csv" }, "symbols"},
		{"bad schema", func(g *Gen) { g.TradeSchema = "trade/7" }, "trade schema"},
		{"bad start", func(g *Gen) { g.Start = "yesterday" }, "start"},
		{"negative report interval", func(g *Gen) { g.ReportInterval = -time.Second }, "report interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Default().Gen
			tt.mod(&g)
			err := g.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error about %s", err, tt.want)
			}
		})
	}
}

func TestSecretNeverInHelp(t *testing.T) {
	c := Default()
	c.Kafka.SASL.Password = "hunter2"
	c.Dashboard.Token = "0123456789abcdef-token"
	fs := newFlags(&c)
	c.Dashboard.Bind(fs)
	usage := fs.FlagUsages()
	for _, leak := range []string{"hunter2", "0123456789abcdef-token", "tradestream:tradestream@"} {
		if strings.Contains(usage, leak) {
			t.Errorf("help text contains %q", leak)
		}
	}
}

// TestReportEvery checks the rate report's pace: the command's own
// (gen's, up's) unless one is set.
func TestReportEvery(t *testing.T) {
	g := Default().Gen
	if got := g.ReportEvery(UpReportEvery); got != 30*time.Second {
		t.Errorf("unset: got %v, want up's 30s", got)
	}
	if got := g.ReportEvery(GenReportEvery); got != 5*time.Second {
		t.Errorf("unset: got %v, want gen's 5s", got)
	}
	g.ReportInterval = 2 * time.Second
	if got := g.ReportEvery(UpReportEvery); got != 2*time.Second {
		t.Errorf("set to 2s: got %v", got)
	}
}

func TestGenSpeed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", 1, true}, {"1", 1, true}, {"60", 60, true}, {"2.5x", 2.5, true}, {"max", 0, true}, {"MAX", 0, true},
		{"0", 0, false}, {"-3", 0, false}, {"fast", 0, false}, {"NaN", 0, false}, {"1e9", 0, false},
	} {
		g := Default().Gen
		g.Speed = tc.in
		got, err := g.SpeedFactor()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("speed %q: got %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if verr := g.Validate(); (verr == nil) != tc.ok {
			t.Errorf("speed %q: Validate() = %v, want ok %v", tc.in, verr, tc.ok)
		}
	}
}

func TestGenScenarioOff(t *testing.T) {
	for in, want := range map[string]bool{"": true, "none": true, " None ": true, "flash-crash": false, "x.yaml": false} {
		g := Gen{Scenario: in}
		if got := g.ScenarioOff(); got != want {
			t.Errorf("ScenarioOff(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestReadURL sets the replica's read URL each way and checks where
// Database.Read points, its validation and that its password is never
// shown.
func TestReadURL(t *testing.T) {
	const replica = "postgres://r:replicapass@replica:5433/x"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"flag", []string{"--database-read-url", replica}, nil, "", replica},
		{"env", nil, map[string]string{"TRADESTREAM_DATABASE_READ_URL": replica}, "", replica},
		{"yaml", nil, nil, "database:\n  read_url: " + replica + "\n", replica},
		{"unset reads as the reader", []string{"--database-reader-url", "postgres://reader@db/x"}, nil, "", "postgres://reader@db/x"},
		{"unset, no reader: the owner", nil, nil, "", Default().Database.URL.Reveal()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			fs := newFlags(&c)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			path := ""
			if tt.file != "" {
				path = t.TempDir() + "/c.yaml"
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := Load(&c, fs, path, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := c.Database.Read().URL.Reveal(); got != tt.want {
				t.Errorf("Read().URL: got %q, want %q", got, tt.want)
			}
			if got := c.Database.URL.Reveal(); got == replica {
				t.Errorf("the owner's URL became the read URL %q", got)
			}
			if got := c.Database.As(RoleLoader).URL.Reveal(); got == replica {
				t.Errorf("the loader's URL became the read URL %q", got)
			}
			if s := fmt.Sprint(c.Database.ReadURL) + fs.FlagUsages(); strings.Contains(s, "replicapass") {
				t.Errorf("the read URL's password is shown: %q", s)
			}
		})
	}
	c := Default()
	c.Database.ReadURL = "postgres://r:replicapass@replica:notaport/x"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "database read url") {
		t.Errorf("got %v, want a malformed database read url", err)
	}
	if err != nil && strings.Contains(err.Error(), "replicapass") {
		t.Errorf("got %q, which leaks the password", err)
	}
}
