package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradestream/tradestream/internal/config"
)

// Grant allows one principal some operations on some resources of one
// type, named literally or by prefix.
type Grant struct {
	Principal  string
	Operations []kadm.ACLOperation
	Type       kmsg.ACLResourceType
	Names      []string
	Pattern    kadm.ACLPattern
}

// ACL is one allow rule as the brokers store it.
type ACL struct {
	Principal  string
	Host       string
	Permission kmsg.ACLPermissionType
	Operation  kadm.ACLOperation
	Type       kmsg.ACLResourceType
	Name       string
	Pattern    kadm.ACLPattern
}

// ServiceGrants returns the least rights of each tradestream service under
// cfg's topic prefix, groups and principals. Topics and groups are named
// literally, so that other topics under the same prefix stay out of reach;
// the alerts engine's transactional ids (GROUP/INSTANCE) by prefix.
// Idempotent producers need WRITE on their topics only (Kafka 3.0 and
// later: IDEMPOTENT_WRITE on the cluster is implied).
func ServiceGrants(cfg config.Config) []Grant {
	t := TopicNames(cfg.Topics.Prefix)
	p := cfg.Principals
	sinkGroup, alertsGroup := cfg.Sink.Group, cfg.Alerts.Group
	read := []kadm.ACLOperation{kadm.OpRead, kadm.OpDescribe}
	write := []kadm.ACLOperation{kadm.OpWrite, kadm.OpDescribe}
	topic := func(principal string, ops []kadm.ACLOperation, names ...string) Grant {
		return Grant{Principal: principal, Operations: ops, Type: kmsg.ACLResourceTypeTopic, Names: names, Pattern: kadm.ACLPatternLiteral}
	}
	group := func(principal string, op kadm.ACLOperation, names ...string) Grant {
		return Grant{Principal: principal, Operations: []kadm.ACLOperation{op}, Type: kmsg.ACLResourceTypeGroup, Names: names, Pattern: kadm.ACLPatternLiteral}
	}
	return []Grant{
		topic(p.Gen, write, t.Users, t.Prices, t.Trades),

		topic(p.Sink, read, t.Users, t.Prices, t.Trades, t.Alerts),
		group(p.Sink, kadm.OpRead, sinkGroup),
		topic(p.Sink, write, t.DeadLetter),

		topic(p.Alerts, read, t.Prices, t.Trades),
		group(p.Alerts, kadm.OpRead, alertsGroup),
		// READ too: on start the engine scans its own topic for alerts
		// already sent.
		topic(p.Alerts, []kadm.ACLOperation{kadm.OpWrite, kadm.OpRead, kadm.OpDescribe}, t.Alerts),
		{Principal: p.Alerts, Operations: write, Type: kmsg.ACLResourceTypeTransactionalId,
			Names: []string{alertsGroup + "/"}, Pattern: kadm.ACLPatternPrefixed},

		// The dashboard and status read records (lag in time) and describe
		// topics and the two groups (lag), never joining one.
		topic(p.Dashboard, read, t.All()...),
		group(p.Dashboard, kadm.OpDescribe, sinkGroup, alertsGroup),
		topic(p.Status, read, t.All()...),
		group(p.Status, kadm.OpDescribe, sinkGroup, alertsGroup),
	}
}

// Expand lists the ACLs grants stand for, in a fixed order.
func Expand(grants []Grant) []ACL {
	var acls []ACL
	for _, g := range grants {
		for _, name := range g.Names {
			for _, op := range g.Operations {
				acls = append(acls, ACL{Principal: g.Principal, Host: "*", Permission: kmsg.ACLPermissionTypeAllow,
					Operation: op, Type: g.Type, Name: name, Pattern: g.Pattern})
			}
		}
	}
	sortACLs(acls)
	return acls
}

// ApplyACLs creates the ACLs of grants through the admin API. Creating an
// ACL that exists already changes nothing, so applying twice is harmless.
func ApplyACLs(ctx context.Context, adm *kadm.Client, grants []Grant) error {
	var errs []error
	for _, g := range grants {
		b := kadm.NewACLs().Allow(g.Principal).AllowHosts("*").Operations(g.Operations...).ResourcePatternType(g.Pattern)
		if err := resources(b, g.Type, g.Names...); err != nil {
			return fmt.Errorf("create acls: %w", err)
		}
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("create acls for %s: %w", g.Principal, err)
		}
		for _, r := range res {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("create acl %s %s %s %s: %w", r.Principal, r.Operation, resourceName(r.Type), r.Name, r.Err))
			}
		}
	}
	return errors.Join(errs...)
}

