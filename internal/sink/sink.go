package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/clock"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
	tsmetrics "github.com/tradestream/tradestream/internal/metrics"
)

// Options configure a Sink. Zero durations take the defaults noted.
type Options struct {
	// Group is the Kafka consumer group, and the key of the stored offsets.
	Group string
	// Topics names the topics: users, prices, trades and alerts are
	// consumed, deadletter receives what can never be loaded.
	Topics kafka.Topics
	// BatchSize is the most records loaded in one transaction.
	BatchSize int
	// BatchBytes is the most record bytes (keys and values) in one batch
	// (default 16 MiB); a batch ends at the poll that reaches it.
	BatchBytes int
	// BatchTimeout is how long a partial batch waits for more records.
	BatchTimeout time.Duration
	// UntilCaughtUp makes Run return nil once the stored offsets of every
	// partition reach the end offsets seen when Run started.
	UntilCaughtUp bool
	// RetentionDays and PartitionsAhead drive partition upkeep and the
	// time window (see TimeWindow); RetentionDays 0 keeps everything.
	RetentionDays   int
	PartitionsAhead int
	// MaxAhead is how far in the future an event may be dated (default
	// 366 days); later ones are dead letters (ReasonFutureTime).
	MaxAhead time.Duration
	// UpkeepInterval is how often partitions are created ahead and
	// dropped past retention (default 1 h).
	UpkeepInterval time.Duration
	// SessionTimeout is the consumer group session timeout; 0 keeps
	// franz-go's default (45 s). A killed instance's partitions move to
	// the others once it expires.
	SessionTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to load a
	// batch while PostgreSQL or Kafka is unavailable (100 ms, 10 s).
	RetryMin, RetryMax time.Duration
	// StoredCheck is how often, while no batch is loading, the stored
	// offsets are compared with the positions (default 5 s), so that
	// offsets moved under the sink (a failover, a restore) are followed
	// on partitions that have no new records to be fenced off by.
	StoredCheck time.Duration
	// AttemptTimeout bounds one attempt to load a batch (default 60 s).
	// An attempt in flight when Run's context ends is allowed to finish.
	AttemptTimeout time.Duration
	// FetchMaxBytes bounds one fetch response per broker (default 2 MiB,
	// a quarter of it per partition); with the batch it bounds the sink's
	// memory. The bound is on compressed bytes: JSON records compressed
	// with zstd take about ten times as much once decompressed.
	FetchMaxBytes int32
	// Transforms is the stage between decoding and loading; nil means
	// DefaultTransforms.
	Transforms []Transform
	// Declared are the declarative transforms of the configuration (see
	// CompileTransforms); they run before Transforms, which guard what
	// they produce.
	Declared []Transform
	// Decoder reads the values in a schema registry's formats (nil: such
	// values are dead-lettered as of an unknown schema).
	Decoder *format.Decoder
	// Now is the clock (time.Now when nil). Every time the sink reads
	// comes from it: timestamps, durations in the metrics, the batch
	// timeout and idle detection, so it must advance like time.Now (it
	// may be shifted).
	Now func() time.Time
	// OnCommit, when set, is called from Run's goroutine after every
	// committed batch; it must return quickly.
	OnCommit func(Committed)
}

// Committed describes a committed batch, for Options.OnCommit.
type Committed struct {
	// Records is the number of records the batch covered, Bytes their
	// keys and values.
	Records, Bytes int
	// FirstRecord is when the batch's first record arrived.
	FirstRecord time.Time
}

// OptionsFrom returns the options set by the configuration, with the
// defaults for the rest.
func OptionsFrom(cfg config.Config) Options {
	return Options{
		Group:           cfg.Sink.Group,
		Topics:          kafka.TopicNames(cfg.Topics.Prefix),
		BatchSize:       cfg.Sink.BatchSize,
		BatchBytes:      cfg.Sink.BatchBytes,
		BatchTimeout:    cfg.Sink.BatchTimeout,
		UntilCaughtUp:   cfg.Sink.UntilCaughtUp,
		RetentionDays:   cfg.Database.RetentionDays,
		PartitionsAhead: cfg.Database.PartitionsAhead,
		SessionTimeout:  cfg.Sink.SessionTimeout,
	}
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.BatchTimeout, 200*time.Millisecond)
	def(&o.MaxAhead, 366*24*time.Hour)
	def(&o.UpkeepInterval, time.Hour)
	def(&o.RetryMin, 100*time.Millisecond)
	def(&o.RetryMax, 10*time.Second)
	def(&o.AttemptTimeout, 60*time.Second)
	def(&o.StoredCheck, 5*time.Second)
	if o.BatchSize <= 0 {
		o.BatchSize = 20000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 16 << 20
	}
	if o.FetchMaxBytes <= 0 {
		o.FetchMaxBytes = 2 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Transforms == nil {
		o.Transforms = DefaultTransforms(o.RetentionDays, o.MaxAhead, o.Now)
	}
	if len(o.Declared) > 0 {
		o.Transforms = append(slices.Clip(o.Declared), o.Transforms...)
		o.Declared = nil
	}
}

