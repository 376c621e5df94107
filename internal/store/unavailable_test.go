package store_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tradestream/tradestream/internal/store"
)

// TestUnavailable tells a database that is not there (or not yet
// writable) from one that refuses the request.
func TestUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, refused := pgconn.Connect(ctx, "postgres://u@"+closed+"/db?connect_timeout=5")
	if refused == nil {
		t.Fatal("connected to a closed port")
	}
	pg := func(code string) error { return fmt.Errorf("load: %w", &pgconn.PgError{Code: code}) }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"broken connection", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), true},
		{"admin shutdown", pg("57P01"), true},
		{"starting up", pg("57P03"), true},
		{"connection failure", pg("08006"), true},
		{"read-only transaction (a standby)", pg("25006"), true},
		{"statement cancelled", pg("57014"), false},
		{"unique violation", pg("23505"), false},
		{"no privilege", pg("42501"), false},
		{"undefined table", pg("42P01"), false},
		{"the request's context cancelled", fmt.Errorf("query: %w", context.Canceled), false},
		{"nil", nil, false},
	} {
		if got := store.Unavailable(c.err); got != c.want {
			t.Errorf("%s (%v): Unavailable %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
