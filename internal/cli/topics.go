package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
)

func (r *root) topicsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create, list, describe, grow, export and import tradestream's Kafka topics",
		Long: `Manage tradestream's topics through the Kafka admin API. The topics are
<prefix>users (compacted), <prefix>prices, <prefix>trades, <prefix>alerts and
<prefix>deadletter, with the partitions, replication factor and retention of
the --topic-* settings.`,
	}
	group(cmd)
	cmd.AddCommand(
		&cobra.Command{
			Use:     "create",
			Short:   "Create the topics that do not exist yet",
			Example: "  tradestream topics create --topic-partitions 12 --topic-replication-factor 3",
			Args:    cobra.NoArgs,
			RunE:    r.topicsCreate,
		},
		&cobra.Command{
			Use:     "list",
			Short:   "List the topics under the prefix",
			Example: "  tradestream topics list",
			Args:    cobra.NoArgs,
			RunE:    r.topicsList,
		},
		&cobra.Command{
			Use:     "describe [topic...]",
			Short:   "Show partitions, leaders, replicas and in-sync replicas",
			Example: "  tradestream topics describe\n  tradestream topics describe tradestream.trades",
			RunE:    r.topicsDescribe,
		},
	)
	cmd.AddCommand(r.topicsDataCommands()...)
	return cmd
}

// admin validates the configuration and connects an admin client.
func (r *root) admin(ctx context.Context) (*kadm.Client, func(), error) {
	cl, err := r.kafkaClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// kafkaClient validates the configuration and connects a plain client.
func (r *root) kafkaClient(ctx context.Context) (*kgo.Client, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return kafka.NewClient(ctx, r.cfg.Kafka, r.log)
}

func (r *root) topicsCreate(cmd *cobra.Command, _ []string) error {
	cl, err := r.kafkaClient(cmd.Context())
	if err != nil {
		return err
	}
	defer cl.Close()
	created, err := kafka.EnsureTopics(cmd.Context(), cl, kafka.Specs(r.cfg.Topics))
	for _, name := range created {
		fmt.Fprintf(r.io.Stdout, "created %s (partitions %d, replication factor %d)\n",
			name, r.cfg.Topics.Partitions, r.cfg.Topics.ReplicationFactor)
	}
	if err != nil {
		return err
	}
	if len(created) == 0 {
		fmt.Fprintln(r.io.Stdout, "all topics exist")
	}
	return nil
}

func (r *root) topicsList(cmd *cobra.Command, _ []string) error {
	adm, done, err := r.admin(cmd.Context())
	if err != nil {
		return err
	}
	defer done()
	infos, err := kafka.Describe(cmd.Context(), adm, r.cfg.Topics.Prefix)
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		fmt.Fprintf(r.io.Stdout, "no topics with prefix %q; `tradestream topics create` makes them\n", r.cfg.Topics.Prefix)
		return nil
	}
	w := tabwriter.NewWriter(r.io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION\tCLEANUP\tRETENTION")
	for _, t := range infos {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", t.Name, len(t.Partitions), t.ReplicationFactor,
			orDash(t.Configs["cleanup.policy"]), retention(t.Configs["retention.ms"]))
	}
	return w.Flush()
}

func (r *root) topicsDescribe(cmd *cobra.Command, args []string) error {
	adm, done, err := r.admin(cmd.Context())
	if err != nil {
		return err
	}
	defer done()
	infos, err := kafka.Describe(cmd.Context(), adm, r.cfg.Topics.Prefix, args...)
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		fmt.Fprintf(r.io.Stdout, "no topics with prefix %q; `tradestream topics create` makes them\n", r.cfg.Topics.Prefix)
		return nil
	}
	for i, t := range infos {
		if i > 0 {
			fmt.Fprintln(r.io.Stdout)
		}
		fmt.Fprintf(r.io.Stdout, "%s  partitions=%d replication=%d cleanup=%s retention=%s min.insync.replicas=%s\n",
			t.Name, len(t.Partitions), t.ReplicationFactor, orDash(t.Configs["cleanup.policy"]),
			retention(t.Configs["retention.ms"]), orDash(t.Configs["min.insync.replicas"]))
		w := tabwriter.NewWriter(r.io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  PARTITION\tLEADER\tREPLICAS\tISR\tSTATE")
		for _, p := range t.Partitions {
			state := "ok"
			if p.Leader < 0 {
				state = "OFFLINE"
			} else if p.UnderReplicated() {
				state = "UNDER-REPLICATED"
			}
			fmt.Fprintf(w, "  %d\t%d\t%s\t%s\t%s\n", p.Partition, p.Leader, ints(p.Replicas), ints(p.ISR), state)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func ints(v []int32) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(int(n))
	}
	return "[" + strings.Join(s, ",") + "]"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func retention(ms string) string {
	n, err := strconv.ParseInt(ms, 10, 64)
	switch {
	case ms == "":
		return "-"
	case err != nil:
		return ms
	case n < 0:
		return "forever"
	default:
		return (time.Duration(n) * time.Millisecond).String()
	}
}
