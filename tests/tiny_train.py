"""A tiny interactive-training config shared by the training tests (seconds on a CPU)."""

TINY = {
    "batch_size": 2, "crop_size": 64, "max_click_iters": 2, "warmup_steps": 1,
    "include_real": False, "sources": {"synthetic": 1.0}, "checkpoint_every": 1, "log_every": 1,
    "threads": 1,
    "net": {"channels": 8, "low_channels": 8, "encoder_widths": [8, 8, 8, 16, 16],
            "head_widths": [8, 16]},
}
