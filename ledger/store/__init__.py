"""The storage adapters of the write side: database URLs, recorders, the bulk COPY path, the
keyring of per-person keys, and the SQL run beside eventsourcing's own."""
