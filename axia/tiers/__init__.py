"Storage tiers: memory (L1), Redis (L2), DynamoDB/SQLite (L3), the Parquet lake (L4)."
