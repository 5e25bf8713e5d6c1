"""Handovers: the BAST signed by both parties before an encrypted package is released."""
