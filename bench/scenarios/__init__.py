"""One module per scenario: what it runs (`run(bench)`) and how its section of the report is
computed and written."""
