package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/kafka"
)

// HealthSample is one second's view of the pipeline's health.
type HealthSample struct {
	// Time is when the sample was taken, Unix milliseconds.
	Time int64 `json:"t"`
	// Topics covers the topics the sink consumes (users, prices, trades)
	// and those it produces to or reads from (alerts, deadletter).
	Topics []TopicHealth `json:"topics"`
	// Received is produced_at to the dashboard reading the record;
	// Pushed is produced_at to a frame holding it written to a client.
	Received Percentiles `json:"received"`
	Pushed   Percentiles `json:"pushed"`
	// DeadLetters counts records in the deadletter topic and rows in the
	// dead_letters table (-1: unknown).
	DeadLetters DeadLetters `json:"dead_letters"`
	// Rows is rows written per second per table, from PostgreSQL's insert
	// and update counters.
	Rows []TableRate `json:"rows"`
	// Clients is the number of live clients; FramesSkipped and
	// ClientsDropped count the live push's back-pressure so far.
	Clients        int   `json:"clients"`
	FramesSkipped  int64 `json:"frames_skipped"`
	ClientsDropped int64 `json:"clients_dropped"`
	// Problems lists what could not be measured this time, in words.
	Problems []string `json:"problems,omitempty"`
}

// TopicHealth is one topic's throughput and the sink's position on it.
type TopicHealth struct {
	Topic string `json:"topic"` // short name: "prices"
	// End is the sum of the partitions' end offsets.
	End int64 `json:"end"`
	// ProduceRate is records appended per second (end offsets' growth).
	ProduceRate float64 `json:"produce_rate"`
	// Consumed reports whether the sink group has a position on the topic;
	// ConsumeRate, Lag and LagSeconds are meaningful only then.
	Consumed    bool    `json:"consumed"`
	ConsumeRate float64 `json:"consume_rate"`
	Lag         int64   `json:"lag"`
	// LagSeconds is how long ago the oldest record not yet consumed was
	// appended (the worst partition), judged from the end offsets seen
	// over time; LagSecondsAtLeast says it is older than that history.
	LagSeconds        float64           `json:"lag_seconds"`
	LagSecondsAtLeast bool              `json:"lag_seconds_at_least,omitempty"`
	Partitions        []PartitionHealth `json:"partitions"`
}

// PartitionHealth is one partition's end offset, the sink's position and
// the lag between them.
type PartitionHealth struct {
	Partition int32 `json:"p"`
	End       int64 `json:"end"`
	Committed int64 `json:"committed"` // -1: none
	Lag       int64 `json:"lag"`
}

// DeadLetters counts the records that could never be loaded.
type DeadLetters struct {
	Topic int64   `json:"topic"`
	Table int64   `json:"table"`
	Rate  float64 `json:"rate"` // per second, from the topic
}

// TableRate is rows written per second to one table.
type TableRate struct {
	Table string  `json:"table"`
	Rate  float64 `json:"rate"`
	Total int64   `json:"total"` // rows written since PostgreSQL's statistics were reset
}

const (
	healthKeep   = 600 // samples kept for the page's charts: 10 minutes
	endKeep      = 900 // end offset samples per partition for lag seconds
	healthPeriod = time.Second
)

type endSample struct {
	at  time.Time
	end int64
}

type partKey struct {
	topic string
	part  int32
}

// healthSampler measures pipeline health once a second. Run owns its only
// goroutine; Latest and History are safe for concurrent use.
type healthSampler struct {
	adm     *kadm.Client
	pool    *pgxpool.Pool
	topics  kafka.Topics
	group   string
	metrics *serverMetrics
	clients func() int
	log     *slog.Logger
	now     func() time.Time

	// owned by run
	ends     map[partKey][]endSample
	prev     *HealthSample
	prevAt   time.Time
	prevComm map[string]int64
	prevRows map[string]int64

	mu      sync.Mutex
	history []*HealthSample
}

// Latest returns the newest sample, or nil before the first.
func (h *healthSampler) Latest() *HealthSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.history) == 0 {
		return nil
	}
	return h.history[len(h.history)-1]
}

