package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestTablesMatchTheMigratedSchema holds the Go column lists to the
// migrated schema: a migration that adds, drops, reorders or retypes a
// column of a loaded table fails here until store's list follows it.
func TestTablesMatchTheMigratedSchema(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	for _, table := range store.LoadedTables {
		t.Run(table.Name, func(t *testing.T) {
			rows, err := pool.Query(ctx, `
				SELECT c.column_name, format_type(a.atttypid, a.atttypmod)
				FROM information_schema.columns c
				JOIN pg_attribute a ON a.attrelid = to_regclass(quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))
				                   AND a.attname = c.column_name
				WHERE c.table_schema = current_schema() AND c.table_name = $1
				ORDER BY c.ordinal_position`, table.Name)
			if err != nil {
				t.Fatal(err)
			}
			var got []store.Column
			for rows.Next() {
				var c store.Column
				if err := rows.Scan(&c.Name, &c.Type); err != nil {
					t.Fatal(err)
				}
				got = append(got, c)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, table.Columns) {
				t.Errorf("got migrated columns\n  %v\nwant store.%s's\n  %v", got, table.Name, table.Columns)
			}
		})
	}
}

func TestTableStatements(t *testing.T) {
	tb := store.Table{Name: "t", Columns: []store.Column{{Name: "a", Type: "bigint"}, {Name: "b", Type: "text[]"}, {Name: "c", Type: "numeric(20,4)"}}}
	tests := []struct{ name, got, want string }{
		{"copy", tb.CopySQL(), `COPY "t" (a, b, c) FROM STDIN (FORMAT binary)`},
		{"temp", tb.Renamed("s").CreateTempSQL(), `CREATE TEMP TABLE IF NOT EXISTS "s" (a bigint, b text[], c numeric(20,4)) ON COMMIT DELETE ROWS`},
		{"insert", tb.InsertSQL(), `INSERT INTO "t" (a, b, c) VALUES ($1, $2, $3)`},
		{"only", tb.Only("c", "a").ColumnList(), "c, a"},
		{"without", tb.Without("b").ColumnList(), "a, c"},
		{"plus", tb.Plus(store.Column{Name: "d", Type: "int"}).ColumnList(), "a, b, c, d"},
		{"set", store.ExcludedSet("a", "b"), "a = excluded.a, b = excluded.b"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if got := tb.Plus(store.Column{Name: "d", Type: "int"}); len(tb.Columns) != 3 || got.Width() != 4 {
		t.Errorf("plus: got widths %d and %d, want 3 (unchanged) and 4", len(tb.Columns), got.Width())
	}
	defer func() {
		if recover() == nil {
			t.Error("Only of a missing column did not panic")
		}
	}()
	tb.Only("z")
}
