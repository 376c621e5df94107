package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
)

// The pieces of a PostgreSQL failover drill on the local stack (scripts/stack
// up --pg-replica): a URL naming both servers, the primary's WAL sender
// stalled so that the primary has commits its replica never gets, the
// crash, and the stack put back as it was for the tests after.

// Stack runs scripts/stack with args (from a package directory of the
// repository, as go test runs).
func Stack(t testing.TB, args ...string) {
	t.Helper()
	script, err := filepath.Abs("../../scripts/stack")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/stack %v: %v\n%s", args, err, out)
	}
}

// FailoverURL is primary's database settings with a URL naming the
// primary's host and then the replica's, target_session_attrs=read-write:
// a connection goes to the first of them that accepts writes.
func FailoverURL(t testing.TB, primary, replica config.Database) config.Database {
	t.Helper()
	pu, err := url.Parse(primary.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	ru, err := url.Parse(replica.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	pu.Host += "," + ru.Host
	q := pu.Query()
	q.Set("target_session_attrs", "read-write")
	pu.RawQuery = q.Encode()
	primary.URL = config.ConnString(pu.String())
	return primary
}

// RestoreStack puts the stack back after a failover: the promoted server
// and its data go, the old primary starts again on 5432 and a new
// standby of it is made. It runs once, however often it is called.
func RestoreStack(t testing.TB) func() {
	restored := false
	return func() {
		if restored {
			return
		}
		restored = true
		Stack(t, "down", "--pg-replica")
		Stack(t, "pg-start")
		Stack(t, "pg-replica")
	}
}

// WaitPing waits until pool answers (the old primary's crash recovery).
func WaitPing(ctx context.Context, pool interface{ Ping(context.Context) error }) error {
	for {
		err := pool.Ping(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StallWALSender stops the primary's WAL sender of the stack's replica
// with SIGSTOP (primary is a pool on the primary) and waits until
// progress, a count the service under test raises as it commits on the
// primary, has grown by ahead: whatever it committed meanwhile is in the
// primary's WAL and on its disk, not on the replica (WAL the sender wrote
// to its socket before the stop may still arrive). A nil progress does
// not wait. It reports whether it stalled the sender, and returns the
// crash: scripts/stack pg-stop --immediate, whose SIGQUIT the stopped
// sender cannot act on, so the sender is SIGKILLed once that signal is
// pending (it sends nothing after its stop). Without the right to signal
// the server's processes (not root, not postgres) nothing is stalled, and
// the crash is a plain immediate stop.
func StallWALSender(ctx context.Context, t testing.TB, primary *pgxpool.Pool, progress func() int64, ahead int64) (bool, func()) {
	t.Helper()
	var pid int
	if err := primary.QueryRow(ctx, `SELECT pid FROM pg_stat_replication WHERE application_name = 'tradestream_replica'`).Scan(&pid); err != nil {
		t.Fatalf("the primary's WAL sender: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Logf("cannot stall the WAL sender (pid %d): %v; the replica streams on", pid, err)
			return false, func() { Stack(t, "pg-stop", "--immediate") }
		}
		t.Fatalf("SIGSTOP the WAL sender: %v", err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	t.Cleanup(kill) // a sender left stopped would hold the primary's shutdown
	if progress != nil {
		at := progress()
		for progress() < at+ahead {
			if ctx.Err() != nil {
				kill()
				t.Fatalf("nothing more committed on the primary after %d", at)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return true, func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			Stack(t, "pg-stop", "--immediate")
		}()
		deadline := time.Now().Add(10 * time.Second)
		for !sigquitPending(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		kill()
		<-done
	}
}

// sigquitPending reports whether process pid has SIGQUIT pending (the
// postmaster's immediate-shutdown signal), from /proc/PID/status.
func sigquitPending(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true // gone: nothing to wait for
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, field := range []string{"SigPnd:", "ShdPnd:"} {
			if v, ok := strings.CutPrefix(line, field); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err == nil && mask&(1<<(uint(syscall.SIGQUIT)-1)) != 0 {
					return true
				}
			}
		}
	}
	return false
}
