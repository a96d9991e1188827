"""Mail: the message schema, RFC 822 parsing, ingestion of .eml/mbox, the parquet lake."""
