"""Headless core: prompts, sessions, normalisation, io, sample data. No napari/Qt here."""
