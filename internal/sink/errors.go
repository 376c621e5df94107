package sink

import (
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// errorClass is what the sink does about a batch that failed to load.
// The classification is what keeps a good record from ever being
// dead-lettered because the database was down: only errors that name a
// row the database refuses are classData.
type errorClass int

const (
	// classTransient: the database or the network may come back (a lost
	// connection, a server shutting down or refusing connections, a
	// deadlock, a serialization failure, a timeout, exhausted resources).
	// Retry with backoff while consumption pauses.
	classTransient errorClass = iota
	// classData: PostgreSQL refused a row (a data exception, a constraint
	// violation). Find the rows it refuses and dead-letter them.
	classData
	// classPartition: a row's daily partition is gone (dropped by
	// retention after the sink cached it). Forget the cached partitions
	// and retry; the next attempt creates what is missing.
	classPartition
	// classFenced: another instance loaded the batch's partitions
	// meanwhile. Drop the batch and re-read from the stored offsets.
	classFenced
	// classFatal: a problem no retry fixes (missing tables or privileges,
	// bad credentials). Stop the sink with the error.
	classFatal
	// classDuplicate: a tick or trade of the batch is already stored (or
	// twice in it). Load the batch again through the path that stores
	// the later copies as dead letters.
	classDuplicate
)

func (c errorClass) String() string {
	switch c {
	case classTransient:
		return "transient"
	case classData:
		return "data"
	case classPartition:
		return "partition"
	case classFenced:
		return "fenced"
	case classFatal:
		return "fatal"
	case classDuplicate:
		return "duplicate"
	}
	return "unknown"
}

// classify decides what to do about err, an error from loading a batch.
// Anything it does not recognise is transient: retrying an unknown failure
// costs time, dead-lettering a good record loses it.
func classify(err error) errorClass {
	if errors.Is(err, errFenced) {
		return classFenced
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return classTransient // network, timeout, connection refused, EOF
	}
	switch {
	case pg.Code == "23514" && strings.HasPrefix(pg.Message, "no partition of relation"):
		return classPartition
	case pg.Code == "23505" && (strings.HasPrefix(pg.TableName, "price_ticks") || strings.HasPrefix(pg.TableName, "trades")):
		return classDuplicate
	case strings.HasPrefix(pg.Code, "21"), // cardinality violation
		strings.HasPrefix(pg.Code, "22"), // data exception
		strings.HasPrefix(pg.Code, "23"): // integrity constraint violation
		return classData
	case strings.HasPrefix(pg.Code, "28"), // invalid authorization
		strings.HasPrefix(pg.Code, "3F"), // invalid schema name
		strings.HasPrefix(pg.Code, "42"), // undefined table or column, insufficient privilege
		strings.HasPrefix(pg.Code, "0A"): // feature not supported
		return classFatal
	}
	// 08 connection exception, 40 transaction rollback, 53 insufficient
	// resources, 55 object not in prerequisite state, 57 operator
	// intervention (admin shutdown, cannot connect now), 58 system error,
	// XX internal error.
	return classTransient
}

// backoff is capped exponential backoff with jitter.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

// next returns the next wait: the current step with up to 20% jitter,
// doubling the step up to max.
func (b *backoff) next() time.Duration {
	if b.cur < b.min {
		b.cur = b.min
	}
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// reset starts over from min.
func (b *backoff) reset() { b.cur = 0 }