// Sink loads the users, prices, trades and alerts topics into PostgreSQL,
// effectively once: each batch's rows and the offsets they came from
// commit in one transaction, and consumption resumes from the offsets
// stored there. See the package documentation for the guarantees.
type Sink struct {
	kcfg    config.Kafka
	pool    *pgxpool.Pool
	log     *slog.Logger
	metrics *metrics
	hooks   kgo.Opt // the Kafka client's own metrics
	opts    Options

	dataTopics []string
	cl         *kgo.Client   // set by Run
	clSet      chan struct{} // closed once cl is set
	live       atomic.Pointer[kgo.Client]
	pos        positions
	w          writer
	parts      partitionCache
	build      builder
	// first is when the first committed batch's first record arrived,
	// loaded the records committed since: Run's end report.
	first  time.Time
	loaded int64
	// checked is when the stored offsets were last compared with the
	// positions (followStored).
	checked time.Time
	// loading is the batch being loaded while the next one is fetched,
	// if any; revoked counts the revocations and losses of partitions.
	loading atomic.Pointer[loadJob]
	revoked atomic.Int64
	// recreated finds topics deleted and created again under the sink
	// (the consuming goroutine's; see renewRecreated).
	recreated *kafka.Recreated
}

// New returns a sink that loads into pool and registers its metrics with
// reg (nil: not registered). It connects to nothing until Run.
func New(kcfg config.Kafka, pool *pgxpool.Pool, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Sink, error) {
	opts.setDefaults()
	if opts.Group == "" {
		return nil, errors.New("sink: empty consumer group")
	}
	m := newMetrics(reg)
	t := opts.Topics
	s := &Sink{
		kcfg: kcfg, pool: pool, log: log.With("component", "sink"), metrics: m, opts: opts,
		hooks:      tsmetrics.KafkaHooks(reg, "sink"),
		dataTopics: []string{t.Users, t.Prices, t.Trades, t.Alerts},
		recreated:  kafka.NewRecreated(),
		clSet:      make(chan struct{}),
	}
	s.w = writer{pool: pool, group: opts.Group, metrics: m, now: opts.Now}
	s.parts = partitionCache{pool: pool, log: s.log, metrics: m}
	s.build = newBuilder(opts)
	return s, nil
}

// Run joins the consumer group and loads batches until ctx ends (then it
// commits the batch in hand, if it can, and returns nil) or, with
// UntilCaughtUp, until every partition is loaded up to the end offsets
// seen at start. It fails only on what no retry fixes: an unreachable
// broker at start, a schema without the sink's tables, bad credentials.
// Run may be called once. Every goroutine it starts has ended, and the
// group has been left, when it returns.
func (s *Sink) Run(ctx context.Context) error {
	if err := s.parts.load(ctx); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	opts := append(kafka.ProducerOptions(s.kcfg),
		kgo.ConsumerGroup(s.opts.Group),
		kgo.ConsumeTopics(s.dataTopics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(s.adjustOffsets),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
			if len(revoked) > 0 {
				s.handOver(ctx)
				s.w.stale.Store(true)
			}
			s.pos.drop(revoked)
			if len(revoked) > 0 {
				s.log.Info("partitions revoked", "partitions", revoked)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			if len(lost) > 0 {
				s.revoked.Add(1)
				s.w.stale.Store(true)
			}
			s.pos.drop(lost)
			s.log.Warn("partitions lost", "partitions", lost)
		}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// The alerts engine writes its topic in transactions: load only
		// what it committed, and see the markers so positions pass them.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(s.opts.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(max(s.opts.FetchMaxBytes/4, 64<<10)),
		s.hooks,
	)
	if s.opts.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(s.opts.SessionTimeout),
			kgo.HeartbeatInterval(max(s.opts.SessionTimeout/10, 100*time.Millisecond)))
	}
	cl, err := kafka.NewClient(ctx, s.kcfg, s.log, opts...)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	s.cl = cl
	close(s.clSet)
	s.live.Store(cl)
	defer func() {
		s.live.Store(nil)
		cl.CloseAllowingRebalance() // leaves the group
	}()

	var target map[topicPartition]span
	if s.opts.UntilCaughtUp {
		if target, err = s.endOffsets(ctx); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}

	upCtx, stopUpkeep := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { upkeep(upCtx, s.pool, s.log, s.metrics, s.opts) })
	defer func() {
		stopUpkeep()
		wg.Wait()
	}()

	s.log.Info("sink running", "group", s.opts.Group, "topics", s.dataTopics,
		"batch_size", s.opts.BatchSize, "batch_timeout", s.opts.BatchTimeout, "until_caught_up", s.opts.UntilCaughtUp)
	return s.consume(ctx, target)
}

