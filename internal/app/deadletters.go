package app

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/store"
)

// DeadLetterTopics expands short topic names (users, prices, trades,
// alerts) to the prefix's full names; other names are kept as given.
func (e *Env) DeadLetterTopics(names []string) []string {
	t := kafka.TopicNames(e.Config.Topics.Prefix)
	short := map[string]string{"users": t.Users, "prices": t.Prices, "trades": t.Trades, "alerts": t.Alerts}
	out := make([]string, len(names))
	for i, n := range names {
		if full, ok := short[strings.TrimSpace(n)]; ok {
			n = full
		}
		out[i] = n
	}
	return out
}

// Replayer opens the database for `deadletters replay` (role, the owner
// to replay, the reader to preview) and returns a replayer with the sink's
// topics and transform stage, its declarative transforms compiled. The
// caller closes the pool.
func (e *Env) Replayer(ctx context.Context, role config.Role, chunk int, onChunk func(sink.ReplayReport)) (*sink.Replayer, *pgxpool.Pool, error) {
	opts, err := e.sinkOptions()
	if err != nil {
		return nil, nil, err
	}
	pool, err := e.OpenPoolAs(ctx, role)
	if err != nil {
		return nil, nil, err
	}
	if err := store.RequireVersion(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	opts.Now = e.Now
	return sink.NewReplayer(pool, e.Log, sink.ReplayOptions{Sink: opts, ChunkSize: chunk, OnChunk: onChunk}), pool, nil
}
