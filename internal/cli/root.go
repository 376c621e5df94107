// Package cli is tradestream's command line: one file per subcommand, each
// turning flags and configuration into the service it runs. Output goes
// through the injected writers; only package main exits.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
)

// Exit codes returned by Run.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // bad flags or configuration; nothing was started
)

// IO is what a command reads from and writes to, injected for tests.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv in production).
	Getenv func(string) string
	// LookupEnv reads the environment telling an empty variable from an
	// unset one (os.LookupEnv in production); nil falls back on Getenv,
	// taking an empty variable as unset.
	LookupEnv func(string) (string, bool)
	// Now is the clock (time.Now in production).
	Now func() time.Time
	// IsTerminal reports whether Stdout is an interactive terminal.
	IsTerminal bool
}

// OSIO returns the process's standard streams and environment.
func OSIO() IO {
	return IO{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, LookupEnv: os.LookupEnv, Now: time.Now, IsTerminal: isTerminal(os.Stdout),
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// usageError marks an error as the user's input being wrong (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// invalid wraps configuration problems into one error listing them, a
// usage error (exit 2).
func invalid(err error) error { return app.Invalid(err) }

// root holds what every command shares once flags are parsed.
type root struct {
	io         IO
	cfg        config.Config
	configFile string
	log        *slog.Logger
}

// Run executes the command line args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, io IO) int {
	stderr := &untilReturn{w: io.Stderr}
	defer stderr.end()
	io.Stderr = stderr
	r := &root{io: io, cfg: config.Default()}
	cmd := r.command()
	cmd.SetArgs(args)
	cmd.SetIn(io.Stdin)
	cmd.SetOut(io.Stdout)
	cmd.SetErr(io.Stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	// A refusal for want of an ACL names the principal the brokers saw.
	fmt.Fprintf(io.Stderr, "tradestream: %s\n", kafka.Message(err, r.cfg.Kafka))
	var ue usageError
	var ce app.ConfigError
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return ExitUsage
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return ExitOK // interrupted: a clean stop
	}
	return ExitFailure
}

// untilReturn passes writes on to w until Run returns and drops them
// after: a Kafka client's goroutines can log a last line in the moment
// after the client was closed, and once Run has returned the caller owns
// its writer again.
type untilReturn struct {
	mu    sync.Mutex
	w     io.Writer
	ended bool
}

func (u *untilReturn) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ended {
		return len(p), nil
	}
	return u.w.Write(p)
}

func (u *untilReturn) end() {
	u.mu.Lock()
	u.ended = true
	u.mu.Unlock()
}

func (r *root) command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tradestream",
		Short: "Real-time synthetic trading data through Kafka into PostgreSQL",
		Long: `tradestream generates realistic synthetic trading data (users and accounts,
prices, trades), streams it through Apache Kafka, loads it into PostgreSQL,
evaluates price alerts on the stream and shows it all live in a dashboard.

Configuration comes from flags, then TRADESTREAM_* environment variables,
then the YAML file given by --config, then the defaults shown here.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return r.load(cmd)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.PersistentFlags().StringVar(&r.configFile, "config", "", "YAML configuration file [$TRADESTREAM_CONFIG]")
	r.cfg.BindGlobal(cmd.PersistentFlags())
	cmd.AddCommand(
		r.upCommand(),
		r.genCommand(),
		r.dashCommand(),
		r.sinkCommand(),
		r.alertsCommand(),
		r.statusCommand(),
		r.verifyCommand(),
		r.topicsCommand(),
		r.aclsCommand(),
		r.dbCommand(),
		r.deadLettersCommand(),
		r.benchCommand(),
		r.versionCommand(),
	)
	return cmd
}

// load applies the config file and environment under the parsed flags and
// builds the logger. Validation is each command's first step, so that it
// covers the sections the command uses, all reported together.
func (r *root) load(cmd *cobra.Command) error {
	file := r.configFile
	if file == "" {
		file = r.io.Getenv("TRADESTREAM_CONFIG")
	}
	fs := cmd.Flags() // local and inherited persistent flags
	r.defaultMetricsAddr(cmd)
	if err := config.LoadLookup(&r.cfg, fs, file, r.lookupEnv); err != nil {
		return invalid(err)
	}
	r.log = newLogger(r.io.Stderr, r.cfg.Log)
	return nil
}

func (r *root) lookupEnv(name string) (string, bool) {
	if r.io.LookupEnv != nil {
		return r.io.LookupEnv(name)
	}
	v := r.io.Getenv(name)
	return v, v != ""
}

// env is what the services of internal/app are assembled from.
func (r *root) env() *app.Env {
	return &app.Env{
		Config: r.cfg, Log: r.log, Stdout: r.io.Stdout, Stderr: r.io.Stderr,
		Terminal: r.io.IsTerminal, Now: r.io.Now,
	}
}

// validate checks the shared configuration plus the given sections and
// reports every problem at once.
func (r *root) validate(sections ...interface{ Validate() error }) error {
	return r.env().Validate(sections...)
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// group makes cmd a command that only holds subcommands: run bare it shows
// its help, run with an unknown subcommand it is a usage error (cobra would
// otherwise print the help and exit 0).
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			var names []string
			for _, sub := range c.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return usageError{fmt.Errorf("%s: unknown command %q; want one of %s", c.CommandPath(), args[0], strings.Join(names, ", "))}
		}
		return c.Help()
	}
	return cmd
}

// printJSON writes v to standard output as indented JSON, the --json form
// of every command that has one.
func (r *root) printJSON(v any) error {
	enc := json.NewEncoder(r.io.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
