package cli

import (
	"strings"
	"testing"
)

func TestGenBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"negative rate", []string{"gen", "all", "--rate", "-5"}, []string{"rate", "negative"}},
		{"zero users", []string{"gen", "trades", "--users", "0"}, []string{"users"}},
		{"unknown symbols file", []string{"gen", "prices", "--symbols", "/no/such/symbols.csv"}, []string{"symbols", "no such file"}},
		{"all at once", []string{"gen", "all", "--rate", "-1", "--users", "0", "--trade-schema", "trade/9"},
			[]string{"rate", "users", "trade schema"}},
		{"not a number", []string{"gen", "all", "--rate", "fast"}, []string{"rate"}},
		{"unknown target", []string{"gen", "orders"}, []string{"orders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Brokers that do not exist: a bad flag must fail before any
			// connection is tried.
			env := map[string]string{"TRADESTREAM_KAFKA_BROKERS": "127.0.0.1:1"}
			code, out, stderr := run(t, env, tt.args...)
			if code == 0 {
				t.Fatalf("got exit 0, want an error; stdout %q", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
			if out != "" {
				t.Errorf("wrote %q to stdout, want nothing sent", out)
			}
		})
	}
}

func TestGenDryRunSeeded(t *testing.T) {
	args := []string{"gen", "all", "--seed", "42", "--count", "2000", "--rate", "0", "--dry-run"}
	code1, a, _ := run(t, nil, args...)
	code2, b, _ := run(t, nil, args...)
	args[3] = "43"
	code3, c, _ := run(t, nil, args...)
	if code1 != 0 || code2 != 0 || code3 != 0 {
		t.Fatalf("exit codes %d %d %d, want 0", code1, code2, code3)
	}
	if a != b {
		t.Error("same seed: dry-run outputs differ")
	}
	if a == c {
		t.Error("different seeds: dry-run outputs identical")
	}
	if n := strings.Count(a, "\n"); n != 2000 {
		t.Errorf("got %d lines, want 2000", n)
	}
}
