package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tradestream/tradestream/internal/alert"
	"github.com/tradestream/tradestream/internal/dashboard"
)

// RuleStore is the dashboard's dashboard.RuleStore over the alerts
// engine's alert.Store: the rules API and the alerts panel of the web
// page. It is the adapter between the two services, which know nothing of
// each other.
type RuleStore struct {
	store *alert.Store
}

var _ dashboard.RuleStore = (*RuleStore)(nil)

// NewRuleStore returns the dashboard's view of store.
func NewRuleStore(store *alert.Store) *RuleStore { return &RuleStore{store: store} }

// Rules returns every rule, oldest first.
func (d *RuleStore) Rules(ctx context.Context) ([]dashboard.Rule, error) {
	rules, err := d.store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dashboard.Rule, len(rules))
	for i, r := range rules {
		out[i] = toDashboard(r)
	}
	return out, nil
}

// AddRule validates and stores spec; an invalid spec is an error wrapping
// dashboard.ErrInvalidRule.
func (d *RuleStore) AddRule(ctx context.Context, spec dashboard.RuleSpec) (dashboard.Rule, error) {
	r := alert.Rule{Kind: alert.Kind(spec.Kind), Symbol: spec.Symbol, Threshold: spec.Threshold, Note: spec.Note}
	var errs []error
	var err error
	if r.Window, err = alert.ParseWindow(spec.Window); err != nil {
		errs = append(errs, fmt.Errorf("window: %w", err))
	}
	if r.Cooldown, err = alert.ParseWindow(spec.Cooldown); err != nil {
		errs = append(errs, fmt.Errorf("cooldown: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return dashboard.Rule{}, fmt.Errorf("%w: %w", dashboard.ErrInvalidRule, err)
	}
	added, err := d.store.Add(ctx, r)
	if errors.Is(err, alert.ErrInvalidRule) {
		return dashboard.Rule{}, fmt.Errorf("%w: %w", dashboard.ErrInvalidRule, err)
	}
	if err != nil {
		return dashboard.Rule{}, err
	}
	return toDashboard(added), nil
}

// RemoveRule deletes the rule with id, or returns an error wrapping
// dashboard.ErrRuleNotFound.
func (d *RuleStore) RemoveRule(ctx context.Context, id int64) error {
	err := d.store.Remove(ctx, id)
	if errors.Is(err, alert.ErrRuleNotFound) {
		return fmt.Errorf("%w: %w", dashboard.ErrRuleNotFound, err)
	}
	return err
}

// RecentAlerts returns up to limit of the newest alerts the sink stored,
// newest first.
func (d *RuleStore) RecentAlerts(ctx context.Context, limit int) ([]dashboard.AlertView, error) {
	alerts, err := d.store.Recent(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]dashboard.AlertView, len(alerts))
	for i, a := range alerts {
		out[i] = dashboard.AlertView{ID: a.ID, RuleID: a.RuleID, Kind: a.Kind, Symbol: a.Symbol, Message: a.Message,
			Value: int64(a.Value), Time: a.Time.UnixMilli()}
	}
	return out, nil
}

func toDashboard(r alert.Rule) dashboard.Rule {
	return dashboard.Rule{
		ID: r.ID,
		RuleSpec: dashboard.RuleSpec{
			Kind: string(r.Kind), Symbol: r.Symbol, Threshold: r.Threshold,
			Window: durationText(r.Window), Cooldown: durationText(r.Cooldown), Note: r.Note,
		},
		Enabled:   r.Enabled,
		CreatedAt: r.CreatedAt,
	}
}

// durationText writes a duration as the dashboard reads it: "5m", "90s",
// "1h30m", empty for zero.
func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	// time.Duration writes 5m0s; drop the zero tails.
	for _, tail := range []string{"0s", "0m"} {
		if len(s) > len(tail) && s[len(s)-len(tail):] == tail && s != "0s" {
			trimmed := s[:len(s)-len(tail)]
			if last := trimmed[len(trimmed)-1]; last == 'm' || last == 'h' {
				s = trimmed
			}
		}
	}
	return s
}
