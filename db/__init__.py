"""Everything that talks to TimescaleDB: connections, migrations, the batch writer, readers."""
