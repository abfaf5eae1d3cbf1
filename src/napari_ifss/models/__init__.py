"""Networks (one component per file), the model registry and weight loading.

The interactive click model: :mod:`.click_net` (encoder :mod:`.encoder`, click maps
:mod:`.click_encoding`, FCFI modules :mod:`.focused_correction` / :mod:`.feedback_fusion`,
U-head :mod:`.click_head`), built and loaded through :mod:`.registry`.
"""
