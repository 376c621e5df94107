package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradestream/tradestream/internal/config"
)

// Topics are the names of tradestream's topics under one prefix.
type Topics struct {
	Users      string
	Prices     string
	Trades     string
	Alerts     string
	DeadLetter string
}

// TopicNames returns the topic names under prefix.
func TopicNames(prefix string) Topics {
	return Topics{
		Users:      prefix + "users",
		Prices:     prefix + "prices",
		Trades:     prefix + "trades",
		Alerts:     prefix + "alerts",
		DeadLetter: prefix + "deadletter",
	}
}

// All returns every topic name, in a fixed order.
func (t Topics) All() []string {
	return []string{t.Users, t.Prices, t.Trades, t.Alerts, t.DeadLetter}
}

// TopicSpec is how one topic is created.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]*string
}

// Specs returns the specification of every tradestream topic: the users
// topic is compacted (latest profile per user wins), the others keep
// cfg.Retention; with three or more replicas, min.insync.replicas is 2 so an
// acks=all write survives the loss of one broker.
func Specs(cfg config.Topics) []TopicSpec {
	names := TopicNames(cfg.Prefix)
	base := func() map[string]*string {
		m := map[string]*string{}
		if cfg.ReplicationFactor >= 3 {
			m["min.insync.replicas"] = kadm.StringPtr("2")
		}
		return m
	}
	var specs []TopicSpec
	for _, name := range names.All() {
		c := base()
		if name == names.Users {
			c["cleanup.policy"] = kadm.StringPtr("compact")
		} else if cfg.Retention > 0 {
			c["retention.ms"] = kadm.StringPtr(strconv.FormatInt(cfg.Retention.Milliseconds(), 10))
		}
		specs = append(specs, TopicSpec{
			Name:              name,
			Partitions:        int32(cfg.Partitions),
			ReplicationFactor: int16(cfg.ReplicationFactor),
			Configs:           c,
		})
	}
	return specs
}

// EnsureTopics creates the topics in specs that do not exist yet and
// returns the names it created. An existing topic is left as it is. It
// returns once every broker's metadata shows the created topics whole, so
// that what follows (a produce, a listing from another client) sees them.
func EnsureTopics(ctx context.Context, cl *kgo.Client, specs []TopicSpec) ([]string, error) {
	adm := kadm.NewClient(cl)
	var created []string
	var errs []error
	for _, s := range specs {
		resp, err := adm.CreateTopics(ctx, s.Partitions, s.ReplicationFactor, s.Configs, s.Name)
		if err != nil {
			return created, fmt.Errorf("create topic %s: %w", s.Name, err)
		}
		r, err := resp.On(s.Name, nil)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("create topic %s: %w", s.Name, err))
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
		case r.Err != nil:
			errs = append(errs, topicError("create topic "+s.Name, r.Err, r.ErrMessage, "CREATE", s.Name))
		default:
			created = append(created, s.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return created, err
	}
	return created, waitVisible(ctx, cl, created, 0)
}

// topicError is a topic's error in an admin response, what the op was
// doing: a refusal for want of an ACL names the operation, else the
// broker's message is added.
func topicError(what string, err error, message, operation, topic string) error {
	if IsDenied(err) {
		return fmt.Errorf("%s: %w", what, Denied(err, "", operation, "topic "+topic))
	}
	msg := err.Error()
	if message != "" {
		msg += ": " + message
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// waitVisible waits, for at most fifteen seconds, until every broker's
// metadata has a leader for every partition of the named topics, and at
// least want partitions of each (0: any number). Brokers
// learn of new topics asynchronously, so asking one is not enough: a
// listing that follows could be answered by another.
func waitVisible(ctx context.Context, cl *kgo.Client, topics []string, want int) error {
	if len(topics) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		ready, err := visibleEverywhere(ctx, cl, topics, want)
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("topics %s created but not yet visible on every broker: %w", strings.Join(topics, ", "), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func visibleEverywhere(ctx context.Context, cl *kgo.Client, topics []string, want int) (bool, error) {
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return false, err
	}
	for _, b := range md.Brokers {
		req := kmsg.NewPtrMetadataRequest()
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl.Broker(int(b.NodeID)))
		if err != nil {
			return false, err
		}
		if len(resp.Topics) != len(topics) {
			return false, nil
		}
		for _, t := range resp.Topics {
			if t.ErrorCode != 0 || len(t.Partitions) == 0 {
				return false, kerr.ErrorForCode(t.ErrorCode)
			}
			if len(t.Partitions) < want {
				return false, nil
			}
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.Leader < 0 {
					return false, kerr.ErrorForCode(p.ErrorCode)
				}
			}
		}
	}
	return true, nil
}

// TopicInfo describes one topic.
type TopicInfo struct {
	Name              string
	Partitions        []PartitionInfo
	ReplicationFactor int
	// Configs holds the topic's non-default configuration that matters
	// here: cleanup.policy, retention.ms, min.insync.replicas.
	Configs map[string]string
}

// PartitionInfo describes one partition's replicas.
type PartitionInfo struct {
	Partition int32
	Leader    int32
	Replicas  []int32
	ISR       []int32
}

// UnderReplicated reports whether the partition's ISR is short of its
// replicas.
func (p PartitionInfo) UnderReplicated() bool { return len(p.ISR) < len(p.Replicas) }

var describedConfigs = []string{"cleanup.policy", "retention.ms", "min.insync.replicas"}

// Describe returns the details of the named topics, or of every
// non-internal topic starting with prefix when names is empty. Topics are
// sorted by name.
func Describe(ctx context.Context, adm *kadm.Client, prefix string, names ...string) ([]TopicInfo, error) {
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var infos []TopicInfo
	var errs []error
	var found []string
	for _, d := range details.Sorted() {
		if d.IsInternal || (len(names) == 0 && !strings.HasPrefix(d.Topic, prefix)) {
			continue
		}
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", d.Topic, d.Err))
			continue
		}
		info := TopicInfo{Name: d.Topic, Configs: map[string]string{}}
		for _, p := range d.Partitions.Sorted() {
			info.Partitions = append(info.Partitions, PartitionInfo{
				Partition: p.Partition, Leader: p.Leader,
				Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR),
			})
			info.ReplicationFactor = max(info.ReplicationFactor, len(p.Replicas))
		}
		infos = append(infos, info)
		found = append(found, d.Topic)
	}
	if len(found) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, found...)
		if err != nil {
			return infos, fmt.Errorf("describe topic configs: %w", err)
		}
		for _, rc := range rcs {
			i := slices.IndexFunc(infos, func(t TopicInfo) bool { return t.Name == rc.Name })
			if i < 0 || rc.Err != nil {
				continue
			}
			for _, c := range rc.Configs {
				if slices.Contains(describedConfigs, c.Key) && c.Value != nil {
					infos[i].Configs[c.Key] = *c.Value
				}
			}
		}
	}
	return infos, errors.Join(errs...)
}
