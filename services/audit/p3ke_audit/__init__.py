"""The append-only, tamper-evident record of every access to personal data, and its queries."""
