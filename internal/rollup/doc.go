// Package rollup owns the analytics rollups: 1-minute OHLCV per symbol
// (rollup_prices_1m), the 1-minute VWAP parts per symbol
// (rollup_trades_1m) and the position per account and symbol by average
// cost (rollup_positions), all defined by migration 7.
//
// The sink folds each batch into a Batch (one upsert row per symbol and
// minute and per account and symbol, only for the rows that landed) and
// writes it in the transaction that loads the rows and moves their
// offsets, so the rollups are effectively-once like the rows. Rebuild
// recomputes them from the raw rows, DeleteBefore enforces their
// retention, and Check compares them with an independent recomputation
// from the raw rows (what `tradestream verify`, `db rollups verify` and
// the kill and fault tests run).
package rollup
