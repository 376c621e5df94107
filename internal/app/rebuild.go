package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/store"
	"github.com/tradestream/tradestream/internal/verify"
)

// loadedTables are the tables the sink fills from the topics, which a
// rebuild starts without and --force empties; sink_offsets besides.
var loadedTables = []string{
	store.Users.Name, store.Accounts.Name, store.PriceTicks.Name, store.Trades.Name, store.Alerts.Name, "dead_letters",
	"rollup_prices_1m", "rollup_trades_1m", "rollup_positions", "rollup_prices_1h", "rollup_trades_1h", "rollup_symbols",
}

// RebuildOptions say how `db rebuild` runs.
type RebuildOptions struct {
	// Force empties the loaded tables and every group's stored offsets
	// first, instead of refusing a database that holds rows.
	Force bool
}

// RebuildReport is what a rebuild loaded and what verify found.
type RebuildReport struct {
	Records     int64
	Rows        map[string]int64
	DeadLetters map[string]int64
	Elapsed     time.Duration
	Verify      *verify.Report
}

// Rebuild runs `db rebuild`: into an empty, migrated database it loads
// every retained record of the topics with the sink (its code, its
// configuration, the group of --group, which has no stored offsets in an
// empty database and so starts at the earliest offsets) until it has
// caught up with the end offsets seen at start, then prints the rows per
// table, the dead letters and the time taken, and runs verify. It fails
// when verify finds a problem.
func (e *Env) Rebuild(ctx context.Context, o RebuildOptions) (*RebuildReport, error) {
	if err := e.Validate(&e.Config.Sink); err != nil {
		return nil, err
	}
	ps := e.pools()
	defer ps.close()
	owner, err := ps.get(ctx, config.RoleOwner)
	if err != nil {
		return nil, err
	}
	if err := e.Migrate(ctx, owner); err != nil {
		return nil, err
	}
	group := e.Config.Sink.Group
	topics := kafka.TopicNames(e.Config.Topics.Prefix)
	data := []string{topics.Users, topics.Prices, topics.Trades, topics.Alerts}
	cl, err := kafka.NewClient(ctx, e.Config.Kafka, e.Log)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := groupIdle(ctx, adm, group); err != nil {
		return nil, err
	}
	if err := e.emptyDatabase(ctx, owner, o.Force); err != nil {
		return nil, err
	}
	spans, err := kafka.Spans(ctx, adm, time.Time{}, data...)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, ss := range spans {
		for _, s := range ss {
			total += s.Len()
		}
	}
	fmt.Fprintf(e.Stdout, "rebuild: loading %d retained records of %s into the empty database (group %s)\n",
		total, strings.Join(data, ", "), group)

	loader, err := ps.get(ctx, config.RoleLoader)
	if err != nil {
		return nil, err
	}
	prog := e.progress(e.Stdout, "rebuild", "records", total)
	var loaded int64
	svc, _, err := e.sinkService(loader, metrics.NewRegistry(), func(so *sink.Options) {
		so.UntilCaughtUp = true
		so.OnCommit = func(c sink.Committed) { loaded += int64(c.Records); prog.add(int64(c.Records), "") }
	})
	if err != nil {
		return nil, err
	}
	if err := svc.Run(ctx); err != nil {
		prog.finish()
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	if err := ctx.Err(); err != nil {
		prog.finish()
		return nil, fmt.Errorf("rebuild: interrupted: %w", err)
	}
	rep := &RebuildReport{Records: loaded, Elapsed: prog.finish()}
	if err := e.rebuildReport(ctx, owner, rep); err != nil {
		return nil, err
	}
	reader, err := ps.reader(ctx, owner)
	if err != nil {
		return nil, err
	}
	dec, err := e.Decoder()
	if err != nil {
		return rep, err
	}
	rep.Verify, err = verify.Run(ctx, e.Config.Kafka, e.Log, reader, verify.Options{
		Group: group, Topics: topics, RetentionDays: e.Config.Database.RetentionDays, RequireCaughtUp: true, Now: e.Now,
		Decoder: dec,
	})
	if err != nil {
		return rep, fmt.Errorf("rebuild: verify: %w", err)
	}
	rep.Verify.Print(e.Stdout)
	if !rep.Verify.OK() {
		return rep, fmt.Errorf("rebuild: verify found %d problems", len(rep.Verify.Problems))
	}
	return rep, nil
}

// groupIdle refuses a group that has members: sinks loading while the
// database is rebuilt would share the partitions with the rebuild.
func groupIdle(ctx context.Context, adm *kadm.Client, group string) error {
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("rebuild: describe group %s: %w", group, err)
	}
	g, ok := groups[group]
	if ok && g.Err == nil && len(g.Members) > 0 {
		return fmt.Errorf("rebuild: consumer group %s has %d members (sinks running): stop them first", group, len(g.Members))
	}
	return nil
}

