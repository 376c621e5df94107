package gen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/tradestream/tradestream/internal/event"
)

// Manifest is what a run with --inject sent on purpose, written as JSON at
// the end so that a consumer can be reconciled with it. Every generated
// event is a valid, distinct event (a row for the sink); the faults come
// on top: duplicates are extra copies, late and reordered records are
// events sent out of order, and the malformed, oversized and
// unknown-schema records are extra broken copies the sink dead-letters.
type Manifest struct {
	// RunID is the run_id header of every record of the run.
	RunID string `json:"run_id"`
	// Seed chose the faulty events.
	Seed uint64 `json:"seed"`
	// Rates are the --inject rates, in its syntax.
	Rates string `json:"rates"`
	// LateDelay bounds the delay of late records.
	LateDelay string `json:"late_delay"`
	// Header is the record header marking injected records; its value
	// is the fault.
	Header string `json:"header"`
	// Events is the number of generated events, and EventsByTopic the
	// same by topic.
	Events        int64            `json:"events"`
	EventsByTopic map[string]int64 `json:"events_by_topic"`
	// Records is the number of records sent, faults included.
	Records int64 `json:"records"`
	// Injected counts the faults by kind (duplicate, late, reorder,
	// malformed_json, missing_field, out_of_range, invalid_field,
	// oversized, unknown_schema), and ByTopic the same by topic.
	Injected map[string]int64            `json:"injected"`
	ByTopic  map[string]map[string]int64 `json:"injected_by_topic"`
	// DeadLetters is what a strict consumer dead-letters, by the sink's
	// reason: the malformed records by theirs, oversized ones as
	// invalid_field, unknown schemas as unknown_schema, copies of ticks
	// and trades as duplicate.
	DeadLetters map[string]int64 `json:"expected_dead_letters"`
	// Path is where the manifest was written (not part of the JSON).
	Path string `json:"-"`
}

func newManifest(runID string, in Injection) *Manifest {
	return &Manifest{
		RunID: runID, Seed: in.Seed, Rates: in.Rates.String(), LateDelay: in.Rates.Delay().String(),
		Header: event.HeaderInjected, EventsByTopic: map[string]int64{},
		Injected: map[string]int64{}, ByTopic: map[string]map[string]int64{}, DeadLetters: map[string]int64{},
	}
}

func (m *Manifest) event(topic string) {
	m.Events++
	m.EventsByTopic[topic]++
}

func (m *Manifest) injected(topic, schema, fault string) {
	m.Injected[fault]++
	t := m.ByTopic[topic]
	if t == nil {
		t = map[string]int64{}
		m.ByTopic[topic] = t
	}
	t[fault]++
	switch fault {
	case FaultDuplicate:
		// A copy of a tick or trade is a dead letter of its own; a copy
		// of a profile is absorbed by the users upsert.
		if strings.HasPrefix(schema, "price/") || strings.HasPrefix(schema, "trade/") {
			m.DeadLetters[FaultDuplicate]++
		}
	case FaultOversized:
		m.DeadLetters[FaultInvalidField]++
	case FaultMalformedJSON, FaultMissingField, FaultOutOfRange, FaultInvalidField, FaultUnknownSchema:
		m.DeadLetters[fault]++
	}
}

// ReadManifest reads a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inject manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("inject manifest %s: %w", path, err)
	}
	m.Path = path
	return &m, nil
}

// writeManifest writes the manifest and says where to report.
func (in *injector) writeManifest(report io.Writer) error {
	path := in.path
	if path == "" {
		path = "tradestream-inject-" + in.man.RunID + ".json"
	}
	data, err := json.MarshalIndent(in.man, "", "  ")
	if err != nil {
		return fmt.Errorf("inject manifest: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write inject manifest: %w", err)
	}
	in.man.Path = path
	if report != nil {
		fmt.Fprintf(report, "gen: injected %s into %d events; manifest written to %s\n", in.man.summary(), in.man.Events, path)
	}
	return nil
}

// summary lists the faults, e.g. "12 duplicate, 3 late".
func (m *Manifest) summary() string {
	kinds := make([]string, 0, len(m.Injected))
	for k := range m.Injected {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", m.Injected[k], k))
	}
	if len(parts) == 0 {
		return "no faults"
	}
	return strings.Join(parts, ", ")
}
