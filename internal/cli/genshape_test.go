package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGenDryRunUnpacedByDefault: a dry run without --rate writes as fast
// as it can (it used to be paced at the default 200 events/s, 25 minutes
// for 300,000 prices); an explicit --rate is honoured.
func TestGenDryRunUnpacedByDefault(t *testing.T) {
	code, out, stderr := run(t, nil, "gen", "prices", "--dry-run", "--seed", "3", "--count", "30000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(out, "\n"); n != 30000 {
		t.Errorf("got %d lines, want 30000", n)
	}
	if strings.Contains(stderr, "target") {
		t.Errorf("stderr %q reports a target rate, want an unpaced run", stderr)
	}
	code, _, stderr = run(t, nil, "gen", "prices", "--dry-run", "--seed", "3", "--count", "20", "--rate", "100")
	if code != 0 || !strings.Contains(stderr, "target 100/s") {
		t.Errorf("explicit --rate 100: exit %d, stderr %q; want a run paced at 100/s", code, stderr)
	}
}

// TestGenUsersCountGrowsPopulation: `gen users --count N` above --users
// writes N users and says why, instead of stopping at --users.
func TestGenUsersCountGrowsPopulation(t *testing.T) {
	code, out, stderr := run(t, nil, "gen", "users", "--dry-run", "--seed", "4", "--users", "100", "--count", "2500")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2500 {
		t.Errorf("got %d users, want 2500", len(lines))
	}
	ids := map[int64]bool{}
	for _, l := range lines {
		var u struct {
			ID int64 `json:"user_id"`
		}
		if err := json.Unmarshal([]byte(l), &u); err != nil {
			t.Fatal(err)
		}
		ids[u.ID] = true
	}
	if len(ids) != 2500 {
		t.Errorf("got %d distinct users, want 2500", len(ids))
	}
	if !strings.Contains(stderr, "--count 2500 is more than --users 100; generating 2500 users") {
		t.Errorf("stderr %q does not say the population grew", stderr)
	}
}
