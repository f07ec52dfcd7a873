"""The Weitao project's own small library: config, contracts, auth, HTTP and Kafka helpers."""
