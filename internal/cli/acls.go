package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/kafka"
)

func (r *root) aclsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acls",
		Short: "Write and list the Kafka ACLs of tradestream's services",
		Long: `Give each tradestream service its own Kafka principal with only the rights it
uses, through the admin API (run as a principal allowed to alter ACLs, e.g. a
super user). The ACLs name the topics under --topic-prefix literally, the
sink's and the alerts engine's groups, and the engine's transactional ids
(prefix GROUP/):

  generator   WRITE, DESCRIBE  topics users, prices, trades (idempotent producer)
  sink        READ, DESCRIBE   topics users, prices, trades, alerts; READ group <sink group>
              WRITE, DESCRIBE  topic deadletter
  alerts      READ, DESCRIBE   topics prices, trades; READ group <alerts group>
              WRITE, READ, DESCRIBE topic alerts; WRITE, DESCRIBE transactional ids <alerts group>/
  dashboard   READ, DESCRIBE   every topic; DESCRIBE the two groups (lag), joins none
  status      the same as the dashboard (status and verify)`,
	}
	group(cmd)
	var prune bool
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Create the services' ACLs (idempotent) and print them",
		Long: `Create the services' ACLs (idempotent) and print them. With --prune, also
delete every other ALLOW ACL of the five principals (a renamed group or topic
prefix, an earlier release's, one added by hand), so that each holds only what
it needs, and print those too. DENY ACLs and other principals' ACLs are kept.
Give each deployment on a cluster principals of its own before pruning: the
ACLs of another topic prefix under the same principals are removed as well.`,
		Example: `  tradestream acls apply --kafka-sasl-mechanism SCRAM-SHA-512 --kafka-sasl-user admin
  tradestream acls apply --prune --sink-group sink-v2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := r.validate(r.cfg.Principals); err != nil {
				return err
			}
			adm, done, err := r.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			grants := kafka.ServiceGrants(r.cfg)
			if err := kafka.ApplyACLs(cmd.Context(), adm, grants); err != nil {
				return err
			}
			if err := kafka.WriteACLs(r.io.Stdout, kafka.Expand(grants)); err != nil || !prune {
				return err
			}
			have, err := kafka.ListACLs(cmd.Context(), adm)
			if err != nil {
				return kafka.Denied(err, kafka.Principal(r.cfg.Kafka), "DESCRIBE", "cluster acls")
			}
			extra := kafka.Extra(have, grants)
			if len(extra) == 0 {
				fmt.Fprintln(r.io.Stderr, "no ACLs beyond the services' rights")
				return nil
			}
			if err := kafka.DeleteACLs(cmd.Context(), adm, extra); err != nil {
				return err
			}
			fmt.Fprintf(r.io.Stdout, "\nremoved %d ACLs beyond the services' rights:\n", len(extra))
			return kafka.WriteACLs(r.io.Stdout, extra)
		},
	}
	apply.Flags().BoolVar(&prune, "prune", false, "also delete the other ALLOW ACLs of these principals (DENY ACLs and other principals' are kept)")
	r.cfg.BindACLs(apply.Flags())
	list := &cobra.Command{
		Use:     "list",
		Short:   "Print every ACL the cluster holds",
		Example: "  tradestream acls list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, done, err := r.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			acls, err := kafka.ListACLs(cmd.Context(), adm)
			if err != nil {
				return kafka.Denied(err, kafka.Principal(r.cfg.Kafka), "DESCRIBE", "cluster acls")
			}
			if len(acls) == 0 {
				fmt.Fprintln(r.io.Stderr, "no ACLs")
				return nil
			}
			return kafka.WriteACLs(r.io.Stdout, acls)
		},
	}
	cmd.AddCommand(apply, list)
	return cmd
}
