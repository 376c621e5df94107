package kafka

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradestream/tradestream/internal/config"
)

func TestServiceGrantsLeastRights(t *testing.T) {
	cfg := config.Default()
	cfg.Topics.Prefix = "p."
	cfg.Sink.Group, cfg.Alerts.Group = "sinkg", "alertg"
	var got []string
	for _, a := range Expand(ServiceGrants(cfg)) {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", a.Principal, a.Operation, resourceName(a.Type), a.Name, a.Pattern))
	}
	has := strings.Join(got, "\n")
	tests := []struct {
		acl  string
		want bool
	}{
		{"User:tradestream-gen WRITE topic p.prices LITERAL", true},
		{"User:tradestream-gen WRITE topic p.alerts LITERAL", false},
		{"User:tradestream-gen IDEMPOTENT_WRITE cluster kafka-cluster LITERAL", false},
		{"User:tradestream-sink READ group sinkg LITERAL", true},
		{"User:tradestream-sink WRITE topic p.deadletter LITERAL", true},
		{"User:tradestream-sink WRITE topic p.prices LITERAL", false},
		{"User:tradestream-alerts WRITE transactional-id alertg/ PREFIXED", true},
		{"User:tradestream-alerts READ group sinkg LITERAL", false},
		{"User:tradestream-dash DESCRIBE group sinkg LITERAL", true},
		{"User:tradestream-dash READ group sinkg LITERAL", false},
		{"User:tradestream-status READ topic p.users LITERAL", true},
		{"User:tradestream-status WRITE topic p.users LITERAL", false},
	}
	for _, tt := range tests {
		if got := strings.Contains(has+"\n", tt.acl+"\n"); got != tt.want {
			t.Errorf("%s: got present %v, want %v; all:\n%s", tt.acl, got, tt.want, has)
		}
	}
}

func TestDeniedMessageNamesPrincipal(t *testing.T) {
	sasl := config.Kafka{SASL: config.SASL{Mechanism: "SCRAM-SHA-512", Username: "tradestream-sink"}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unnamed, wrapped", fmt.Errorf("gen: %w", errors.Join(fmt.Errorf("produce: %w", Denied(kerr.TopicAuthorizationFailed, "", "WRITE", "topic p.prices")))),
			"gen: produce: principal User:tradestream-sink may not WRITE topic p.prices: an ACL is missing (see tradestream acls apply): TOPIC_AUTHORIZATION_FAILED"},
		{"named", Denied(kerr.GroupAuthorizationFailed, "User:x", "READ", "group g"), "principal User:x may not READ group g: an ACL is missing"},
		{"not a refusal", Denied(kerr.NotLeaderForPartition, "", "WRITE", "topic p"), "NOT_LEADER_FOR_PARTITION"},
	}
	for _, tt := range tests {
		if got := Message(tt.err, sasl); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: got %q, want it to start %q", tt.name, got, tt.want)
		}
	}
}

// TestExtraACLs: only ALLOW ACLs of the grants' own principals that the
// grants do not stand for are extra; DENY ACLs and other principals' are
// not.
func TestExtraACLs(t *testing.T) {
	cfg := config.Default()
	cfg.Topics.Prefix = "p."
	cfg.Sink.Group = "sink-v2"
	grants := ServiceGrants(cfg)
	want := Expand(grants)
	allow := func(principal string, op kadm.ACLOperation, typ kmsg.ACLResourceType, name string) ACL {
		return ACL{Principal: principal, Host: "*", Permission: kmsg.ACLPermissionTypeAllow, Operation: op, Type: typ, Name: name, Pattern: kadm.ACLPatternLiteral}
	}
	oldGroup := allow("User:tradestream-sink", kadm.OpRead, kmsg.ACLResourceTypeGroup, "sink-v1")
	byHand := allow("User:tradestream-gen", kadm.OpRead, kmsg.ACLResourceTypeTopic, "p.trades")
	oneHost := want[0]
	oneHost.Host = "10.0.0.1"
	deny := allow("User:tradestream-sink", kadm.OpWrite, kmsg.ACLResourceTypeTopic, "p.users")
	deny.Permission = kmsg.ACLPermissionTypeDeny
	other := allow("User:someone-else", kadm.OpRead, kmsg.ACLResourceTypeTopic, "p.trades")
	have := append(slices.Clone(want), oldGroup, byHand, oneHost, deny, other)
	got := Extra(have, grants)
	sortACLs(got)
	wantExtra := []ACL{oldGroup, byHand, oneHost}
	sortACLs(wantExtra)
	if !slices.Equal(got, wantExtra) {
		t.Errorf("extra:\n got  %v\n want %v", got, wantExtra)
	}
	if extra := Extra(want, grants); len(extra) != 0 {
		t.Errorf("the grants' own ACLs: got %v extra, want none", extra)
	}
}