// Ping reports whether the sink is running and a broker answers; it is
// safe to call from any goroutine (a readiness check).
func (s *Sink) Ping(ctx context.Context) error {
	cl := s.live.Load()
	if cl == nil {
		return errors.New("sink not running")
	}
	return cl.Ping(ctx)
}

// idlePoll bounds a poll that has no batch to fill yet, so that an idle
// sink still lets rebalances through and checks whether it has caught up.
const idlePoll = 500 * time.Millisecond

// fill polls records into a new batch until it holds BatchSize records or
// BatchBytes bytes, or the loading batch j (nil: none) has committed and a
// quarter of BatchTimeout has passed since the first record (so batches
// shrink to what arrives while one loads, and latency with them),
// BatchTimeout has passed since its first record, an idle poll ends empty
// or ctx ends. A refusal for want of an ACL (to join the group, to read a
// topic) ends it with that error: no retry fixes it.
func (s *Sink) fill(ctx context.Context, pos func(topicPartition) int64, j *loadJob) (*batch, error) {
	b := newBatch()
	for b.records < s.opts.BatchSize && b.bytes < s.opts.BatchBytes {
		start := s.opts.Now()
		deadline := start.Add(idlePoll)
		if !b.empty() {
			deadline = b.started.Add(s.opts.BatchTimeout)
		}
		pctx, cancel := context.WithTimeout(ctx, deadline.Sub(start))
		fetches := s.cl.PollRecords(pctx, s.pollSize(b))
		cancel()
		if fetches.IsClientClosed() {
			return b, nil
		}
		var refused error
		now := s.opts.Now()
		fresh := s.recreated.Note(fetches)
		fetches.EachError(func(topic string, part int32, err error) {
			if errors.Is(err, kerr.UnknownTopicID) && !slices.Contains(fresh, topic) {
				return // logged when first refused
			}
			if kafka.IsDenied(err) && refused == nil {
				refused = kafka.Denied(err, kafka.Principal(s.kcfg), "READ", resource(topic, s.opts.Group))
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				s.log.Warn("fetch error", "topic", topic, "partition", part, "error", err)
			}
		})
		if refused != nil {
			return b, refused
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				n := s.build.addPartition(ctx, b, p.Topic, p.Partition, p.Records, pos, now)
				s.metrics.skipped.Add(float64(n))
			}
		})
		if ctx.Err() != nil {
			return b, nil
		}
		if b.empty() && !now.Before(deadline) {
			return b, nil // idle
		}
		if !b.empty() && !now.Before(b.started.Add(s.opts.BatchTimeout)) {
			return b, nil
		}
		if !b.empty() && j.finished() && !now.Before(b.started.Add(s.opts.BatchTimeout/4)) {
			return b, nil // the loader is free: a live stream waits no longer than it must
		}
	}
	return b, nil
}

// firstPoll is the most records the first poll of a batch takes, before
// their size is known.
const firstPoll = 1000

// pollSize is how many records the next poll into b may take: what is left
// of BatchSize, and of BatchBytes at the batch's mean record size so far,
// so that records of any size keep a batch near its byte bound.
func (s *Sink) pollSize(b *batch) int {
	n := s.opts.BatchSize - b.records
	if b.records == 0 {
		return min(n, firstPoll)
	}
	mean := b.bytes/b.records + 1
	return max(1, min(n, (s.opts.BatchBytes-b.bytes)/mean+1))
}

