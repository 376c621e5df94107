// Package market is tradestream's synthetic market: a deterministic,
// pure model (no I/O, no wall clock, no global randomness) of users, their
// accounts, stock prices and the trades the users place.
//
// A Sim is built from a Config. Its random streams are PCG generators
// seeded from Config.Seed, one per concern (users, prices, trades), and its
// clock is simulated: it starts at Config.Start and advances one
// TickInterval per round. The same Config therefore gives the same event
// stream, and asking for fewer kinds of events (NextOf) gives the same
// events of those kinds. The guarantee is bit for bit on one CPU
// architecture: the float model may round differently where the compiler
// fuses multiply-adds (arm64, for example), so compare streams across
// machines of the same architecture.
//
// Users are drawn with gofakeit on the users stream: name, e-mail, country,
// signup time before Start, experience level, risk tolerance, one to three
// preferred sectors, account type (margin more likely for experienced
// users), currency (USD, or EUR/GBP for many European users; the model has
// no FX, so all accounts settle at the quoted prices) and a lognormal
// opening balance whose median grows with experience.
//
// Prices follow a factor model with GARCH(1,1) volatility, Student-t
// innovations and compound Poisson jumps, its dynamics stated per second
// of simulated time (so the tick rate does not change them): returns have
// fat tails, volatility clusters over tens of minutes, sector peers
// co-move through a market and a sector factor, and log prices are
// martingales, so returns carry no autocorrelation. Volatility, volume and
// spreads follow an intraday U-shape over the 09:30-16:00 New York session;
// see Session for what happens outside it. Quotes round to the 0.01 tick
// with a spread of at least one tick that widens with price and
// volatility; prices stay positive.
//
// Trades come from users according to their profiles (see trading.go):
// inside the current bid/ask, with fees, never overdrawing a cash account
// or selling shares it does not hold; margin accounts borrow and sell
// short within limits. Every trade carries the balance after it, so
// balances reconcile exactly with the opening balances.
package market
