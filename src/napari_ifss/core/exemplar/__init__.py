"""Exemplar mode ('segment all like this'): one slice, a stack, and splitting the foreground into instances."""
