"""Purpose-bound extracts for the four programs, from extract-requested to extract-prepared."""
