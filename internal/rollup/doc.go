// Package rollup owns the analytics rollups: 1-minute OHLCV per symbol
// (rollup_prices_1m), the 1-minute VWAP parts per symbol
// (rollup_trades_1m) and the position per account and symbol by average
// cost (rollup_positions), defined by migration 7; their hours
// (rollup_prices_1h, rollup_trades_1h) and each symbol's latest close
// (rollup_symbols), migration 8. Migration 9 partitions the minute and
// hour tables by month.
//
// The sink folds each batch into a Batch (one upsert row per symbol and
// minute and per account and symbol, only for the rows that landed) and
// writes it in the transaction that loads the rows and moves their
// offsets, so the rollups are effectively-once like the rows: the minute
// rows by upsert, then the hours they fall in recomputed from their
// minute rows, the symbols' latest close, the positions. Rebuild
// recomputes them from the raw rows, DeleteBefore enforces their
// retention (with the partition drops of store.UpkeepRollups), and Check
// compares them with an independent recomputation from the raw rows (what
// `tradestream verify`, `db rollups verify` and the kill and fault tests
// run).
package rollup
