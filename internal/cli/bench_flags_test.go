package cli

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tradestream/tradestream/internal/config"
)

var helpFlag = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9-]+)`)

// TestBenchHelpOffersOnlyHonouredFlags runs each bench subcommand's --help
// and checks that it lists exactly the flags the command honours.
func TestBenchHelpOffersOnlyHonouredFlags(t *testing.T) {
	tests := []struct {
		cmd  string
		keep []string
	}{
		{"produce", benchProduceFlags},
		{"sink", benchSinkFlags},
		{"dash", benchDashFlags},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, "bench", tt.cmd, "--help")
			if code != ExitOK {
				t.Fatalf("got exit %d (%s), want 0", code, stderr)
			}
			var shown []string
			for _, line := range strings.Split(stdout, "\n") {
				if m := helpFlag.FindStringSubmatch(line); m != nil {
					shown = append(shown, m[1])
				}
			}
			for _, f := range shown {
				if !slices.Contains(tt.keep, f) {
					t.Errorf("--help offers --%s, which bench %s does not honour", f, tt.cmd)
				}
			}
			for _, f := range tt.keep {
				if !slices.Contains(shown, f) {
					t.Errorf("--help lacks --%s, which bench %s honours (or the list names a flag that does not exist)", f, tt.cmd)
				}
			}
		})
	}
}

// TestBenchDashForwardsFlagsToTheDashboard checks that the global flags
// the dashboard process needs reach it as given.
func TestBenchDashForwardsFlagsToTheDashboard(t *testing.T) {
	r := &root{cfg: config.Default()}
	root := r.command()
	cmd, _, err := root.Find([]string{"bench", "dash"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags([]string{"--clients", "3", "--kafka-brokers", "a:1,b:2", "--database-url", "postgres://u:pw@x/y",
		"--log-level", "debug", "--config", "c.yaml", "--rate", "5"}); err != nil {
		t.Fatal(err)
	}
	got := dashChildEnv(cmd)
	want := []string{"TRADESTREAM_CONFIG=c.yaml", "TRADESTREAM_DATABASE_URL=postgres://u:pw@x/y",
		"TRADESTREAM_KAFKA_BROKERS=a:1,b:2", "TRADESTREAM_LOG_LEVEL=debug"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("got dashboard environment %q, want %q", got, want)
	}
}
