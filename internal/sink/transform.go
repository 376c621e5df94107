package sink

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/store"
)

// Dead-letter reasons the sink adds to those of the event package
// (event.ReasonMalformedJSON and friends). The set is small and stable:
// it is a metric label and what operators filter dead letters by.
const (
	// ReasonUnexpectedSchema: a schema version the sink knows, on a topic
	// that does not carry it (a price/1 record on the trades topic).
	ReasonUnexpectedSchema = "unexpected_schema"
	// ReasonOutsideRetention: an event dated before the retention window,
	// whose daily partition has been (or would at once be) dropped.
	ReasonOutsideRetention = "outside_retention"
	// ReasonFutureTime: an event dated further ahead than the sink accepts
	// (Options.MaxAhead), which would create a partition for a far day.
	ReasonFutureTime = "future_time"
	// ReasonDuplicate: another copy of an event already stored (the same
	// run, symbol, event time and sequence number or trade id): it is
	// kept as a dead letter, in the table only, instead of a second row.
	ReasonDuplicate = "duplicate"
	// ReasonRejectedByDatabase: PostgreSQL refused the row itself (a data
	// exception or constraint violation) although it passed validation.
	ReasonRejectedByDatabase = "rejected_by_database"
	// ReasonRejected: a transform rejected the record without a reason of
	// its own.
	ReasonRejected = "rejected"
)

// Record is one consumed record between decoding and loading: where it
// came from and the event it decoded to. Exactly one of User, Price, Trade
// and Alert is set, except for a tombstone on the users topic, which has
// none.
type Record struct {
	// Topic is the short topic name: "users", "prices", "trades" or
	// "alerts".
	Topic     string
	Partition int32
	Offset    int64
	// Schema is the record's schema header, e.g. "trade/2".
	Schema string
	Key    []byte
	User   *event.User
	Price  *event.Price
	Trade  *event.Trade
	Alert  *event.Alert
}

// Transform is one step of the stage between decoding and loading. Apply
// may rewrite the event in place; returning an error rejects the record,
// which then becomes a dead letter with the reason of the *Rejection the
// error wraps (ReasonRejected if none), except ErrDrop (or an error
// wrapping it), which drops the record: neither a row nor a dead letter.
//
// Transforms run on the sink's consuming goroutine, one record at a time,
// in the order given. They must be pure and quick: no I/O, no waiting, and
// no failure that could pass on a retry, since a rejection is final. Apply
// must not keep rec or its events after it returns.
type Transform interface {
	Apply(rec *Record) error
}

// TransformFunc adapts a function to Transform.
type TransformFunc func(rec *Record) error

// Apply calls f(rec).
func (f TransformFunc) Apply(rec *Record) error { return f(rec) }

// Rejection is the error a Transform returns for a record that can never
// be loaded.
type Rejection struct {
	Reason string
	Msg    string
}

// Error returns "msg (reason)".
func (r *Rejection) Error() string { return r.Msg + " (" + r.Reason + ")" }