// emptyDatabase refuses a database whose loaded tables hold rows, or with
// force empties them and the stored offsets.
func (e *Env) emptyDatabase(ctx context.Context, pool *pgxpool.Pool, force bool) error {
	var held []string
	for _, t := range append(loadedTables, "sink_offsets") {
		var any bool
		if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{t}.Sanitize()+")").Scan(&any); err != nil {
			return fmt.Errorf("rebuild: read %s: %w", t, err)
		}
		if any {
			held = append(held, t)
		}
	}
	if len(held) == 0 {
		return nil
	}
	if !force {
		return Invalid(fmt.Errorf("db rebuild loads into an empty database, and %s hold rows: migrate a new database "+
			"(or schema) and point --database-url at it, or give --force to delete every row of %s and the stored offsets first",
			strings.Join(held, ", "), strings.Join(loadedTables, ", ")))
	}
	ids := make([]string, 0, len(loadedTables)+1)
	for _, t := range append(loadedTables, "sink_offsets") {
		ids = append(ids, pgx.Identifier{t}.Sanitize())
	}
	if _, err := pool.Exec(ctx, "TRUNCATE "+strings.Join(ids, ", ")); err != nil {
		return fmt.Errorf("rebuild: empty the tables: %w", err)
	}
	fmt.Fprintf(e.Stdout, "rebuild: --force: deleted every row of %s and the stored offsets\n", strings.Join(loadedTables, ", "))
	return nil
}

// rebuildReport counts the rows loaded and the dead letters, and prints them.
func (e *Env) rebuildReport(ctx context.Context, pool *pgxpool.Pool, rep *RebuildReport) error {
	rep.Rows, rep.DeadLetters = map[string]int64{}, map[string]int64{}
	for _, t := range loadedTables {
		var n int64
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t}.Sanitize()).Scan(&n); err != nil {
			return fmt.Errorf("rebuild: count %s: %w", t, err)
		}
		rep.Rows[t] = n
	}
	rows, err := pool.Query(ctx, `SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY reason`)
	if err != nil {
		return fmt.Errorf("rebuild: count dead letters: %w", err)
	}
	var reasons []string
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			rows.Close()
			return fmt.Errorf("rebuild: count dead letters: %w", err)
		}
		rep.DeadLetters[reason] = n
		reasons = append(reasons, fmt.Sprintf("%s %d", reason, n))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rebuild: count dead letters: %w", err)
	}
	fmt.Fprintf(e.Stdout, "rebuild: loaded %d records in %s\n", rep.Records, rep.Elapsed.Round(time.Millisecond))
	for _, t := range loadedTables {
		fmt.Fprintf(e.Stdout, "  %-12s %d rows\n", t, rep.Rows[t])
	}
	if len(reasons) > 0 {
		fmt.Fprintf(e.Stdout, "  dead letters by reason: %s\n", strings.Join(reasons, ", "))
	}
	return nil
}
