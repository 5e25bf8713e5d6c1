"""Data balikan: party 2's by-name list of recipients, matched and turned into reports."""
