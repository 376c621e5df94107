package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
)

// loaded parses args as the command line would and loads the
// configuration over it, with env as the whole environment (an entry with
// an empty value is a variable set to the empty string), without running
// the command.
func loaded(t *testing.T, env map[string]string, args ...string) config.Config {
	t.Helper()
	r := &root{io: IO{
		Getenv:    func(k string) string { return env[k] },
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:       time.Now,
	}, cfg: config.Default()}
	cmd, rest, err := r.command().Find(args)
	if err != nil {
		t.Fatalf("find %v: %v", args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	if err := r.load(cmd); err != nil {
		t.Fatalf("load %v: %v", args, err)
	}
	return r.cfg
}

func TestUpTakesTheAlertsEngineSettings(t *testing.T) {
	env := map[string]string{"TRADESTREAM_ALERTS_BATCH_SIZE": "123", "TRADESTREAM_ALERTS_GROUP": "eng", "TRADESTREAM_ALERTS_FORMAT": "protobuf"}
	c := loaded(t, env, "up")
	if c.Alerts.BatchSize != 123 || c.Alerts.Group != "eng" || c.Alerts.Format != "protobuf" {
		t.Errorf("from the environment: got batch size %d, group %q, format %q; want 123, eng, protobuf", c.Alerts.BatchSize, c.Alerts.Group, c.Alerts.Format)
	}
	if c := loaded(t, nil, "alerts", "run", "--format", "avro"); c.Alerts.Format != "avro" {
		t.Errorf("alerts run --format avro: got format %q", c.Alerts.Format)
	}
	c = loaded(t, env, "up", "--alerts-batch-size", "456", "--alerts-from-start", "--batch-size", "77")
	if c.Alerts.BatchSize != 456 || !c.Alerts.FromStart || c.Sink.BatchSize != 77 {
		t.Errorf("from flags: got alerts batch size %d, from start %v, sink batch size %d; want 456, true, 77",
			c.Alerts.BatchSize, c.Alerts.FromStart, c.Sink.BatchSize)
	}
}

func TestUpRejectsBadAlertsSettingsBeforeStarting(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"variable", map[string]string{"TRADESTREAM_ALERTS_BATCH_SIZE": "-5"}, nil, "alerts batch size: -5"},
		{"flag", nil, []string{"--alerts-session-timeout", "1ms"}, "alerts session timeout: 1ms"},
		{"format", nil, []string{"--alerts-format", "xml"}, `alerts format: "xml"; want json, avro, protobuf or jsonschema`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"TRADESTREAM_KAFKA_BROKERS": "127.0.0.1:1", "TRADESTREAM_METRICS_ADDR": "127.0.0.1:0"}
			for k, v := range tt.env {
				env[k] = v
			}
			start := time.Now()
			code, out, stderr := run(t, env, append([]string{"up"}, tt.args...)...)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("got exit %d, stderr %q; want %d naming %q", code, stderr, ExitUsage, tt.want)
			}
			if out != "" {
				t.Errorf("got stdout %q, want nothing started", out)
			}
			// 127.0.0.1:1 would be dialled for the connect timeout.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: validation must come before any connection", d)
			}
		})
	}
}

func TestMetricsAddrIsUsedAsGiven(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("metrics:\n  addr: 127.0.0.1:9464\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"sink default", nil, []string{"sink"}, "127.0.0.1:9466"},
		{"gen default", nil, []string{"gen", "all"}, "127.0.0.1:9465"},
		{"alerts run default", nil, []string{"alerts", "run"}, "127.0.0.1:9467"},
		{"dash default", nil, []string{"dash"}, "127.0.0.1:9468"},
		{"up default", nil, []string{"up"}, "127.0.0.1:9464"},
		{"sink flag equal to the default", nil, []string{"sink", "--metrics-addr", "127.0.0.1:9464"}, "127.0.0.1:9464"},
		{"sink variable equal to the default", map[string]string{"TRADESTREAM_METRICS_ADDR": "127.0.0.1:9464"}, []string{"sink"}, "127.0.0.1:9464"},
		{"sink file equal to the default", nil, []string{"sink", "--config", file}, "127.0.0.1:9464"},
		{"gen flag", nil, []string{"gen", "all", "--metrics-addr", "0.0.0.0:7000"}, "0.0.0.0:7000"},
		{"empty flag", nil, []string{"dash", "--metrics-addr="}, ""},
		{"empty variable", map[string]string{"TRADESTREAM_METRICS_ADDR": ""}, []string{"alerts", "run"}, ""},
		{"empty variable under a flag", map[string]string{"TRADESTREAM_METRICS_ADDR": ""}, []string{"sink", "--metrics-addr", "127.0.0.1:7001"}, "127.0.0.1:7001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loaded(t, tt.env, tt.args...).Metrics.Addr; got != tt.want {
				t.Errorf("got metrics address %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEmptyVariableIsUnsetElsewhere(t *testing.T) {
	c := loaded(t, map[string]string{"TRADESTREAM_SINK_GROUP": "", "TRADESTREAM_SINK_BATCH_SIZE": ""}, "sink")
	if c.Sink.Group != config.Default().Sink.Group || c.Sink.BatchSize != config.Default().Sink.BatchSize {
		t.Errorf("got group %q, batch size %d; want the defaults", c.Sink.Group, c.Sink.BatchSize)
	}
}

func TestDashFollowsTheSinkGroup(t *testing.T) {
	if got := loaded(t, map[string]string{"TRADESTREAM_SINK_GROUP": "env-group"}, "dash").Sink.Group; got != "env-group" {
		t.Errorf("from TRADESTREAM_SINK_GROUP: got %q, want env-group", got)
	}
	if got := loaded(t, map[string]string{"TRADESTREAM_SINK_GROUP": "env-group"}, "dash", "--group", "flag-group").Sink.Group; got != "flag-group" {
		t.Errorf("from --group: got %q, want flag-group", got)
	}
}
