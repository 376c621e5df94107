package event

import "time"

// Price is one quote tick for a symbol (schema price/1, topic prices, keyed
// by symbol). Seq increases by one per tick of the symbol, so a consumer
// can spot gaps and duplicates per key.
type Price struct {
	Symbol string    `json:"symbol"`
	Sector string    `json:"sector"`
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"ts"`
	Bid    Decimal   `json:"bid"`
	Ask    Decimal   `json:"ask"`
	Last   Decimal   `json:"last"`
	Volume int64     `json:"volume"` // shares traded since the symbol's previous tick
}

// Key returns the Kafka record key: the symbol.
func (p *Price) Key() []byte { return []byte(p.Symbol) }

// AppendKey appends the Kafka record key (the symbol) to dst.
func (p *Price) AppendKey(dst []byte) []byte { return append(dst, p.Symbol...) }

// Mid returns the midpoint of bid and ask, rounded down to scale 4.
func (p *Price) Mid() Decimal { return p.Bid + (p.Ask-p.Bid)/2 }

// AppendJSON appends the price/1 JSON encoding of p to dst.
func (p *Price) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = appendString(dst, p.Symbol)
	dst = append(dst, `,"sector":`...)
	dst = appendString(dst, p.Sector)
	dst = append(dst, `,"seq":`...)
	dst = appendInt(dst, p.Seq)
	dst = append(dst, `,"ts":`...)
	dst = appendTime(dst, p.Time)
	dst = append(dst, `,"bid":`...)
	dst = appendDecimal(dst, p.Bid)
	dst = append(dst, `,"ask":`...)
	dst = appendDecimal(dst, p.Ask)
	dst = append(dst, `,"last":`...)
	dst = appendDecimal(dst, p.Last)
	dst = append(dst, `,"volume":`...)
	dst = appendInt(dst, p.Volume)
	return append(dst, '}')
}

// Validate checks p against the price/1 rules: a valid symbol, a sector,
// seq >= 0, 0 < bid <= ask <= MaxPrice, 0 < last <= MaxPrice, volume in
// [0, MaxVolume] and a timestamp in range. Last may lie outside the quote
// (the last trade can predate it).
func (p *Price) Validate() error {
	switch {
	case p.Symbol == "":
		return missing("symbol")
	case !validSymbol(p.Symbol):
		return invalid("symbol", "want ^[A-Z][A-Z0-9.]{0,9}$")
	case p.Sector == "":
		return missing("sector")
	case len(p.Sector) > maxSector:
		return outOfRange("sector", "too long")
	case p.Seq < 0:
		return outOfRange("seq", "must not be negative")
	case p.Bid <= 0 || p.Bid > MaxPrice:
		return outOfRange("bid", "must be positive and at most 10000000")
	case p.Ask <= 0 || p.Ask > MaxPrice:
		return outOfRange("ask", "must be positive and at most 10000000")
	case p.Bid > p.Ask:
		return outOfRange("bid", "bid above ask")
	case p.Last <= 0 || p.Last > MaxPrice:
		return outOfRange("last", "must be positive and at most 10000000")
	case p.Volume < 0 || p.Volume > MaxVolume:
		return outOfRange("volume", "must be in [0, 1e12]")
	}
	return checkTime("ts", p.Time)
}
