"""The generic engine: units and bases, the mapping graph (validation, composition, loading),
rebasing with exact arithmetic, half-up rounding and ranks, the independent oracle, provenance.
Knows nothing of the DTI or of any output format."""
