package gen

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/market"
)

// LoadScenario resolves the --scenario setting: nil for none, a built-in
// scenario by name, or a YAML file. A name that is neither a built-in nor
// a file is an error listing the built-ins.
func LoadScenario(cfg config.Gen) (*market.Scenario, error) {
	if cfg.ScenarioOff() {
		return nil, nil
	}
	spec := strings.TrimSpace(cfg.Scenario)
	if sc, err := market.BuiltinScenario(spec); err == nil {
		return sc, nil
	} else if !looksLikeFile(spec) {
		return nil, fmt.Errorf("scenario: %w, or a YAML file", err)
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w (built-in scenarios: %s)", err, strings.Join(market.BuiltinScenarios(), ", "))
	}
	name := strings.TrimSuffix(filepath.Base(spec), filepath.Ext(spec))
	sc, err := market.ParseScenario(data, name)
	if err != nil {
		return nil, fmt.Errorf("scenario file %s: %w", spec, err)
	}
	return sc, nil
}

func looksLikeFile(spec string) bool {
	if strings.ContainsAny(spec, `/\`) || strings.HasSuffix(spec, ".yaml") || strings.HasSuffix(spec, ".yml") {
		return true
	}
	_, err := os.Stat(spec)
	return err == nil
}

// WriteScenarios lists the built-in scenarios, each with what it does.
func WriteScenarios(w io.Writer) error {
	for _, name := range market.BuiltinScenarios() {
		sc, err := market.BuiltinScenario(name)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%-16s %s\n", name, wrap(sc.Description, 17, 80)); err != nil {
			return err
		}
	}
	return nil
}

// wrap folds text into lines of at most width, indenting continuation
// lines by indent spaces.
func wrap(text string, indent, width int) string {
	var b strings.Builder
	col := indent
	for i, word := range strings.Fields(text) {
		if i > 0 && col+1+len(word) > width {
			b.WriteString("\n" + strings.Repeat(" ", indent))
			col = indent
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}