// History returns the samples of the last ten minutes, oldest first.
func (h *healthSampler) History() []*HealthSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*HealthSample(nil), h.history...)
}

func (h *healthSampler) run(ctx context.Context) error {
	h.ends = map[partKey][]endSample{}
	t := time.NewTicker(healthPeriod)
	defer t.Stop()
	for {
		h.sampleOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (h *healthSampler) sampleOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	defer cancel()
	s := h.sample(ctx)
	h.mu.Lock()
	h.history = append(h.history, s)
	if len(h.history) > healthKeep {
		h.history = append(h.history[:0:0], h.history[len(h.history)-healthKeep:]...)
	}
	h.mu.Unlock()
}

func (h *healthSampler) sample(ctx context.Context) *HealthSample {
	now := h.now()
	s := &HealthSample{Time: now.UnixMilli(), DeadLetters: DeadLetters{Topic: -1, Table: -1}}
	s.Received = h.metrics.received.percentiles(true)
	s.Pushed = h.metrics.pushed.percentiles(true)
	s.Clients = h.clients()
	s.FramesSkipped = h.metrics.skippedCount.Load()
	s.ClientsDropped = h.metrics.droppedCount.Load()
	var dt float64
	if !h.prevAt.IsZero() {
		dt = now.Sub(h.prevAt).Seconds()
	}

	all := []struct{ name, topic string }{
		{"users", h.topics.Users}, {"prices", h.topics.Prices}, {"trades", h.topics.Trades},
		{"alerts", h.topics.Alerts}, {"deadletter", h.topics.DeadLetter},
	}
	names := make([]string, len(all))
	for i, t := range all {
		names[i] = t.topic
	}
	ends, err := h.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		s.Problems = append(s.Problems, fmt.Sprintf("end offsets: %v", err))
	}
	committed, cerr := h.committed(ctx)
	if cerr != nil {
		s.Problems = append(s.Problems, cerr.Error())
	}
	comm := map[string]int64{}
	for _, t := range all {
		th := TopicHealth{Topic: t.name}
		sinkTopic := t.name == "users" || t.name == "prices" || t.name == "trades"
		var commSum int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Topic != t.topic || o.Err != nil {
				return
			}
			ph := PartitionHealth{Partition: o.Partition, End: o.Offset, Committed: -1}
			th.End += o.Offset
			h.recordEnd(partKey{t.topic, o.Partition}, now, o.Offset)
			if c, ok := committed[partKey{t.topic, o.Partition}]; ok && sinkTopic {
				th.Consumed = true
				ph.Committed = c
				ph.Lag = max(0, o.Offset-c)
				commSum += c
				if secs, atLeast := h.lagSeconds(partKey{t.topic, o.Partition}, c, o.Offset, now); secs > th.LagSeconds {
					th.LagSeconds, th.LagSecondsAtLeast = secs, atLeast
				}
			} else if sinkTopic {
				ph.Lag = o.Offset // no position: everything is still to load
			}
			th.Lag += ph.Lag
			th.Partitions = append(th.Partitions, ph)
		})
		sort.Slice(th.Partitions, func(i, j int) bool { return th.Partitions[i].Partition < th.Partitions[j].Partition })
		comm[t.name] = commSum
		if h.prev != nil && dt > 0 {
			for _, p := range h.prev.Topics {
				if p.Topic == t.name && p.End > 0 {
					th.ProduceRate = max(0, float64(th.End-p.End)/dt)
				}
			}
			if prevC, ok := h.prevComm[t.name]; ok && th.Consumed && prevC > 0 {
				th.ConsumeRate = max(0, float64(commSum-prevC)/dt)
			}
		}
		if t.name == "deadletter" && err == nil {
			s.DeadLetters.Topic = th.End
			s.DeadLetters.Rate = th.ProduceRate
		}
		s.Topics = append(s.Topics, th)
	}
	h.prevComm = comm

	rows, rerr := h.tableCounters(ctx)
	if rerr != nil {
		s.Problems = append(s.Problems, rerr.Error())
	}
	for _, table := range []string{"price_ticks", "trades", "users", "accounts", "dead_letters"} {
		tr := TableRate{Table: table, Total: rows[table]}
		if prev, ok := h.prevRows[table]; ok && dt > 0 {
			tr.Rate = max(0, float64(rows[table]-prev)/dt)
		}
		s.Rows = append(s.Rows, tr)
	}
	if rerr == nil {
		h.prevRows = rows
	}
	if n, err := h.deadLetterRows(ctx); err == nil {
		s.DeadLetters.Table = n
	} else {
		s.Problems = append(s.Problems, err.Error())
	}
	h.prev, h.prevAt = s, now
	return s
}

