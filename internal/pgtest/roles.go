package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/store"
)

// EnvDatabaseCA names the variable holding the PEM file of the CA that
// signed the test database's server certificate (scripts/stack writes
// .stack/pg-tls/ca.pem there).
const EnvDatabaseCA = "TRADESTREAM_TEST_DATABASE_CA"

// CA returns the test database's CA file.
func CA(t testing.TB) string {
	t.Helper()
	v := os.Getenv(EnvDatabaseCA)
	if v == "" {
		kafkatest.Missing(t, EnvDatabaseCA, "the CA of PostgreSQL's server certificate")
	}
	return v
}

// Logins are a test's own loader and reader: unique role names and random
// passwords. The roles themselves are made by store.EnsureRoles (`db
// roles`); they are dropped when the test ends.
type Logins struct{ Loader, Reader store.Login }

// NewLogins returns fresh logins for the test.
func NewLogins(t testing.TB) Logins {
	t.Helper()
	tag := randomHex(4)
	l := Logins{
		Loader: store.Login{Name: "t_" + tag + "_loader", Password: config.Secret("L" + randomHex(12))},
		Reader: store.Login{Name: "t_" + tag + "_reader", Password: config.Secret("R" + randomHex(12))},
	}
	base := URL(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop test roles: %v", err)
			return
		}
		defer conn.Close(context.Background())
		for _, name := range []string{l.Loader.Name, l.Reader.Name} {
			var exists bool
			if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&exists); err != nil || !exists {
				continue
			}
			id := pgx.Identifier{name}.Sanitize()
			// DROP OWNED, which revokes the role's rights in this
			// database, needs membership in the role.
			_, _ = conn.Exec(ctx, "GRANT "+id+" TO CURRENT_USER")
			if _, err := conn.Exec(ctx, "DROP OWNED BY "+id); err != nil {
				t.Logf("drop test role %s: %v", name, err)
			}
			if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+id); err != nil {
				t.Logf("drop test role %s: %v", name, err)
			}
		}
	})
	return l
}

// TLS returns cfg connecting over TLS with sslmode=verify-full against
// the test database's CA, as login (cfg's own user when login has no
// name). The host is kept: the stack's certificate names 127.0.0.1 and
// localhost.
func TLS(t testing.TB, cfg config.Database, login store.Login) config.Database {
	t.Helper()
	u, err := url.Parse(cfg.URL.Reveal())
	if err != nil || u.Scheme == "" {
		t.Fatalf("%s must be a postgres:// URL", EnvDatabase)
	}
	if login.Name != "" {
		u.User = url.UserPassword(login.Name, login.Password.Reveal())
	}
	q := u.Query()
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", CA(t))
	u.RawQuery = q.Encode()
	cfg.URL = config.ConnString(u.String())
	return cfg
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
