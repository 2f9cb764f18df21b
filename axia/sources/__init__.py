"Market-data sources: MetaTrader 5, yfinance, and the synthetic generator."
