"""Data exchange: spreadsheet import, report workbooks and CSV, charts."""
