package cli

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/tradestream/tradestream/internal/config"
)

// envNames returns every environment variable any command reads.
func envNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{"TRADESTREAM_CONFIG": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if env := config.EnvName(f); env != "" {
					names[env] = true
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	r := &root{cfg: config.Default()}
	walk(r.command())
	return names
}

// TestReadmeDocumentsEveryVariable keeps the README's configuration
// section true: every environment variable a command reads is named there.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for env := range envNames(t) {
		// Variables sharing a row are written as VAR_CERT / _KEY.
		short := env[strings.LastIndex(env, "_"):]
		if !strings.Contains(string(readme), env) && !strings.Contains(string(readme), "/ `"+short+"`") {
			missing = append(missing, env)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README.md does not document: %s", strings.Join(missing, ", "))
	}
}

// composeFile is what the tests read of a docker-compose file.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
}

// composeFiles lists deploy/docker-compose*.yml.
func composeFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "docker-compose*.yml"))
	if len(files) == 0 {
		t.Fatal("no deploy/docker-compose*.yml")
	}
	return files
}

// readCompose parses one compose file.
func readCompose(t *testing.T, f string) composeFile {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc composeFile
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return doc
}

// TestComposeFilesPassKnownSettings checks what can be checked of the Docker
// files here: the YAML parses and every TRADESTREAM_* variable it sets is
// one tradestream reads.
func TestComposeFilesPassKnownSettings(t *testing.T) {
	known := envNames(t)
	for _, f := range composeFiles(t) {
		doc := readCompose(t, f)
		ts, ok := doc.Services["tradestream"]
		if !ok {
			t.Fatalf("%s: no tradestream service", f)
		}
		for k := range ts.Environment {
			if strings.HasPrefix(k, config.EnvPrefix) && !known[k] {
				t.Errorf("%s: tradestream reads no variable %s", f, k)
			}
		}
		// The configuration the file passes is valid as tradestream sees it.
		c := config.Default()
		fs := pflag.NewFlagSet("compose", pflag.ContinueOnError)
		c.BindGlobal(fs)
		c.Dashboard.Bind(fs)
		if err := config.Load(&c, fs, "", func(k string) string { return ts.Environment[k] }); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if err := c.Validate(); err != nil {
			t.Errorf("%s: invalid configuration: %v", f, err)
		}
		// Inside a container the dashboard must listen beyond loopback, and
		// the host reaches it through a published port.
		if !strings.HasPrefix(c.Dashboard.Addr, "0.0.0.0:") {
			t.Errorf("%s: dashboard listens on %s, unreachable from the host", f, c.Dashboard.Addr)
		} else if port := strings.TrimPrefix(c.Dashboard.Addr, "0.0.0.0:"); !slices.Contains(ts.Ports, "127.0.0.1:"+port+":"+port) {
			t.Errorf("%s: dashboard port %s is not published on 127.0.0.1", f, port)
		}
		for _, k := range []string{"TRADESTREAM_DATABASE_URL", "TRADESTREAM_DATABASE_READ_URL"} {
			v, set := ts.Environment[k]
			if !set {
				continue
			}
			u, err := url.Parse(v)
			if err != nil {
				t.Errorf("%s: %s: %v", f, k, err)
			} else if _, ok := doc.Services[u.Hostname()]; !ok {
				t.Errorf("%s: %s names host %s, which is not a service of the file", f, k, u.Hostname())
			}
		}
		if b := ts.Environment["TRADESTREAM_KAFKA_BROKERS"]; b == "" {
			t.Errorf("%s: tradestream has no TRADESTREAM_KAFKA_BROKERS", f)
		} else {
			for _, broker := range strings.Split(b, ",") {
				host := strings.Split(broker, ":")[0]
				if _, ok := doc.Services[host]; !ok {
					t.Errorf("%s: broker %s is not a service of the file", f, broker)
				}
			}
		}
	}
}

