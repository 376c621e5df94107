package app

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
)

// until returns a service that records its stop and ends with err when
// ctx ends, or at once with err when early.
func until(name string, err error, early, essential bool, stopped *[]string) Service {
	return Service{Name: name, Essential: essential, Run: func(ctx context.Context) error {
		if !early {
			<-ctx.Done()
		}
		*stopped = append(*stopped, name)
		return err
	}}
}

func TestRunStopsInReverseOrder(t *testing.T) {
	boom := errors.New("boom")
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name     string
		last     func(*[]string) Service
		ctxEnds  bool
		wantErr  error
		wantStop []string
	}{
		{"an essential service that ends stops the others", func(s *[]string) Service { return until("main", nil, true, true, s) },
			false, nil, []string{"main", "b", "a"}},
		{"a failing service stops the others", func(s *[]string) Service { return until("main", boom, true, false, s) },
			false, boom, []string{"main", "b", "a"}},
		{"a service that ends cleanly leaves the others running", func(s *[]string) Service { return until("main", nil, true, false, s) },
			true, nil, []string{"main", "b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stopped []string
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			main := tt.last(&stopped)
			if tt.ctxEnds {
				// Only the context's end stops a, b: end it once main has.
				run := main.Run
				main.Run = func(c context.Context) error { err := run(c); cancel(); return err }
			}
			// a and b run one after the other's stop (Run waits for each),
			// so appending without a lock is safe once main has returned.
			err := Run(ctx, log, []Service{until("a", nil, false, false, &stopped), until("b", nil, false, false, &stopped), main})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
			if len(stopped) != 3 || stopped[1] != "b" || stopped[2] != "a" {
				t.Errorf("got stop order %v, want %v", stopped, tt.wantStop)
			}
		})
	}
}

// TestRunCallsStoppedBetweenStops checks that a service's Stopped runs
// after it stopped and before the services started before it are stopped,
// and only in a shutdown asked for: not in one a failure forced.
func TestRunCallsStoppedBetweenStops(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, asked := range []bool{true, false} {
		var events []string
		ctx, cancel := context.WithCancel(context.Background())
		a := until("a", nil, false, false, &events)
		b := until("b", nil, false, false, &events)
		b.Stopped = func() { events = append(events, "b stopped") }
		var last Service
		if asked {
			last = until("c", nil, false, false, &events)
			go cancel()
		} else {
			last = until("c", errors.New("boom"), true, false, &events)
		}
		last.Stopped = func() { events = append(events, "c stopped") }
		_ = Run(ctx, log, []Service{a, b, last})
		cancel()
		want := []string{"c", "c stopped", "b", "b stopped", "a"}
		if !asked {
			want = []string{"c", "b", "a"}
		}
		if !slices.Equal(events, want) {
			t.Errorf("asked %v: got %v, want %v", asked, events, want)
		}
	}
}
