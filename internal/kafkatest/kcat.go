package kafkatest

import (
	"os"
	"os/exec"
	"testing"
)

// Kcat returns the path of kcat, a Kafka client nobody here wrote, used to
// cross-check what tradestream writes. A missing kcat skips the test, or
// fails it when TRADESTREAM_TEST_REQUIRE_SERVICES=1 (scripts/deps installs
// it for `make test`).
func Kcat(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal("kcat not installed (scripts/deps installs it)")
		}
		t.Skip("kcat not installed")
	}
	return path
}