// TestComposeFilesRunTheSchemaRegistry checks the schema registry of the
// Docker files: Apicurio Registry of the version scripts/stack runs, with the
// stack's settings (in-memory storage, global compatibility BACKWARD), its API
// published on loopback only, and every service that reads tradestream's
// variables pointed at its Confluent-compatible API inside the network.
func TestComposeFilesRunTheSchemaRegistry(t *testing.T) {
	stack, err := os.ReadFile(filepath.Join("..", "..", "scripts", "stack"))
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(string(stack), "\n") {
		if v, ok := strings.CutPrefix(line, "REGISTRY_VERSION="); ok {
			version = strings.TrimSpace(v)
		}
	}
	if version == "" {
		t.Fatal("scripts/stack sets no REGISTRY_VERSION")
	}
	for _, f := range composeFiles(t) {
		doc := readCompose(t, f)
		reg, ok := doc.Services["registry"]
		if !ok {
			t.Errorf("%s: no registry service", f)
			continue
		}
		if want := "apicurio/apicurio-registry:" + version; reg.Image != want {
			t.Errorf("%s: registry image %q, want %q (the version scripts/stack runs)", f, reg.Image, want)
		}
		for k, want := range map[string]string{
			"APICURIO_STORAGE_KIND":               "sql",
			"APICURIO_STORAGE_SQL_KIND":           "h2",
			"APICURIO_RULES_GLOBAL_COMPATIBILITY": "BACKWARD",
		} {
			if got := reg.Environment[k]; got != want {
				t.Errorf("%s: registry %s=%q, want %q", f, k, got, want)
			}
		}
		for _, p := range reg.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: registry port %s is published beyond loopback", f, p)
			}
		}
		services := 0
		for name, svc := range doc.Services {
			reads := false
			for k := range svc.Environment {
				reads = reads || strings.HasPrefix(k, config.EnvPrefix)
			}
			if !reads {
				continue
			}
			services++
			const want = "http://registry:8080/apis/ccompat/v7"
			if got := svc.Environment["TRADESTREAM_SCHEMA_REGISTRY_URL"]; got != want {
				t.Errorf("%s: service %s: TRADESTREAM_SCHEMA_REGISTRY_URL=%q, want %q", f, name, got, want)
			}
		}
		if services == 0 {
			t.Errorf("%s: no service sets tradestream's variables", f)
		}
	}
}

// TestReadmeNamesEveryCommand keeps the README's Commands section true:
// every command (down to db rollups verify) is named in a code span of it,
// `tradestream db rollups rebuild\|verify` naming both alternatives, and
// `gen replay FILE` as well as `tradestream gen replay` (a lone word only
// with tradestream before it).
func TestReadmeNamesEveryCommand(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section, _, _ := strings.Cut(string(readme)[strings.Index(string(readme), "\n## Commands\n"):][1:], "\n## ")
	named := map[string]bool{}
	spans := strings.Split(section, "`")
	for i := 1; i < len(spans); i += 2 {
		span, full := strings.CutPrefix(spans[i], "tradestream ")
		words := strings.Fields(span)
		if !full && len(words) < 2 {
			continue // a lone word (`version`) is no command's name
		}
		paths := []string{""}
		for _, w := range words {
			var next []string
			for _, p := range paths {
				for _, alt := range strings.Split(w, `\|`) {
					next = append(next, strings.TrimSpace(p+" "+alt))
				}
			}
			paths = next
			for _, p := range paths {
				named[p] = true
			}
		}
	}
	var missing []string
	var walk func(c *cobra.Command, path string)
	walk = func(c *cobra.Command, path string) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			p := strings.TrimSpace(path + " " + sub.Name())
			if !named[p] {
				missing = append(missing, p)
			}
			walk(sub, p)
		}
	}
	walk((&root{cfg: config.Default()}).command(), "")
	if len(missing) > 0 {
		t.Errorf("README.md's Commands section does not name: %s", strings.Join(missing, ", "))
	}
}
