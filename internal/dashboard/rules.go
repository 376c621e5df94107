package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Rule is an alert rule as the dashboard shows and edits it (the
// alert_rules table).
type Rule struct {
	ID int64 `json:"id"`
	RuleSpec
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
}

// RuleSpec is a rule to create.
type RuleSpec struct {
	// Kind names the condition: price_above, price_below, pct_move,
	// volume_spike or big_trade; the RuleStore has the last word on which
	// kinds exist.
	Kind string `json:"kind"`
	// Symbol is the symbol watched; empty watches every symbol (not
	// allowed for price levels).
	Symbol string `json:"symbol,omitempty"`
	// Threshold is the condition's value: a price, a percentage, a volume
	// multiple or a notional, by kind.
	Threshold event.Decimal `json:"threshold"`
	// Window is the look-back of pct_move and volume_spike ("5m").
	Window string `json:"window,omitempty"`
	// Cooldown is the least time between two alerts of the rule and one
	// symbol ("1m").
	Cooldown string `json:"cooldown,omitempty"`
	// Note is free text shown with the rule.
	Note string `json:"note,omitempty"`
}

// Errors a RuleStore returns for the API to map to status codes; wrap
// them with %w to add detail.
var (
	// ErrInvalidRule rejects a rule the store cannot evaluate (400).
	ErrInvalidRule = errors.New("invalid rule")
	// ErrRuleNotFound says no rule has the id (404).
	ErrRuleNotFound = errors.New("rule not found")
)

// RuleStore is what the dashboard needs from the alert engine's storage.
// Implementations are safe for concurrent use; ctx bounds each call.
type RuleStore interface {
	// Rules returns every rule, oldest first.
	Rules(ctx context.Context) ([]Rule, error)
	// AddRule validates and stores spec and returns the stored rule; a spec
	// the engine cannot evaluate is an error wrapping ErrInvalidRule.
	AddRule(ctx context.Context, spec RuleSpec) (Rule, error)
	// RemoveRule deletes the rule with id, or returns an error wrapping
	// ErrRuleNotFound.
	RemoveRule(ctx context.Context, id int64) error
	// RecentAlerts returns up to limit of the newest fired alerts, newest
	// first.
	RecentAlerts(ctx context.Context, limit int) ([]AlertView, error)
}

var (
	kindPattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	windowPattern = regexp.MustCompile(`^[0-9]{1,4}(s|m|h)$`)
)

// validate checks the parts of spec the dashboard can judge on its own.
func (s *RuleSpec) validate() error {
	var errs []error
	if s.Symbol != "" {
		sym, ok := event.NormalizeSymbol(s.Symbol)
		if !ok {
			errs = append(errs, fmt.Errorf("symbol %q: want 1 to 10 letters, digits or dots, starting with a letter", s.Symbol))
		}
		s.Symbol = sym
	}
	if !kindPattern.MatchString(s.Kind) {
		errs = append(errs, fmt.Errorf("kind %q: want a lower-case name such as price_above", s.Kind))
	}
	if s.Threshold <= 0 || s.Threshold > event.MaxMoney {
		errs = append(errs, errors.New("threshold: must be positive and at most 1000000000000"))
	}
	for _, d := range []struct{ name, v string }{{"window", s.Window}, {"cooldown", s.Cooldown}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if !windowPattern.MatchString(d.v) || err != nil || v <= 0 || v > 24*time.Hour {
			errs = append(errs, fmt.Errorf("%s %q: want a duration such as 30s, 5m or 1h, at most 24h", d.name, d.v))
		}
	}
	if len(s.Note) > 200 {
		errs = append(errs, errors.New("note: at most 200 bytes"))
	}
	return errors.Join(errs...)
}

const alertsEngineDown = "alerts engine not running: no rule store is configured for this dashboard"

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 50, 1, 500)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.opts.Rules == nil {
		writeError(w, http.StatusServiceUnavailable, alertsEngineDown)
		return
	}
	alerts, err := s.opts.Rules.RecentAlerts(r.Context(), limit)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": nonNil(alerts)})
}

func (s *Server) handleRules(w http.ResponseWriter, r *http.Request) {
	if s.opts.Rules == nil {
		writeError(w, http.StatusServiceUnavailable, alertsEngineDown)
		return
	}
	rules, err := s.opts.Rules.Rules(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": nonNil(rules)})
}

func (s *Server) handleAddRule(w http.ResponseWriter, r *http.Request) {
	var spec RuleSpec
	if !readJSON(w, r, &spec) {
		return
	}
	if err := spec.validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.opts.Rules == nil {
		writeError(w, http.StatusServiceUnavailable, alertsEngineDown)
		return
	}
	rule, err := s.opts.Rules.AddRule(r.Context(), spec)
	switch {
	case errors.Is(err, ErrInvalidRule):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		s.serverError(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, rule)
	}
}

func (s *Server) handleRemoveRule(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "rule id: want a positive integer")
		return
	}
	if s.opts.Rules == nil {
		writeError(w, http.StatusServiceUnavailable, alertsEngineDown)
		return
	}
	err = s.opts.Rules.RemoveRule(r.Context(), id)
	switch {
	case errors.Is(err, ErrRuleNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		s.serverError(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// readJSON decodes one JSON object of at most maxBody bytes, rejecting
// unknown fields and trailing data, and answers the error itself.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !jsonContentType(ct) {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type: application/json")
		return false
	}
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "malformed JSON body: trailing data")
		return false
	}
	return true
}

func jsonContentType(ct string) bool {
	return ct == "application/json" || len(ct) > 16 && ct[:17] == "application/json;"
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
