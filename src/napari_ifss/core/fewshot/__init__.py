"""Few-shot propagation: the meta-learned head, the per-volume learner and its features, propagation through a stack, support-set checks."""
