package market

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"
)

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// BuiltinScenarios returns the names of the built-in scenarios, sorted.
func BuiltinScenarios() []string {
	entries, _ := builtinFS.ReadDir("scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// BuiltinScenario returns the built-in scenario called name; an unknown
// name is an error listing the built-ins.
func BuiltinScenario(name string) (*Scenario, error) {
	data, err := builtinFS.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("unknown scenario %q; built-in scenarios: %s", name, strings.Join(BuiltinScenarios(), ", "))
	}
	return ParseScenario(data, name)
}
