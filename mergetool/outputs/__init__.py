"""What users see: the terminal (rich), the build's files (CSV, XLSX, manifest) and the HTML
report with its charts."""
