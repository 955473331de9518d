"""Tables in and out: reading any CSV/XLSX/Parquet table, score-table layouts, indicator
catalogues, and writing files atomically as one set. Generic, like :mod:`mergetool.core`."""
