package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestACLsApplyPrune, on the secured cluster, under principals of the
// test's own: `acls apply` after a renamed sink group leaves the old
// group's rights in place (the sink's READ, the dashboard's and status's
// DESCRIBE), `acls apply --prune` removes those and an ALLOW added by
// hand, and keeps a DENY of the same principal and another
// principal's ALLOW; the five principals then hold exactly the services'
// rights, and pruning again removes nothing.
func TestACLsApplyPrune(t *testing.T) {
	s := secureCluster(t)
	prefix := kafkatest.Prefix(t)
	cfg := config.Default()
	cfg.Topics.Prefix = prefix
	cfg.Alerts.Group = prefix + "alerts"
	cfg.Principals = config.Principals{Gen: "User:" + prefix + "gen", Sink: "User:" + prefix + "sink", Alerts: "User:" + prefix + "alerts",
		Dashboard: "User:" + prefix + "dash", Status: "User:" + prefix + "status"}
	env := func(sinkGroup string) map[string]string {
		return with(s.scram(t, "admin"), map[string]string{
			"TRADESTREAM_TOPIC_PREFIX": prefix, "TRADESTREAM_SINK_GROUP": sinkGroup, "TRADESTREAM_ALERTS_GROUP": cfg.Alerts.Group,
			"TRADESTREAM_ACLS_GEN_PRINCIPAL": cfg.Principals.Gen, "TRADESTREAM_ACLS_SINK_PRINCIPAL": cfg.Principals.Sink,
			"TRADESTREAM_ACLS_ALERTS_PRINCIPAL": cfg.Principals.Alerts, "TRADESTREAM_ACLS_DASHBOARD_PRINCIPAL": cfg.Principals.Dashboard,
			"TRADESTREAM_ACLS_STATUS_PRINCIPAL": cfg.Principals.Status, "TRADESTREAM_LOG_LEVEL": "warn",
		})
	}
	adm := s.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	other := "User:" + prefix + "other"
	mine := func() []kafka.ACL {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		all, err := kafka.ListACLs(ctx, adm)
		if err != nil {
			t.Fatal(err)
		}
		var out []kafka.ACL
		for _, a := range all {
			if strings.HasPrefix(a.Principal, "User:"+prefix) {
				out = append(out, a)
			}
		}
		return out
	}
	t.Cleanup(func() {
		if err := kafka.DeleteACLs(context.Background(), adm, mine()); err != nil {
			t.Logf("delete the test's ACLs: %v", err)
		}
	})

	if code, out, stderr := run(t, env(prefix+"sink-v1"), "acls", "apply"); code != ExitOK {
		t.Fatalf("acls apply: exit %d\n%s\n%s", code, out, stderr)
	}
	create := func(b *kadm.ACLBuilder) {
		t.Helper()
		res, err := adm.CreateACLs(ctx, b)
		if err == nil {
			for _, r := range res {
				err = r.Err
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	create(kadm.NewACLs().Allow(cfg.Principals.Gen).AllowHosts("*").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral).Topics(prefix + "trades"))
	create(kadm.NewACLs().Deny(cfg.Principals.Sink).DenyHosts("*").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral).Topics(prefix + "users"))
	create(kadm.NewACLs().Allow(other).AllowHosts("*").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral).Topics(prefix + "trades"))

	// The sink's group renamed: apply adds the new group's READ only.
	cfg.Sink.Group = prefix + "sink-v2"
	code, applied, stderr := run(t, env(cfg.Sink.Group), "acls", "apply")
	if code != ExitOK {
		t.Fatalf("acls apply, renamed group: exit %d\n%s\n%s", code, applied, stderr)
	}
	has := func(acls []kafka.ACL, principal string, op kadm.ACLOperation, typ kmsg.ACLResourceType, name string, perm kmsg.ACLPermissionType) bool {
		return slices.ContainsFunc(acls, func(a kafka.ACL) bool {
			return a.Principal == principal && a.Operation == op && a.Type == typ && a.Name == name && a.Permission == perm
		})
	}
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	if !has(mine(), cfg.Principals.Sink, kadm.OpRead, kmsg.ACLResourceTypeGroup, prefix+"sink-v1", allow) {
		t.Fatal("without --prune the old group's READ should stay; it is gone")
	}

	code, out, stderr := run(t, env(cfg.Sink.Group), "acls", "apply", "--prune")
	if code != ExitOK || !strings.HasPrefix(out, applied) || !strings.Contains(out, "removed 4 ACLs beyond the services' rights") {
		t.Fatalf("acls apply --prune: exit %d\n%s\n%s", code, out, stderr)
	}
	// What the brokers describe settles within moments of a change.
	want := kafka.Expand(kafka.ServiceGrants(cfg))
	allowedOf := func(acls []kafka.ACL) []kafka.ACL {
		var out []kafka.ACL
		for _, a := range acls {
			if a.Principal != other && a.Permission == allow {
				out = append(out, a)
			}
		}
		return out
	}
	after := mine()
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(allowedOf(after), want) && time.Now().Before(deadline); after = mine() {
		time.Sleep(200 * time.Millisecond)
	}
	for _, gone := range []struct {
		principal, name string
		typ             kmsg.ACLResourceType
		op              kadm.ACLOperation
	}{
		{cfg.Principals.Sink, prefix + "sink-v1", kmsg.ACLResourceTypeGroup, kadm.OpRead},
		{cfg.Principals.Dashboard, prefix + "sink-v1", kmsg.ACLResourceTypeGroup, kadm.OpDescribe},
		{cfg.Principals.Status, prefix + "sink-v1", kmsg.ACLResourceTypeGroup, kadm.OpDescribe},
		{cfg.Principals.Gen, prefix + "trades", kmsg.ACLResourceTypeTopic, kadm.OpRead},
	} {
		if has(after, gone.principal, gone.op, gone.typ, gone.name, allow) {
			t.Errorf("%s %s %s: still allowed after --prune", gone.principal, gone.op, gone.name)
		}
		if !strings.Contains(out, gone.name) {
			t.Errorf("the output does not list the removed ACL on %s:\n%s", gone.name, out)
		}
	}
	if !has(after, cfg.Principals.Sink, kadm.OpWrite, kmsg.ACLResourceTypeTopic, prefix+"users", deny) {
		t.Error("--prune removed a DENY ACL")
	}
	if !has(after, other, kadm.OpRead, kmsg.ACLResourceTypeTopic, prefix+"trades", allow) {
		t.Error("--prune removed another principal's ACL")
	}
	if allowed := allowedOf(after); !slices.Equal(allowed, want) {
		t.Errorf("after --prune the principals hold:\n%v\nwant exactly the services' rights:\n%v", allowed, want)
	}
	if code, again, stderr := run(t, env(cfg.Sink.Group), "acls", "apply", "--prune"); code != ExitOK || again != applied ||
		!strings.Contains(stderr, "no ACLs beyond the services' rights") {
		t.Errorf("acls apply --prune again: exit %d\n%s\n%s", code, again, stderr)
	}
}
