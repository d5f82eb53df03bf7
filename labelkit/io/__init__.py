"""Files in and out: tables, review CSVs safe from formula injection, atomic outputs and output folders,
typed JSON records, timestamps, numbers and intervals as text, progress lines."""
