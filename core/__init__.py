"""The pure domain: records, URLs, roles, verdict rules, recheck policy. No I/O, no clock."""
