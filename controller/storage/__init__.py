"""The store: SQLite connections, migrations and every query. Only this package touches sqlite3."""
