"""FX OHLCV bars from the fastest tier that can answer correctly: memory, Redis, DynamoDB, S3 Parquet, with MT5 and yfinance behind them

Modules:

- `axia.order_path`: From a queued order message to a stored outcome: refuse everything while the kill switch is on, validate, persist idempotently, claim, execute once, record, and only then delete the message.
- `axia.orders`: The order domain (sides, types, statuses and the transitions between them, validation) and the ports the order path stands on: order and kill-switch repositories, an executor and a queue.
- `axia.tiers.dynamodb`: L3: orders, order state and the kill switch on DynamoDB — idempotent creation, optimistic locking on every status change, history by symbol and time, one-year retention by TTL.
- `axia.tiers.sqlite`: The embedded default for orders, the kill switch and the order queue: one file under the data directory, safe for many threads and processes, with the same behaviour as DynamoDB and SQS."""

__version__ = "0.1.0"
