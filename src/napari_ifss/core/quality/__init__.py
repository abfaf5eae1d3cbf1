"""JFS quality scores of propagated slices: scoring, badges, the score table, the one 'annotate next' rule, storing scores with a labels layer."""
