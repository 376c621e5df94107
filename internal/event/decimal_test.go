package event

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in      string
		want    Decimal
		wantErr error
	}{
		{"0", 0, nil},
		{"1", 10000, nil},
		{"187.25", 1872500, nil},
		{"187.2500", 1872500, nil},
		{"-0.05", -500, nil},
		{"-0.0000", 0, nil},
		{"0.0001", 1, nil},
		{"007.5", 75000, nil},
		{"922337203685477.5807", MaxDecimal, nil},
		{"-922337203685477.5808", MinDecimal, nil},
		{"922337203685477.5808", 0, ErrDecimalRange},
		{"-922337203685477.5809", 0, ErrDecimalRange},
		{"99999999999999999999999", 0, ErrDecimalRange},
		{"", 0, ErrDecimalSyntax},
		{"-", 0, ErrDecimalSyntax},
		{"+1", 0, ErrDecimalSyntax},
		{"1.", 0, ErrDecimalSyntax},
		{".5", 0, ErrDecimalSyntax},
		{"1.23456", 0, ErrDecimalSyntax},
		{"1e3", 0, ErrDecimalSyntax},
		{"1,5", 0, ErrDecimalSyntax},
		{" 1", 0, ErrDecimalSyntax},
		{"NaN", 0, ErrDecimalSyntax},
		{"1.2.3", 0, ErrDecimalSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDecimal(tc.in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("ParseDecimal(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseDecimal(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecimalString(t *testing.T) {
	tests := []struct {
		in   Decimal
		want string
	}{
		{0, "0.0000"},
		{1, "0.0001"},
		{-500, "-0.0500"},
		{1872500, "187.2500"},
		{-1872501, "-187.2501"},
		{MaxDecimal, "922337203685477.5807"},
		{MinDecimal, "-922337203685477.5808"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.in.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			back, err := ParseDecimal(tc.want)
			if err != nil || back != tc.in {
				t.Errorf("ParseDecimal(String()) = %d, %v, want %d", back, err, tc.in)
			}
			txt, _ := tc.in.AppendText([]byte("x="))
			if string(txt) != "x="+tc.want {
				t.Errorf("AppendText = %q, want %q", txt, "x="+tc.want)
			}
		})
	}
}

func TestDecimalArithmetic(t *testing.T) {
	tests := []struct {
		name string
		got  Decimal
		want Decimal
	}{
		{"MulQty", MustParseDecimal("187.25").MulQty(10), MustParseDecimal("1872.5")},
		{"MulQty negative", MustParseDecimal("-1.5").MulQty(3), MustParseDecimal("-4.5")},
		{"MulQty saturates", MaxDecimal.MulQty(2), MaxDecimal},
		{"MulQty saturates negative", MaxDecimal.MulQty(-2), MinDecimal},
		{"Mul fee rounds half up", MustParseDecimal("1872.5").Mul(MustParseDecimal("0.0005")), MustParseDecimal("0.9363")},
		{"Mul exact", MustParseDecimal("2.5").Mul(MustParseDecimal("4")), MustParseDecimal("10")},
		{"Mul rounds away from zero", MustParseDecimal("-0.0001").Mul(MustParseDecimal("0.5")), MustParseDecimal("-0.0001")},
		{"Mul rounds down", MustParseDecimal("0.0001").Mul(MustParseDecimal("0.4999")), 0},
		{"Mul big exact", MustParseDecimal("900000000000").Mul(MustParseDecimal("1.0001")), MustParseDecimal("900090000000")},
		{"Mul saturates", MaxDecimal.Mul(MustParseDecimal("2")), MaxDecimal},
		{"FromInt", FromInt(42), MustParseDecimal("42")},
		{"FromFloat", FromFloat(187.25), MustParseDecimal("187.25")},
		{"FromFloat rounds", FromFloat(0.00005), 1},
		{"FromFloat negative rounds", FromFloat(-0.00005), -1},
		{"FromFloat NaN", FromFloat(math.NaN()), 0},
		{"FromFloat +Inf", FromFloat(math.Inf(1)), MaxDecimal},
		{"FromFloat -huge", FromFloat(-1e300), MinDecimal},
		{"Abs", MustParseDecimal("-3").Abs(), MustParseDecimal("3")},
		{"Abs min", MinDecimal.Abs(), MaxDecimal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
	if _, ok := MaxDecimal.MulQtyChecked(2); ok {
		t.Errorf("MulQtyChecked(Max, 2) ok = true, want false")
	}
	if got := MustParseDecimal("187.25").Float64(); got != 187.25 {
		t.Errorf("Float64() = %v, want 187.25", got)
	}
}

func TestDecimalJSON(t *testing.T) {
	type wrap struct {
		D Decimal `json:"d"`
	}
	b, err := json.Marshal(wrap{D: -500})
	if err != nil || string(b) != `{"d":"-0.0500"}` {
		t.Fatalf("Marshal = %s, %v, want {\"d\":\"-0.0500\"}", b, err)
	}
	var w wrap
	if err := json.Unmarshal([]byte(`{"d":"12.5"}`), &w); err != nil || w.D != 125000 {
		t.Errorf("Unmarshal string = %d, %v, want 125000", w.D, err)
	}
	for _, bad := range []string{`{"d":12.5}`, `{"d":"12.34567"}`, `{"d":"x"}`, `{"d":null}`} {
		if err := json.Unmarshal([]byte(bad), &w); err == nil {
			t.Errorf("Unmarshal(%s) error = nil, want an error", bad)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0.05", "187.2500", "922337203685477.5807", "1.", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		back, err := ParseDecimal(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDecimal(%q) = %d; String %q parses back to %d, %v", s, d, d.String(), back, err)
		}
	})
}
