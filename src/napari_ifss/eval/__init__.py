"""Evaluation: robot clicker, metrics, benchmark protocols and classical baselines."""
