"""MobileNet family: a generic spec-walking builder plus per-version architecture tables."""
