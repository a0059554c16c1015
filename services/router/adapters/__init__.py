"""The router's adapters: PostgreSQL (`postgres`), the Kafka consumers (`consumers`) and publisher
(`publisher`), and the background loops (`background`: the outbox relay, the deadline watcher)."""
