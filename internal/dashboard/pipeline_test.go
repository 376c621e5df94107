package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	simmarket "github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// pipeline is a small real pipeline for one test: its own topics and
// schema, the generator producing at a modest rate, a loader standing in
// for the sink (it stores rows and the sink offsets), and the dashboard
// served on a loopback port.
type pipeline struct {
	brokers []string
	topics  kafka.Topics
	group   string
	pool    *pgxpool.Pool
	server  *Server
	url     string
}

type pipelineOptions struct {
	rate  float64 // generator events per second
	users int
	token config.Secret
	rules RuleStore
	hub   HubOptions
}

func startPipeline(t testing.TB, o pipelineOptions) *pipeline {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	pool, _ := pgtest.Migrated(t)
	p := &pipeline{brokers: brokers, topics: kafka.TopicNames(tc.Prefix), group: tc.Prefix + "sink", pool: pool}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	// Generator.
	gcfg := config.Default().Gen
	gcfg.Users = o.users
	gcfg.TickInterval = 200 * time.Millisecond
	sim, _, err := gen.NewSim(gcfg, time.Now())
	if err != nil {
		t.Fatalf("simulated market: %v", err)
	}
	kcfg := kafkatest.Config(brokers)
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := gen.Run(ctx, gen.Options{Client: producer, Rate: o.rate, RunID: "dashtest"},
			gen.NewMarketSource(sim, simmarket.KindAll, p.topics))
		if err != nil && ctx.Err() == nil {
			t.Errorf("generator: %v", err)
		}
	}()

	// Loader in place of the sink.
	consumer := kafkatest.Client(t, brokers,
		kgo.ConsumeTopics(p.topics.Users, p.topics.Prices, p.topics.Trades),
		kgo.ConsumerGroup(p.group), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := load(ctx, consumer, pool, p.topics, p.group); err != nil && ctx.Err() == nil {
			t.Errorf("loader: %v", err)
		}
	}()

	// Dashboard.
	live := kafkatest.Client(t, brokers, LiveOptions(p.topics)...)
	p.server = New(live, pool, Options{
		Topics: p.topics, SinkGroup: p.group, Token: o.token, Rules: o.rules, Hub: o.hub,
		Log: slog.New(slog.DiscardHandler),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p.url = "http://" + ln.Addr().String()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.server.Run(ctx, ln); err != nil {
			t.Errorf("dashboard: %v", err)
		}
	}()
	return p
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
}

// storedSymbols returns symbols with at least min stored ticks.
func (p *pipeline) storedSymbols(ctx context.Context, min int) ([]string, error) {
	rows, err := p.pool.Query(ctx, `SELECT symbol FROM price_ticks GROUP BY symbol HAVING count(*) >= $1 ORDER BY symbol`, min)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p *pipeline) get(path string) (*http.Response, error) {
	return http.Get(p.url + path)
}

func numeric(d event.Decimal) pgtype.Numeric {
	return pgtype.Numeric{Int: big.NewInt(int64(d)), Exp: -event.Scale, Valid: true}
}

// load is a minimal stand-in for the sink: it copies users, prices and
// trades into the tables and records the group's position in sink_offsets
// in the same transaction, which is what the health panel reads.
func load(ctx context.Context, cl *kgo.Client, pool *pgxpool.Pool, topics kafka.Topics, group string) error {
	for {
		fs := cl.PollRecords(ctx, 5000)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		var ticks, trades [][]any
		next := map[[2]any]int64{}
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		var ferr error
		fs.EachRecord(func(r *kgo.Record) {
			next[[2]any{r.Topic, r.Partition}] = r.Offset + 1
			var schema string
			for _, h := range r.Headers {
				if h.Key == event.HeaderSchema {
					schema = string(h.Value)
				}
			}
			v, err := event.Decode(schema, r.Value)
			if err != nil {
				return
			}
			switch v := v.(type) {
			case *event.Price:
				ticks = append(ticks, []any{v.Symbol, v.Sector, v.Seq, v.Time, numeric(v.Bid), numeric(v.Ask),
					numeric(v.Last), v.Volume, r.Partition, r.Offset})
			case *event.Trade:
				var ot *string
				if v.OrderType != "" {
					s := string(v.OrderType)
					ot = &s
				}
				lp := pgtype.Numeric{}
				if v.LimitPrice > 0 {
					lp = numeric(v.LimitPrice)
				}
				trades = append(trades, []any{v.ID, v.UserID, v.AccountID, v.Symbol, string(v.Side), v.Quantity,
					numeric(v.Price), numeric(v.Fee), v.Time, numeric(v.BalanceAfter), ot, lp, int16(2), r.Partition, r.Offset})
			case *event.User:
				if _, err := tx.Exec(ctx, `INSERT INTO users (user_id, name, email, country, signup_at, experience,
					risk_tolerance, sectors, updated_at, kafka_partition, kafka_offset)
					VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (user_id) DO NOTHING`,
					v.ID, v.Name, v.Email, v.Country, v.SignupAt, string(v.Experience), string(v.RiskTolerance),
					v.Sectors, v.UpdatedAt, r.Partition, r.Offset); err != nil && ferr == nil {
					ferr = fmt.Errorf("insert user: %w", err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO accounts (account_id, user_id, type, currency, balance, balance_at)
					VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (account_id) DO NOTHING`,
					v.Account.ID, v.ID, string(v.Account.Type), v.Account.Currency, numeric(v.Account.Balance), v.UpdatedAt); err != nil && ferr == nil {
					ferr = fmt.Errorf("insert account: %w", err)
				}
			}
		})
		if ferr != nil {
			_ = tx.Rollback(ctx)
			return ferr
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"price_ticks"}, []string{"symbol", "sector", "seq", "ts", "bid", "ask",
			"last", "volume", "kafka_partition", "kafka_offset"}, pgx.CopyFromRows(ticks)); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("copy ticks: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"trades"}, []string{"trade_id", "user_id", "account_id", "symbol", "side",
			"quantity", "price", "fee", "ts", "balance_after", "order_type", "limit_price", "schema_version",
			"kafka_partition", "kafka_offset"}, pgx.CopyFromRows(trades)); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("copy trades: %w", err)
		}
		for k, off := range next {
			if _, err := tx.Exec(ctx, `INSERT INTO sink_offsets (group_id, topic, kafka_partition, next_offset)
				VALUES ($1,$2,$3,$4) ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
				group, k[0], k[1], off); err != nil {
				_ = tx.Rollback(ctx)
				return fmt.Errorf("store offsets: %w", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
}
