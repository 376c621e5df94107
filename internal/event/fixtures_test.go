package event

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixtureTime = time.Date(2025, 3, 14, 14, 30, 5, 123456789, time.UTC)

func sampleUser() User {
	return User{
		ID:            123,
		Name:          "Zoë O'Brien <\"zo\" & co>\t\u2028",
		Email:         "zoe.obrien@example.com",
		Country:       "DE",
		SignupAt:      time.Date(2021, 7, 1, 9, 0, 0, 0, time.UTC),
		Experience:    ExperienceAdvanced,
		RiskTolerance: RiskHigh,
		Sectors:       []string{"Technology", "Health Care"},
		Account:       Account{ID: 123, Type: AccountMargin, Currency: "EUR", Balance: MustParseDecimal("25000")},
		UpdatedAt:     fixtureTime,
	}
}

func samplePrice() Price {
	return Price{
		Symbol: "AAPL", Sector: "Technology", Seq: 42, Time: fixtureTime,
		Bid: MustParseDecimal("187.24"), Ask: MustParseDecimal("187.26"), Last: MustParseDecimal("187.25"),
		Volume: 1200,
	}
}

func sampleTradeMarket() Trade {
	return Trade{
		ID: 9001, UserID: 123, AccountID: 123, Symbol: "AAPL", Side: SideBuy, Quantity: 10,
		Price: MustParseDecimal("187.26"), Fee: MustParseDecimal("1"), Time: fixtureTime.Add(time.Millisecond),
		BalanceAfter: MustParseDecimal("23126.4"), OrderType: OrderMarket,
	}
}

func sampleTradeLimit() Trade {
	return Trade{
		ID: 9002, UserID: 77, AccountID: 77, Symbol: "BRK.B", Side: SideSell, Quantity: 250,
		Price: MustParseDecimal("412.10"), Fee: MustParseDecimal("51.5125"), Time: fixtureTime.Add(2 * time.Millisecond),
		BalanceAfter: MustParseDecimal("-1250.75"), OrderType: OrderLimit, LimitPrice: MustParseDecimal("412.05"),
	}
}

// sampleTradeV1 is the market trade as a trade/1 producer has it.
func sampleTradeV1() Trade {
	t := sampleTradeMarket()
	t.OrderType = ""
	return t
}

func sampleAlert() Alert {
	return Alert{
		ID: "01J8Z3K5-7", RuleID: 7, Kind: "price_above", Symbol: "NVDA",
		Message: "NVDA last 950.1200 > 950.0000", Value: MustParseDecimal("950.12"), Time: fixtureTime,
	}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got[:len(got):len(got)], '\n'), 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	want = want[:len(want)-1] // trailing newline
	if string(got) != string(want) {
		t.Errorf("encoding of %s:\n got %s\nwant %s", name, got, want)
	}
	return want
}
