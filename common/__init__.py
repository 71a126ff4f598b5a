"""Shared building blocks below every app: no models, no imports from the project's apps.

- `common.money`: amounts typed as people type them (one parser for forms, imports and statements),
  ISO 4217 currency codes, the one rounding helper.
- `common.db`: `database_busy(exc)`, SQLite's "database is locked" as every layer recognises it.
- `common.tabular`: the formula-safe cell writer behind every CSV/XLSX the app writes.
- `common.limits`: what the database can store on every backend (text without NUL, integers in their column's
  range), for the middleware, the API's schemas and forms (`ColumnRangeFormMixin`).
"""
