"""Training: data sets (real and synthetic), click simulation and training loops."""
