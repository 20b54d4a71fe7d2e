"""Tests of the classification recipe (data, preprocessing, trainer, export, PTQ)."""
