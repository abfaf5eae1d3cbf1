"""Networks (one component per file), the model registry and weight loading."""
