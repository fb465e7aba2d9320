"""The one store: SQLAlchemy engine, sessions, tables and Alembic migrations."""
