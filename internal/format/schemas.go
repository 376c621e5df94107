package format

import (
	"embed"
	"fmt"
)

//go:embed schemas/*.avsc schemas/*.proto schemas/*.schema.json
var schemaFiles embed.FS

// Schema returns the embedded schema of an event version (user/1,
// price/1, trade/1, trade/2, alert/1) in a registry format.
func Schema(f Format, version string) (string, error) {
	name, ok := schemaFileNames[version]
	if !ok || !f.Registered() {
		return "", fmt.Errorf("no %s schema for %s", f, version)
	}
	b, err := schemaFiles.ReadFile("schemas/" + name + f.ext())
	if err != nil {
		return "", fmt.Errorf("no %s schema for %s: %w", f, version, err)
	}
	return string(b), nil
}
