"""The DTI application on the generic core: its spec (bases, labels, options), indicators, the
shipped public record, the comparable tables, the checks, verification and explain."""
