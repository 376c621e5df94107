package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestDbRollupsRebuildAndVerify: rows stored without the sink (a restore)
// have no rollups, which verify reports; rebuild recomputes them with its
// progress, after which verify agrees, and a changed rollup is reported.
func TestDbRollupsRebuildAndVerify(t *testing.T) {
	pool, db := pgtest.Migrated(t)
	ctx := context.Background()
	day := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	if _, err := store.EnsurePartitions(ctx, pool, day, day); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, kafka_partition, kafka_offset) VALUES
		  ('AAPL', 'Technology', 1, '2025-06-02 10:00:01Z', 99, 101, 100, 10, 0, 0),
		  ('AAPL', 'Technology', 2, '2025-06-02 10:03:30Z', 104, 106, 105, 5, 0, 1);
		INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, kafka_partition, kafka_offset) VALUES
		  (1, 1, 1, 'AAPL', 'buy', 10, 100, 1, '2025-06-02 10:00:10Z', 8999, 1, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TRADESTREAM_DATABASE_URL": db.URL.Reveal(), "TRADESTREAM_LOG_LEVEL": "warn"}

	code, out, _ := run(t, env, "db", "rollups", "verify", "--samples", "0")
	if code != ExitFailure || !strings.Contains(out, "rollup_prices_1m AAPL 2025-06-02T10:00Z") || !strings.Contains(out, "rollup_positions 1 AAPL") {
		t.Errorf("verify before rebuild: got exit %d\n%s\nwant 1 and the missing rollups", code, out)
	}
	code, out, errOut := run(t, env, "db", "rollups", "rebuild")
	if code != ExitOK || !strings.Contains(out, "rollups rebuild: 2025-06-02: 5 rows (1/1,") ||
		!strings.Contains(out, "symbols: 1 rows") || !strings.Contains(out, "positions: 1 rows") {
		t.Fatalf("rebuild: got exit %d\n%s%s\nwant 0 and its progress", code, out, errOut)
	}
	code, out, _ = run(t, env, "db", "rollups", "verify", "--samples", "0")
	if code != ExitOK || !strings.Contains(out, "the rollups equal") {
		t.Errorf("verify after rebuild: got exit %d\n%s", code, out)
	}
	if _, err := pool.Exec(ctx, `UPDATE rollup_prices_1m SET high = 101 WHERE minute = '2025-06-02 10:00Z'`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, env, "db", "rollups", "verify", "--samples", "0")
	if code != ExitFailure || !strings.Contains(out, "AAPL 2025-06-02T10:00Z") {
		t.Errorf("verify of a changed rollup: got exit %d\n%s", code, out)
	}
	// The hours and the symbols' latest close are compared too.
	if _, err := pool.Exec(ctx, `UPDATE rollup_prices_1m SET high = 100 WHERE minute = '2025-06-02 10:00Z';
		UPDATE rollup_prices_1h SET low = 99; UPDATE rollup_symbols SET close = 104`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, env, "db", "rollups", "verify", "--samples", "0")
	if code != ExitFailure || !strings.Contains(out, "rollup_prices_1h AAPL 2025-06-02T10:00Z") || !strings.Contains(out, "rollup_symbols AAPL") ||
		strings.Contains(out, "rollup_prices_1m") {
		t.Errorf("verify of a changed hour and symbol: got exit %d\n%s", code, out)
	}
	if code, _, errOut := run(t, env, "db", "rollups", "rebuild", "--from", "2025-06-03", "--to", "2025-06-01"); code != ExitUsage {
		t.Errorf("rebuild --to before --from: got exit %d (%s), want %d", code, errOut, ExitUsage)
	}
}
