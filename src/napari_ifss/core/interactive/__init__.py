"""Click-to-mask segmentation: prompts, the click predictor, sessions (undo, saved sessions) and the slice planes they work on."""