// Extra returns the ALLOW ACLs in have of the grants' principals that the
// grants do not stand for: rights a service holds beyond what it needs (a
// renamed group or topic prefix, an earlier release's, one added by
// hand). DENY ACLs are never extra: they only take rights away.
func Extra(have []ACL, grants []Grant) []ACL {
	want := map[ACL]bool{}
	for _, a := range Expand(grants) {
		want[a] = true
	}
	mine := map[string]bool{}
	for _, g := range grants {
		mine[g.Principal] = true
	}
	var extra []ACL
	for _, a := range have {
		if mine[a.Principal] && a.Permission == kmsg.ACLPermissionTypeAllow && !want[a] {
			extra = append(extra, a)
		}
	}
	return extra
}

// DeleteACLs deletes exactly acls (each matched by principal, host,
// operation, resource and pattern) through the admin API.
func DeleteACLs(ctx context.Context, adm *kadm.Client, acls []ACL) error {
	var errs []error
	for _, a := range acls {
		b := kadm.NewACLs().Operations(a.Operation).ResourcePatternType(a.Pattern)
		if a.Permission == kmsg.ACLPermissionTypeDeny {
			b.Deny(a.Principal).DenyHosts(a.Host)
		} else {
			b.Allow(a.Principal).AllowHosts(a.Host)
		}
		if err := resources(b, a.Type, a.Name); err != nil {
			return fmt.Errorf("delete acls: %w", err)
		}
		res, err := adm.DeleteACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("delete acl %s %s %s %s: %w", a.Principal, a.Operation, resourceName(a.Type), a.Name, err)
		}
		for _, r := range res {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("delete acl %s %s %s %s: %w", a.Principal, a.Operation, resourceName(a.Type), a.Name, r.Err))
			}
		}
	}
	return errors.Join(errs...)
}

// resources names the resources of type typ in b.
func resources(b *kadm.ACLBuilder, typ kmsg.ACLResourceType, names ...string) error {
	switch typ {
	case kmsg.ACLResourceTypeTopic:
		b.Topics(names...)
	case kmsg.ACLResourceTypeGroup:
		b.Groups(names...)
	case kmsg.ACLResourceTypeTransactionalId:
		b.TransactionalIDs(names...)
	case kmsg.ACLResourceTypeCluster:
		b.Clusters()
	case kmsg.ACLResourceTypeDelegationToken:
		b.DelegationTokens(names...)
	default:
		return fmt.Errorf("resource type %v not supported", typ)
	}
	return nil
}

// ListACLs returns every ACL the cluster holds, in a fixed order.
func ListACLs(ctx context.Context, adm *kadm.Client) ([]ACL, error) {
	filter := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
		Operations().ResourcePatternType(kadm.ACLPatternAny)
	res, err := adm.DescribeACLs(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("describe acls: %w", err)
	}
	seen := map[ACL]bool{}
	var acls []ACL
	for _, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("describe acls: %w", r.Err)
		}
		for _, d := range r.Described {
			a := ACL{Principal: d.Principal, Host: d.Host, Permission: d.Permission, Operation: d.Operation,
				Type: d.Type, Name: d.Name, Pattern: d.Pattern}
			if !seen[a] {
				seen[a] = true
				acls = append(acls, a)
			}
		}
	}
	sortACLs(acls)
	return acls, nil
}

func sortACLs(acls []ACL) {
	slices.SortFunc(acls, func(a, b ACL) int {
		return cmp.Or(cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Operation, b.Operation), cmp.Compare(a.Permission, b.Permission))
	})
}

// WriteACLs prints acls as a table: principal, permission, operation,
// resource type, name and pattern.
func WriteACLs(w io.Writer, acls []ACL) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tPERMISSION\tOPERATION\tRESOURCE\tNAME\tPATTERN\tHOST")
	for _, a := range acls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Principal, a.Permission, a.Operation,
			resourceName(a.Type), a.Name, a.Pattern, a.Host)
	}
	return tw.Flush()
}

// resourceName is a resource type as the ACL documentation spells it.
func resourceName(t kmsg.ACLResourceType) string {
	switch t {
	case kmsg.ACLResourceTypeTransactionalId:
		return "transactional-id"
	case kmsg.ACLResourceTypeDelegationToken:
		return "delegation-token"
	default:
		return strings.ToLower(t.String())
	}
}
