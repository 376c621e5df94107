package status

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Replication is PostgreSQL's streaming replication as status shows it:
// the standbys the primary streams to (its pg_stat_replication) and the
// server the read URL names, each with how far behind the primary it is.
type Replication struct {
	// Standbys are the primary's pg_stat_replication rows, by name.
	Standbys []Standby `json:"standbys"`
	// Read is the read URL's server, when one is configured.
	Read *ReadServer `json:"read,omitempty"`
	// Error, when set, is why replication could not be read (all or
	// part of it): the section is then unknown, not empty.
	Error string `json:"error,omitempty"`
}

// Standby is one row of the primary's pg_stat_replication.
type Standby struct {
	// Name is the standby's application_name.
	Name string `json:"name"`
	// Addr is its client address.
	Addr string `json:"addr,omitempty"`
	// State is the WAL sender's state (streaming, catchup, ...); SyncState
	// async, potential, sync or quorum.
	State     string `json:"state"`
	SyncState string `json:"sync_state"`
	// LagBytes is how far its replay is behind the primary's current WAL
	// position (pg_current_wal_lsn() - replay_lsn); -1 when this role may
	// not see the positions (it needs pg_monitor).
	LagBytes int64 `json:"lag_bytes"`
	// LagSeconds is replay_lag: the time between a commit on the primary
	// and its replay there, as last measured (0 when idle and caught up).
	LagSeconds float64 `json:"lag_seconds"`
}

// ReadServer is the server of the read URL.
type ReadServer struct {
	// Standby reports whether it is in recovery; false means it is a
	// primary (a promoted replica, or the read URL names the primary).
	Standby bool `json:"standby"`
	// LagBytes is how far its replay is behind the primary's current WAL
	// position (0 for a primary).
	LagBytes int64 `json:"lag_bytes"`
	// LagSeconds is, while it is behind, the age of the last transaction
	// it replayed (pg_last_xact_replay_timestamp()); 0 when caught up.
	LagSeconds float64 `json:"lag_seconds"`
}

// replication reads the primary's standbys through s.pool and, when a
// read pool is configured, the read server's position. It returns nil
// when there is nothing to show: no read pool and no standby.
func (s *Sampler) replication(ctx context.Context) *Replication {
	r := &Replication{}
	var errs []error
	standbys, err := standbys(ctx, s.pool)
	if err != nil {
		errs = append(errs, err)
	}
	r.Standbys = standbys
	if s.opts.Read != nil {
		if r.Read, err = readServer(ctx, s.pool, s.opts.Read); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.Error = err.Error()
	}
	if r.Error == "" && r.Read == nil && len(r.Standbys) == 0 {
		return nil
	}
	return r
}

// standbys reads pg_stat_replication on the primary.
func standbys(ctx context.Context, primary *pgxpool.Pool) ([]Standby, error) {
	rows, err := primary.Query(ctx, `
		SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''),
		       coalesce(sync_state, ''), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,
		       coalesce(extract(epoch FROM replay_lag), 0)::float8
		FROM pg_stat_replication ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("pg_stat_replication: %w", err)
	}
	defer rows.Close()
	var out []Standby
	for rows.Next() {
		var sb Standby
		var lag *int64
		if err := rows.Scan(&sb.Name, &sb.Addr, &sb.State, &sb.SyncState, &lag, &sb.LagSeconds); err != nil {
			return nil, fmt.Errorf("pg_stat_replication: %w", err)
		}
		sb.LagBytes = -1
		if lag != nil {
			sb.LagBytes = *lag
		}
		out = append(out, sb)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pg_stat_replication: %w", err)
	}
	return out, nil
}

// readServer reads the read server's replay position and age, and how
// far that is behind the primary's current position.
func readServer(ctx context.Context, primary, read *pgxpool.Pool) (*ReadServer, error) {
	var rs ReadServer
	var replayed *string
	var age *float64
	err := read.QueryRow(ctx, `SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
		extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8`).Scan(&rs.Standby, &replayed, &age)
	if err != nil {
		return nil, fmt.Errorf("read url: replay position: %w", err)
	}
	if !rs.Standby || replayed == nil {
		return &rs, nil
	}
	if err := primary.QueryRow(ctx, `SELECT greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn), 0)::bigint`,
		*replayed).Scan(&rs.LagBytes); err != nil {
		return nil, fmt.Errorf("read url: primary's WAL position: %w", err)
	}
	if rs.LagBytes > 0 && age != nil {
		rs.LagSeconds = max(*age, 0)
	}
	return &rs, nil
}
