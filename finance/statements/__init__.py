"""Partner statements as files: reading a CSV or XLSX into rows (`reading`), and turning rows into statement lines
in the partner's conventions (`parsing`). Pure: no database, so every rule here is tested as a table."""
