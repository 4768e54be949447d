"""The project store: SQLite through SQLAlchemy. The only package that contains SQL."""
