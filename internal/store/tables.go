package store

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Column is one column of a table: its name and its type as PostgreSQL's
// format_type spells it ("bigint", "numeric(20,4)", "text[]", ...).
type Column struct {
	Name, Type string
}

// Table is a table's name and columns, in the order the migrations create
// them. The tables the services load are declared here once
// (TestTablesMatchTheMigratedSchema holds them to the migrated schema);
// COPY column lists, staging tables, upserts and the COPY row width are
// derived from them.
type Table struct {
	Name    string
	Columns []Column
}

// The loaded tables, as the migrations create them.
var (
	// PriceTicks holds the price ticks, partitioned by day on ts.
	PriceTicks = Table{Name: "price_ticks", Columns: []Column{
		{"symbol", "text"}, {"sector", "text"}, {"seq", "bigint"}, {"ts", "timestamp with time zone"},
		{"bid", "numeric(20,4)"}, {"ask", "numeric(20,4)"}, {"last", "numeric(20,4)"}, {"volume", "bigint"},
		{"run_id", "text"}, {"kafka_partition", "integer"}, {"kafka_offset", "bigint"},
	}}
	// Trades holds the trades, partitioned by day on ts.
	Trades = Table{Name: "trades", Columns: []Column{
		{"trade_id", "bigint"}, {"user_id", "bigint"}, {"account_id", "bigint"}, {"symbol", "text"},
		{"side", "text"}, {"quantity", "bigint"}, {"price", "numeric(20,4)"}, {"fee", "numeric(20,4)"},
		{"ts", "timestamp with time zone"}, {"balance_after", "numeric(20,4)"}, {"order_type", "text"},
		{"limit_price", "numeric(20,4)"}, {"schema_version", "smallint"}, {"run_id", "text"},
		{"kafka_partition", "integer"}, {"kafka_offset", "bigint"},
	}}
	// Users holds the latest profile of each user.
	Users = Table{Name: "users", Columns: []Column{
		{"user_id", "bigint"}, {"name", "text"}, {"email", "text"}, {"country", "text"},
		{"signup_at", "timestamp with time zone"}, {"experience", "text"}, {"risk_tolerance", "text"},
		{"sectors", "text[]"}, {"updated_at", "timestamp with time zone"},
		{"kafka_partition", "integer"}, {"kafka_offset", "bigint"},
	}}
	// Accounts holds each account and its newest balance.
	Accounts = Table{Name: "accounts", Columns: []Column{
		{"account_id", "bigint"}, {"user_id", "bigint"}, {"type", "text"}, {"currency", "text"},
		{"balance", "numeric(20,4)"}, {"balance_at", "timestamp with time zone"}, {"last_trade_id", "bigint"},
		{"updated_at", "timestamp with time zone"},
	}}
	// Alerts holds the fired alerts; received_at defaults to the load time.
	Alerts = Table{Name: "alerts", Columns: []Column{
		{"alert_id", "text"}, {"rule_id", "bigint"}, {"kind", "text"}, {"symbol", "text"},
		{"message", "text"}, {"value", "numeric(20,4)"}, {"ts", "timestamp with time zone"},
		{"kafka_partition", "integer"}, {"kafka_offset", "bigint"},
		{"received_at", "timestamp with time zone"},
	}}
)

// LoadedTables lists the tables above.
var LoadedTables = []Table{PriceTicks, Trades, Users, Accounts, Alerts}

// Width returns the number of columns: the field count of one COPY row.
func (t Table) Width() int { return len(t.Columns) }

// Names returns the column names in order.
func (t Table) Names() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// ColumnList returns the column names joined by ", ", for INSERT, SELECT
// and COPY statements.
func (t Table) ColumnList() string { return strings.Join(t.Names(), ", ") }

// Only returns t restricted to the named columns, in the order named. It
// panics on a name t does not have: the lists are fixed in the code.
func (t Table) Only(names ...string) Table {
	out := Table{Name: t.Name, Columns: make([]Column, 0, len(names))}
	for _, n := range names {
		out.Columns = append(out.Columns, t.Column(n))
	}
	return out
}

// Without returns t without the named columns (those left to their
// defaults, say). It panics on a name t does not have.
func (t Table) Without(names ...string) Table {
	drop := make(map[string]bool, len(names))
	for _, n := range names {
		t.Column(n) // panics when absent
		drop[n] = true
	}
	out := Table{Name: t.Name}
	for _, c := range t.Columns {
		if !drop[c.Name] {
			out.Columns = append(out.Columns, c)
		}
	}
	return out
}

// Column returns the named column. It panics when t has none of that name.
func (t Table) Column(name string) Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	panic(fmt.Sprintf("store: table %s has no column %q", t.Name, name))
}

// Renamed returns t's columns under another table name (a staging table
// shaped like t, for instance).
func (t Table) Renamed(name string) Table { return Table{Name: name, Columns: t.Columns} }

// Plus returns t with cols appended.
func (t Table) Plus(cols ...Column) Table {
	return Table{Name: t.Name, Columns: append(t.Columns[:len(t.Columns):len(t.Columns)], cols...)}
}

// CopySQL returns the statement that loads t's columns, in order, from a
// binary COPY stream.
func (t Table) CopySQL() string {
	return fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", pgx.Identifier{t.Name}.Sanitize(), t.ColumnList())
}

// CreateTempSQL returns the statement that creates t, if the session has
// not got it yet, as a temporary table emptied at every commit: a staging
// table.
func (t Table) CreateTempSQL() string {
	defs := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		defs[i] = c.Name + " " + c.Type
	}
	return fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (%s) ON COMMIT DELETE ROWS",
		pgx.Identifier{t.Name}.Sanitize(), strings.Join(defs, ", "))
}

// InsertSQL returns an INSERT of one row of t's columns from the
// parameters $1, $2, ... in order.
func (t Table) InsertSQL() string {
	params := make([]string, len(t.Columns))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", pgx.Identifier{t.Name}.Sanitize(), t.ColumnList(), strings.Join(params, ", "))
}

// ExcludedSet returns "c = excluded.c, ..." for the named columns: the SET
// list of an upsert whose new row wins.
func ExcludedSet(names ...string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " = excluded." + n
	}
	return strings.Join(parts, ", ")
}