// resource names what a fetch error is about: the topic, or the group
// when it has none (joining the group failed).
func resource(topic, group string) string {
	if topic == "" {
		return "group " + group
	}
	return "topic " + topic
}

// flush loads b, retrying what can pass, until it is committed (nil), or
// fenced off (errFenced: its partitions must be re-read from the stored
// offsets), or a fatal error stops the sink, or ctx ends. While it
// retries, fetching is paused. It runs on the loading goroutine.
func (s *Sink) flush(ctx context.Context, b *batch) error {
	start := s.opts.Now()
	bo := backoff{min: s.opts.RetryMin, max: s.opts.RetryMax}
	paused := false
	defer func() {
		if paused {
			s.cl.ResumeFetchTopics(s.dataTopics...)
			s.metrics.paused.Set(0)
			s.log.Info("loading again; consumption resumed", "waited", s.opts.Now().Sub(start).Round(time.Millisecond))
		}
	}()
	for attempt := 1; ; attempt++ {
		err := s.attempt(ctx, b)
		if err == nil {
			return nil
		}
		class := classify(err)
		s.metrics.retries.WithLabelValues(class.String()).Inc()
		switch class {
		case classFatal:
			return fmt.Errorf("load batch: %w", err)
		case classFenced:
			s.metrics.fenced.Inc()
			s.log.Warn("batch fenced off; re-reading from the stored offsets", "records", b.records)
			return errFenced
		case classPartition:
			s.log.Info("a partition went missing; creating it again", "error", err)
			s.parts.forget()
			continue
		case classDuplicate:
			if !b.dedupe {
				b.dedupe = true
				s.log.Info("the batch holds copies of stored events; loading it again, the copies as dead letters", "records", b.records)
				continue
			}
		case classData:
			n, ierr := s.isolate(ctx, b)
			if ierr == nil && n > 0 {
				s.log.Warn("rows refused by PostgreSQL dead-lettered", "rows", n, "error", err)
				continue
			}
			if ierr != nil {
				err = ierr
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !paused {
			paused = true
			s.cl.PauseFetchTopics(s.dataTopics...)
			s.metrics.paused.Set(1)
		}
		wait := bo.next()
		s.log.Warn("cannot load batch; consumption paused, retrying", "attempt", attempt, "class", class,
			"error", err, "retry_in", wait.Round(time.Millisecond))
		if err := clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// attempt makes one try at loading b: partitions, dead letters to Kafka,
// then the transaction. An attempt in flight is not interrupted by ctx
// ending (it is bounded by AttemptTimeout instead), so that a stopping
// sink commits the batch in hand.
func (s *Sink) attempt(ctx context.Context, b *batch) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.AttemptTimeout)
	defer cancel()
	if err := s.parts.ensure(actx, b); err != nil {
		return err
	}
	if err := s.sendDeadLetters(actx, b); err != nil {
		return err
	}
	return s.w.commit(actx, b)
}

// committed records a committed batch: positions (of the partitions
// still assigned), metrics, the Kafka commit. start is when its loading
// began.
func (s *Sink) committed(ctx context.Context, b *batch, start time.Time) {
	for tp, r := range b.ranges {
		s.pos.advance(tp, r.to)
	}
	if s.first.IsZero() {
		s.first = b.started
	}
	s.loaded += int64(b.records)
	now := s.opts.Now()
	m := s.metrics
	m.batchSeconds.Observe(now.Sub(start).Seconds())
	m.batchRecords.Observe(float64(b.records))
	for topic, n := range b.perTopic {
		m.consumed.WithLabelValues(topic).Add(float64(n))
	}
	m.rows.WithLabelValues("price_ticks").Add(float64(len(b.ticks) - b.dupTicks))
	m.rows.WithLabelValues("trades").Add(float64(len(b.trades) - (len(b.dups) - b.dupTicks)))
	m.rows.WithLabelValues("users").Add(float64(len(b.users)))
	m.rows.WithLabelValues("alerts").Add(float64(len(b.alerts)))
	for _, d := range b.dead {
		m.deadLetters.WithLabelValues(d.reason).Inc()
	}
	for _, d := range b.dups {
		m.deadLetters.WithLabelValues(d.reason).Inc()
	}
	nowNano := now.UnixNano()
	for _, p := range b.produced {
		m.latency.Observe(float64(nowNano-p) / 1e9)
	}
	s.commitToKafka(ctx, b)
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(Committed{Records: b.records, Bytes: b.bytes, FirstRecord: b.started})
	}
}
