package kafka

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

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