// committed returns the sink group's position per partition: the larger of
// the offsets it committed to Kafka and those it stored in PostgreSQL's
// sink_offsets table (the sink's own record, written with the rows).
func (h *healthSampler) committed(ctx context.Context) (map[partKey]int64, error) {
	out := map[partKey]int64{}
	var errs []error
	resp, err := h.adm.FetchOffsets(ctx, h.group)
	if err != nil {
		errs = append(errs, fmt.Errorf("sink group %s offsets: %w", h.group, err))
	} else {
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				out[partKey{o.Topic, o.Partition}] = o.At
			}
		})
	}
	rows, err := h.pool.Query(ctx, `SELECT topic, kafka_partition, next_offset FROM sink_offsets WHERE group_id = $1`, h.group)
	if err == nil {
		for rows.Next() {
			var k partKey
			var off int64
			if err := rows.Scan(&k.topic, &k.part, &off); err == nil && off > out[k] {
				out[k] = off
			}
		}
		err = rows.Err()
	}
	if err != nil && !undefinedTable(err) {
		errs = append(errs, fmt.Errorf("sink offsets table: %w", err))
	}
	return out, errors.Join(errs...)
}

// tableCounters returns PostgreSQL's count of rows inserted or updated per
// table in this schema, partitions summed into their parent.
func (h *healthSampler) tableCounters(ctx context.Context) (map[string]int64, error) {
	rows, err := h.pool.Query(ctx, `
		SELECT CASE WHEN relname LIKE 'price\_ticks\_p%' THEN 'price_ticks'
		            WHEN relname LIKE 'trades\_p%' THEN 'trades'
		            ELSE relname END AS t,
		       sum(n_tup_ins + n_tup_upd)::bigint
		FROM pg_stat_user_tables
		WHERE schemaname = current_schema()
		GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("table counters: %w", err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("table counters: %w", err)
		}
		out[t] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table counters: %w", err)
	}
	return out, nil
}

func (h *healthSampler) deadLetterRows(ctx context.Context) (int64, error) {
	var n int64
	err := h.pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&n)
	if err != nil {
		return -1, fmt.Errorf("dead letters table: %w", err)
	}
	return n, nil
}

// recordEnd remembers a partition's end offset at now, keeping a bounded
// history and only the samples where the end moved.
func (h *healthSampler) recordEnd(k partKey, now time.Time, end int64) {
	s := h.ends[k]
	if n := len(s); n > 0 && s[n-1].end == end {
		return
	}
	s = append(s, endSample{now, end})
	if len(s) > endKeep {
		s = append(s[:0], s[len(s)-endKeep:]...)
	}
	h.ends[k] = s
}

// lagSeconds estimates how long ago the record at offset committed was
// appended: the time of the first sample whose end offset passed it.
func (h *healthSampler) lagSeconds(k partKey, committed, end int64, now time.Time) (float64, bool) {
	if committed >= end {
		return 0, false
	}
	s := h.ends[k]
	i := sort.Search(len(s), func(i int) bool { return s[i].end > committed })
	if i == len(s) {
		return 0, false
	}
	if i == 0 {
		// Appended before the oldest sample: at least that old.
		return now.Sub(s[0].at).Seconds(), true
	}
	return now.Sub(s[i].at).Seconds(), false
}

func undefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}
