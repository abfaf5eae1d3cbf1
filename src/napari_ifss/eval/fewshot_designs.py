"""Named designs of the per-volume learner compared by ``ifss bench fewshot --protocol lovo``.

Each name maps to a :class:`~napari_ifss.core.fewshot.volume_learner.LearnerConfig`; a design name can
be extended with ``key=value`` overrides, e.g. ``both_mlp_soft:margin=5,end_fraction=0.2`` (see
:func:`design`). The axes: feature set (filters / trunk levels / both), trunk input side for
small slices, classifier, neighbour prior, end rule.
"""

from __future__ import annotations

from dataclasses import fields, replace

from ..core.errors import InvalidInputError
from ..core.fewshot.volume_learner import LearnerConfig

# The base of the design sweep (docs/benchmarks/fewshot_lovo.md): c2..c8, soft prior, raw
# classifier logits, no end rule. The chosen design is LearnerConfig()'s defaults ("chosen").
BASE = LearnerConfig(levels=("c2", "c4", "c8"), prior="soft", temperature=1.0,
                     end_fraction=0.0, min_side=256, upsample_below=256)
DESIGNS: dict[str, LearnerConfig] = {
    "chosen": LearnerConfig(),
    # features (MLP, soft prior)
    "filters_mlp_soft": replace(BASE, levels=()),
    "trunk_mlp_soft": replace(BASE, filters=False),
    "both_mlp_soft": BASE,
    "both16_mlp_soft": replace(BASE, levels=("c2", "c4", "c8", "c16")),
    "both24_mlp_soft": replace(BASE, levels=("c2", "c4")),
    # trunk input side: native / long side < 256 upsampled to 256 (BASE) / < 512 to 512
    "both_native_mlp_soft": replace(BASE, min_side=32, upsample_below=32),
    "both_up512_mlp_soft": replace(BASE, min_side=512, upsample_below=512),
    # classifier
    "both_logreg_soft": replace(BASE, classifier="logreg"),
    "both_rf_soft": replace(BASE, classifier="rf"),
    "filters_rf_soft": replace(BASE, levels=(), classifier="rf"),
    # prior / end rule
    "both_mlp_none": replace(BASE, prior="none"),
    "both_mlp_gate": replace(BASE, prior="gate"),
    "filters_rf_none": replace(BASE, levels=(), classifier="rf", prior="none", near=0.0),
}
DEFAULT_DESIGN = "chosen"


def design(spec: str) -> LearnerConfig:
    """The config of ``name`` or ``name:key=value,key=value`` (tuples as ``c2+c4``)."""
    name, _, extra = spec.partition(":")
    if name not in DESIGNS:
        raise InvalidInputError(f"unknown learner design {name!r}; one of {sorted(DESIGNS)}")
    cfg = DESIGNS[name]
    types = {f.name: type(getattr(cfg, f.name)) for f in fields(cfg)}
    changes: dict = {}
    for item in filter(None, extra.split(",")):
        key, _, value = item.partition("=")
        if key not in types:
            raise InvalidInputError(f"unknown learner option {key!r} in {spec!r}")
        kind = types[key]
        changes[key] = (tuple(v for v in value.split("+") if v) if kind is tuple
                        else value.lower() in ("1", "true", "yes") if kind is bool
                        else kind(value))
    return replace(cfg, **changes)
