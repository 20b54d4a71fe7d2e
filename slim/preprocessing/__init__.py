"""Per-family input preprocessing for the classifiers (see preprocessing_factory)."""
