"""Purpose-bound extracts for the four programs of Art. 3 and programs the parties added, from extract-requested
to extract-prepared; planning counts protected by the cell key method."""
