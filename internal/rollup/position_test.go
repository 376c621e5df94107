package rollup

import (
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

func TestPositionByAverageCost(t *testing.T) {
	d := event.MustParseDecimal
	at := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	fill := func(buy bool, qty int64, price string) Fill {
		at = at.Add(time.Second)
		return Fill{Buy: buy, Quantity: qty, Price: d(price), Fee: d("0.5"), Time: at}
	}
	tests := []struct {
		name                 string
		fills                []Fill
		qty                  int64
		cost, realised, fees string
	}{
		{"long, partly sold", []Fill{fill(true, 10, "100"), fill(true, 10, "110"), fill(false, 5, "120")}, 15, "1575", "75", "1.5"},
		// Average 100/3 a share: selling 1 of 3 removes 33.3333 (rounded).
		{"rounded removal", []Fill{fill(true, 1, "100"), fill(true, 2, "0"), fill(false, 1, "40")}, 2, "66.6667", "6.6667", "1.5"},
		{"short, covered", []Fill{fill(false, 10, "50"), fill(true, 4, "45")}, -6, "-300", "20", "1"},
		{"long flipped short", []Fill{fill(true, 5, "10"), fill(false, 8, "12")}, -3, "-36", "10", "1"},
		{"short flipped long", []Fill{fill(false, 5, "10"), fill(true, 7, "9")}, 2, "18", "5", "1"},
		{"closed flat", []Fill{fill(true, 3, "10"), fill(false, 3, "9")}, 0, "0", "-3", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Position
			for _, f := range tt.fills {
				if err := p.Apply(f); err != nil {
					t.Fatal(err)
				}
			}
			if p.Quantity != tt.qty || p.Cost != d(tt.cost) || p.Realised != d(tt.realised) || p.Fees != d(tt.fees) {
				t.Errorf("got qty %d cost %s realised %s fees %s, want %d %s %s %s", p.Quantity, p.Cost, p.Realised, p.Fees, tt.qty, tt.cost, tt.realised, tt.fees)
			}
			// cost - realised = bought notional - sold notional, always.
			if p.Cost-p.Realised != p.BuyNotional-p.SellNotional {
				t.Errorf("got cost - realised %s, want buys - sells %s", p.Cost-p.Realised, p.BuyNotional-p.SellNotional)
			}
		})
	}
	var p Position
	if err := p.Apply(Fill{Buy: true, Quantity: 1 << 40, Price: event.MaxDecimal / 2}); err == nil {
		t.Errorf("got no error for a notional out of range")
	}
}
