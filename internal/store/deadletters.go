package store

// DeadLetterStands is the SQL condition on a dead_letters row that it
// still stands for its offset: it was not replayed into a row (see
// migration 00005 and `tradestream deadletters replay`). A replayed and
// loaded dead letter's offset is held by the row instead, so whoever
// counts offsets as rows or dead letters (verify) counts it once.
const DeadLetterStands = "replay_outcome IS DISTINCT FROM 'loaded'"
