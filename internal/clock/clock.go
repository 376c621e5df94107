// Package clock holds what the services share about waiting on time.
// Clocks themselves are injected as func() time.Time (time.Now in
// production), so tests can fix or shift them.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends, whichever is first, and returns
// ctx's error in the second case. A d of zero or less returns at once
// (nil unless ctx has already ended).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
