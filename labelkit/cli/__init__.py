"""The command line: one thin module per command; library errors become one-line messages here."""
