"""Data the project reads for training and benchmarks (../shared/data layouts) and the synthetic sample stack."""