// Reject returns a *Rejection with the given reason and message.
func Reject(reason, format string, args ...any) error {
	return &Rejection{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// rejectionReason returns the dead-letter reason of err.
func rejectionReason(err error) string {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	if reason := event.ReasonOf(err); reason != "" {
		return string(reason)
	}
	return ReasonRejected
}

// DefaultTransforms returns the stage every sink runs unless told
// otherwise: NormalizeSymbols, StorableText, UserKeyMatches and a
// TimeWindow keeping events within retentionDays (0: no lower bound) and
// at most maxAhead in the future of now.
func DefaultTransforms(retentionDays int, maxAhead time.Duration, now func() time.Time) []Transform {
	return []Transform{
		NormalizeSymbols(),
		StorableText(),
		UserKeyMatches(),
		TimeWindow{RetentionDays: retentionDays, MaxAhead: maxAhead, Now: now},
	}
}

// NormalizeSymbols trims and upper-cases the symbol of prices, trades and
// alerts and rejects one that is still not a valid symbol. The decoder already
// normalises what it reads, so this guards events that other transforms
// produce or modify.
func NormalizeSymbols() Transform {
	return TransformFunc(func(rec *Record) error {
		var sym *string
		switch {
		case rec.Price != nil:
			sym = &rec.Price.Symbol
		case rec.Trade != nil:
			sym = &rec.Trade.Symbol
		case rec.Alert != nil:
			sym = &rec.Alert.Symbol
		default:
			return nil
		}
		s, ok := event.NormalizeSymbol(*sym)
		if !ok {
			return Reject(string(event.ReasonInvalidField), "symbol %q: want ^[A-Z][A-Z0-9.]{0,9}$", *sym)
		}
		*sym = s
		return nil
	})
}

// StorableText rejects text PostgreSQL cannot store: a NUL character,
// which JSON can carry as \u0000 but a text column cannot.
func StorableText() Transform {
	return TransformFunc(func(rec *Record) error {
		check := func(field, s string) error {
			if strings.IndexByte(s, 0) >= 0 {
				return Reject(string(event.ReasonInvalidField), "%s: contains a NUL character", field)
			}
			return nil
		}
		switch {
		case rec.User != nil:
			u := rec.User
			for _, f := range [...]struct{ name, v string }{
				{"name", u.Name}, {"email", u.Email}, {"country", u.Country}, {"account.currency", u.Account.Currency},
			} {
				if err := check(f.name, f.v); err != nil {
					return err
				}
			}
			for _, s := range u.Sectors {
				if err := check("sectors", s); err != nil {
					return err
				}
			}
		case rec.Price != nil:
			return check("sector", rec.Price.Sector)
		case rec.Alert != nil:
			a := rec.Alert
			for _, f := range [...]struct{ name, v string }{{"alert_id", a.ID}, {"kind", a.Kind}, {"message", a.Message}} {
				if err := check(f.name, f.v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// UserKeyMatches rejects a user record whose key is not its user id: the
// users topic is compacted by key, so a mismatch would make the table and
// the topic disagree on which profile is the latest.
func UserKeyMatches() Transform {
	return TransformFunc(func(rec *Record) error {
		if rec.User == nil {
			return nil
		}
		if id, err := strconv.ParseInt(string(rec.Key), 10, 64); err != nil || id != rec.User.ID {
			return Reject(string(event.ReasonInvalidField), "key %q does not match user_id %d", rec.Key, rec.User.ID)
		}
		return nil
	})
}

// TimeWindow rejects prices and trades dated outside the days the
// partitioned tables keep: before the retention window (ReasonOutsideRetention)
// or more than MaxAhead after Now (ReasonFutureTime). Within the window
// the sink creates any missing daily partition, so no dated record ever
// aborts a batch.
type TimeWindow struct {
	// RetentionDays is how many days back are kept, as in
	// config.Database.RetentionDays; 0 keeps everything.
	RetentionDays int
	// MaxAhead is how far past Now an event may be dated; 0 means no limit.
	MaxAhead time.Duration
	// Now is the clock.
	Now func() time.Time
}

// Apply implements Transform.
func (w TimeWindow) Apply(rec *Record) error {
	var ts time.Time
	switch {
	case rec.Price != nil:
		ts = rec.Price.Time
	case rec.Trade != nil:
		ts = rec.Trade.Time
	default:
		return nil
	}
	now := w.Now()
	if w.RetentionDays > 0 {
		// The same cutoff store.DropPartitionsBefore applies: days
		// strictly before it are dropped.
		cutoff := store.Day(now.AddDate(0, 0, -w.RetentionDays))
		if ts.Before(cutoff) {
			return Reject(ReasonOutsideRetention, "ts %s is before the %d-day retention window (from %s)",
				ts.UTC().Format(time.RFC3339), w.RetentionDays, cutoff.Format(time.DateOnly))
		}
	}
	if w.MaxAhead > 0 && ts.After(now.Add(w.MaxAhead)) {
		return Reject(ReasonFutureTime, "ts %s is more than %v ahead of now", ts.UTC().Format(time.RFC3339), w.MaxAhead)
	}
	return nil
}
