"""Weights as data: safetensors with a model card, never unpickled code (issue #21)."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import tifffile
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import napari_ifss.models.fewshot_weights as fewshot_weights
import napari_ifss.models.registry as registry
from napari_ifss.cli import main
from napari_ifss.core.data.sample import make_synthetic_cells
from napari_ifss.core.errors import InvalidInputError
from napari_ifss.core.fewshot.fewshot import FewShotSegmenter
from napari_ifss.models.fewshot_head import FewShotHead
from napari_ifss.models.fewshot_weights import (
    default_fewshot_weights,
    load_fewshot_head,
    save_fewshot_head,
)
from napari_ifss.models.manifest import (
    MANIFEST,
    DamagedInstallationError,
    file_sha256,
    read_manifest,
)
from napari_ifss.models.registry import (
    build_click_net,
    default_click_weights,
    load_click_net,
    save_click_net,
)
from napari_ifss.models.safe_io import (
    CARD_KEY,
    ModelSpec,
    check_card,
    file_format,
    read_model_dict,
    write_file,
)
from napari_ifss.train.config import InteractiveTrainConfig
from napari_ifss.train.interactive_loop import InteractiveTrainer, read_checkpoint
from napari_ifss.train.warm_start import widen_checkpoint
from tiny_train import TINY

SMALL = {"channels": 8, "low_channels": 8, "encoder_widths": [8, 8, 8, 16, 16],
         "head_widths": [8, 16]}


class _Payload:
    """Unpickling this creates ``marker`` (what a malicious checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil(tmp_path, marker, raw_pickle=False):
    """A click-model-looking ``evil.pt`` with a code payload; returns its path."""
    payload = {"variant": "fcfi", "config": {}, "state_dict": {}, "meta": _Payload(marker)}
    path = tmp_path / ("evil_raw.pt" if raw_pickle else "evil.pt")
    if raw_pickle:
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    return path


@pytest.fixture(params=[False, True], ids=["torch.save", "pickle"])
def evil(request, tmp_path):
    marker = tmp_path / "PWNED"
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(probe)))  # the payload really runs when unpickled ...
    assert probe.exists()
    return _evil(tmp_path, marker, request.param), marker


def _cells(tmp_path):
    image, truth = make_synthetic_cells((8, 40, 40), n_cells=4, seed=4)
    support = np.zeros_like(truth, dtype=np.uint16)
    support[2][truth[2] == truth[2].max()] = 1
    tifffile.imwrite(tmp_path / "image.tif", image)
    tifffile.imwrite(tmp_path / "support.tif", support)
    return ["propagate", str(tmp_path / "image.tif"), "--support", str(tmp_path / "support.tif"),
            "--out", str(tmp_path / "out.tif"), "-q", "--threads", "1"]


# ------------------------------------------------------------------- (a) malicious checkpoint
def test_malicious_checkpoint_is_refused_not_run(evil, tmp_path, capsys):
    path, marker = evil  # ... but never here
    with pytest.raises(InvalidInputError, match="NOT loaded"):
        load_click_net(path)
    with pytest.raises(InvalidInputError, match="NOT loaded"):
        load_fewshot_head(path)
    cmd = _cells(tmp_path)
    assert main([*cmd, "--weights", str(path)]) == 1
    assert "NOT loaded" in capsys.readouterr().err
    # a head whose encoder record names evil.pt, so that the click weights really get opened
    head = save_fewshot_head(FewShotHead(), tmp_path / "head.safetensors", path)
    assert main([*cmd, "--weights", str(head), "--click-weights", str(path)]) == 1
    assert "NOT loaded" in capsys.readouterr().err
    assert not (tmp_path / "out.tif").exists()
    assert main(["convert", str(path), "--out-dir", str(tmp_path / "conv")]) == 1
    assert "NOT loaded" in capsys.readouterr().err
    with pytest.raises(InvalidInputError, match="NOT loaded"):
        widen_checkpoint(path, tmp_path / "wide.safetensors")
    # training resume finds the old-style ckpt_last.pt and refuses it
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(path, run / "ckpt_last.pt")
    cfg = InteractiveTrainConfig.from_dict({**TINY, "steps": 1, "variants": ["concat"]})
    with pytest.raises(InvalidInputError, match="NOT loaded"):
        InteractiveTrainer(cfg, run).run(resume=True, progress=False)
    assert not marker.exists()


# ------------------------------------------------------------------- (b) round trips
def test_click_net_round_trip_is_exact_and_pickle_free(tmp_path):
    torch.manual_seed(0)
    net = build_click_net("fcfi", **SMALL).eval()
    path = save_click_net(net, tmp_path / "m.safetensors", meta={"step": 7},
                          extra={"licence": "CC0"})
    with safe_open(str(path), framework="pt") as fh:
        card = json.loads(fh.metadata()[CARD_KEY])
    assert card["kind"] == "click_net" and card["variant"] == "fcfi" and card["licence"] == "CC0"
    assert card["config"] == net.config and card["meta"] == {"step": 7}
    loaded = load_click_net(path)
    assert loaded.meta == {"step": 7} and loaded.card["licence"] == "CC0"
    reference = build_click_net("fcfi", **SMALL).eval()  # the original, rounded to fp16
    reference.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                               for k, v in net.state_dict().items()})
    image, prev = torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64)
    pts = torch.tensor([[[30.0, 30.0, 1.0], [5.0, 9.0, 0.0]]])
    with torch.no_grad():
        assert torch.equal(reference(image, pts, prev).logits, loaded(image, pts, prev).logits)
    again = load_click_net(save_click_net(loaded, tmp_path / "again.safetensors", loaded.meta))
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_fewshot_head_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    click = save_click_net(build_click_net("nofeedback"), tmp_path / "click.safetensors")
    head = FewShotHead()
    path = save_fewshot_head(head, tmp_path / "head.safetensors", click, meta={"steps": 2})
    loaded = load_fewshot_head(path, encoder_weights=click)
    assert loaded.encoder_info == {"file": "click.safetensors", "sha256": file_sha256(click)}
    reference = FewShotHead()
    reference.load_state_dict({k: v.half().float() for k, v in head.state_dict().items()})
    encoder = load_click_net(click).encoder
    image, labels = make_synthetic_cells((8, 64, 64), n_cells=6, seed=3)
    outputs = []
    for h in (reference.eval(), loaded):
        seg = FewShotSegmenter(h, encoder, device="cpu", min_side=64, max_side=64)
        seg.set_support([image[1]], [labels[1] > 0], positions=[1])
        outputs.append(seg.predict(image[3], position=3))
    assert np.array_equal(*outputs)


# ------------------------------------------------------------------- (c) shipped weights
def test_shipped_weights_are_safetensors_and_match_the_manifest():
    manifest = read_manifest(registry.WEIGHTS_DIR)
    for path in (default_click_weights(), default_fewshot_weights()):
        assert path.suffix == ".safetensors" and manifest[path.name] == file_sha256(path)
        sidecar = json.loads(path.with_suffix(".json").read_text())
        embedded = {k: v for k, v in read_model_dict(path).items() if k != "state_dict"}
        assert sidecar["model_card"] == embedded
        assert embedded["licence"] and embedded["training_data"]
    assert not list(registry.WEIGHTS_DIR.glob("*.pt"))
    head = load_fewshot_head(default_fewshot_weights(), encoder_weights=default_click_weights())
    assert head.encoder_info["file"] == registry.DEFAULT_WEIGHTS == "click_concat.safetensors"
    assert load_click_net(default_click_weights()).variant == registry.DEFAULT_VARIANT


@pytest.fixture()
def fake_install(tmp_path, monkeypatch):
    """A copy of the shipped weights folder that the loaders take for the shipped one."""
    folder = tmp_path / "weights"
    shutil.copytree(registry.WEIGHTS_DIR, folder)
    monkeypatch.setattr(registry, "WEIGHTS_DIR", folder)
    monkeypatch.setattr(fewshot_weights, "WEIGHTS_DIR", folder)
    return folder


def _flip_last_bytes(path, n=4):
    data = bytearray(path.read_bytes())
    data[-n:] = bytes(b ^ 0xFF for b in data[-n:])  # in the tensor data: still parses
    path.write_bytes(bytes(data))


def test_corrupted_shipped_file_is_a_damaged_installation(fake_install, tmp_path):
    load_click_net(default_click_weights())  # the intact copy verifies
    _flip_last_bytes(fake_install / registry.DEFAULT_WEIGHTS)
    _flip_last_bytes(fake_install / "fewshot.safetensors")
    with pytest.raises(DamagedInstallationError, match="click_concat.safetensors.*reinstall"):
        load_click_net(default_click_weights())
    with pytest.raises(DamagedInstallationError, match="fewshot.safetensors.*damaged"):
        FewShotSegmenter.default()
    # the same bytes elsewhere are an ordinary (user) file: no manifest check
    elsewhere = tmp_path / "mine.safetensors"
    shutil.copyfile(fake_install / registry.DEFAULT_WEIGHTS, elsewhere)
    assert load_click_net(elsewhere).variant == registry.DEFAULT_VARIANT
    (fake_install / MANIFEST).unlink()
    with pytest.raises(DamagedInstallationError, match="SHA256SUMS.*missing"):
        load_click_net(default_click_weights())


# ------------------------------------------------------------------- (d) invalid files
@pytest.fixture()
def click_file(tmp_path):
    torch.manual_seed(2)
    path = save_click_net(build_click_net("concat", **SMALL), tmp_path / "c.safetensors")
    content = read_model_dict(path)
    tensors = content.pop("state_dict")
    return path, tensors, content


def _rewrite(tmp_path, tensors, card, name="bad.safetensors"):
    return write_file(tmp_path / name, tensors, card)


def _raw(path, tensors, metadata=None):
    """A safetensors file with exactly this metadata (not through napari-ifss)."""
    save_file(tensors, str(path), metadata=metadata)
    return path


def test_invalid_safetensors_files_are_refused_with_a_reason(click_file, tmp_path):
    path, tensors, card = click_file
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    cases = [
        (truncated, "truncated or damaged"),
        (_rewrite(tmp_path, tensors, {**card, "kind": "fewshot_head"}, "k.safetensors"),
         "not a napari-ifss click-model checkpoint.*'fewshot_head'"),
        (_rewrite(tmp_path, tensors, {**card, "variant": "bogus"}, "v.safetensors"),
         "unknown click-model variant 'bogus'"),
        (_rewrite(tmp_path, tensors, {**card, "config": {**card["config"], "colour": 3}},
                  "o.safetensors"), r"unknown click-model config option\(s\) \['colour'\]"),
        (_rewrite(tmp_path, tensors, {**card, "config": {**card["config"],
                                                         "channels": {"a": 1}}}, "j.safetensors"),
         "not numbers, strings"),
        (_rewrite(tmp_path, tensors, {**card, "config": [1, 2]}, "c.safetensors"),
         "config is not a JSON object"),
        (_rewrite(tmp_path, {**tensors, "head.out.weight": torch.zeros(1, 3, 1, 1)}, card,
                  "s.safetensors"), r"head.out.weight is torch.float32 \(1, 3, 1, 1\), expected"),
        (_rewrite(tmp_path, {k: v for k, v in tensors.items() if k != "head.out.bias"}, card,
                  "m.safetensors"), r"missing tensors \['head.out.bias'\]"),
        (_rewrite(tmp_path, {**tensors, "extra": torch.zeros(2)}, card, "e.safetensors"),
         r"unexpected tensors \['extra'\]"),
        (_raw(tmp_path / "f.safetensors", tensors,
              {CARD_KEY: json.dumps({**card, "format_version": 99})}),
         "format 99.*upgrade napari-ifss"),
        (_raw(tmp_path / "nocard.safetensors", {"a": torch.zeros(2)}),
         "without a napari-ifss model card"),
        (_raw(tmp_path / "notjson.safetensors", tensors, {CARD_KEY: "{oops"}),
         "not valid JSON"),
    ]
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"hello")
    cases.append((garbage, "neither a safetensors"))
    for bad, message in cases:
        with pytest.raises(InvalidInputError, match=message) as exc:
            load_click_net(bad)
        assert str(bad) in str(exc.value)  # names the file
    with pytest.raises(InvalidInputError, match="not a napari-ifss few-shot head"):
        load_fewshot_head(path)
    with pytest.raises(FileNotFoundError):
        load_click_net(tmp_path / "missing.safetensors")


def test_config_keys_follow_the_constructor_signature(tmp_path):
    class WithBackbone(torch.nn.Module):
        def __init__(self, variant: str = "a", width: int = 4, backbone: str = "x") -> None:
            super().__init__()

    spec = ModelSpec("thing", "thing", ("a",), WithBackbone)
    assert spec.config_keys() == {"width", "backbone"}
    card = {"kind": "thing", "variant": "a", "config": {"backbone": "lite0", "width": 3}}
    assert check_card(card, "t.safetensors", spec) == ("a", {"backbone": "lite0", "width": 3})
    with pytest.raises(InvalidInputError, match="unknown thing config"):
        check_card({**card, "config": {"depth": 1}}, "t.safetensors", spec)


# ------------------------------------------------------------------- (e) old .pt files
def test_old_pt_files_load_through_weights_only_and_convert(tmp_path, capsys):
    torch.manual_seed(3)
    net = build_click_net("nofeedback", **SMALL).eval()
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    old_click = tmp_path / "click.pt"
    torch.save({"variant": "nofeedback", "config": dict(net.config), "state_dict": state,
                "meta": {"step": 5}}, old_click)
    loaded = load_click_net(old_click)
    assert loaded.meta == {"step": 5}
    torch.save({"foo": 1}, tmp_path / "plain.pt")
    with pytest.raises(InvalidInputError, match="not a napari-ifss click-model"):
        load_click_net(tmp_path / "plain.pt")
    head = FewShotHead()
    head_state = {k: v.half() for k, v in head.state_dict().items()}
    old_head = tmp_path / "fewshot.pt"
    torch.save({"kind": "fewshot_head", "config": dict(head.config), "state_dict": head_state,
                "encoder": {"file": "click.pt", "sha256": file_sha256(old_click)},
                "meta": {}}, old_head)
    assert load_fewshot_head(old_head, encoder_weights=old_click).meta == {}

    # ifss convert: same tensors, the head's encoder record follows the converted click file
    out = tmp_path / "converted"
    assert main(["convert", str(old_click), str(old_head), "--out-dir", str(out)]) == 0
    assert "click.safetensors" in capsys.readouterr().out
    new_click, new_head = out / "click.safetensors", out / "fewshot.safetensors"
    converted = read_model_dict(new_click)
    assert all(torch.equal(v, converted["state_dict"][k]) for k, v in state.items())
    assert converted["converted_from"]["sha256"] == file_sha256(old_click)
    image, pts = torch.rand(1, 3, 64, 64), torch.tensor([[[30.0, 30.0, 1.0]]])
    with torch.no_grad():
        assert torch.equal(loaded(image, pts).logits, load_click_net(new_click)(image, pts).logits)
    moved = load_fewshot_head(new_head, encoder_weights=new_click)
    assert moved.encoder_info["file"] == "click.safetensors"
    assert moved.card["encoder_converted_from"]["sha256"] == file_sha256(old_click)
    assert main(["convert", str(old_click), "--out-dir", str(out)]) == 1  # no overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["convert", str(new_click)]) == 1
    assert "already a safetensors" in capsys.readouterr().err


def test_old_training_checkpoint_resumes_and_converts(tmp_path):
    cfg = InteractiveTrainConfig.from_dict({**TINY, "steps": 1, "variants": ["concat"]})
    InteractiveTrainer(cfg, tmp_path / "a").run(progress=False)
    state = read_checkpoint(tmp_path / "a" / "ckpt_last.safetensors")
    assert isinstance(state["rng"]["python"], tuple)  # tuples survive the JSON skeleton
    assert set(state["opts"]["concat"]["state"]) == set(range(len(state["opts"]["concat"]
                                                                   ["param_groups"][0]["params"])))
    old = tmp_path / "b" / "ckpt_last.pt"
    old.parent.mkdir()
    torch.save(state, old)  # as written before safetensors
    assert main(["convert", str(old)]) == 0
    converted = read_checkpoint(old.with_suffix(".safetensors"))
    assert converted["step"] == 1 and converted["rng"]["numpy"] == state["rng"]["numpy"]
    old.with_suffix(".safetensors").unlink()
    cfg2 = InteractiveTrainConfig.from_dict({**TINY, "steps": 2, "variants": ["concat"]})
    trainer = InteractiveTrainer(cfg2, old.parent)
    trainer.run(resume=True, progress=False)  # picks the old ckpt_last.pt up
    assert trainer.step == 2 and (old.parent / "ckpt_last.safetensors").is_file()
    wrong = InteractiveTrainer(InteractiveTrainConfig.from_dict(
        {**TINY, "steps": 3, "variants": ["fcfi"]}), old.parent)
    with pytest.raises(InvalidInputError, match="no 'fcfi' net"):
        wrong.run(resume=True, progress=False)


def test_ship_weights_writes_safetensors_sidecar_and_manifest(tmp_path, monkeypatch):
    import napari_ifss.train.ship_weights as ship_weights

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setattr(ship_weights, "WEIGHTS_DIR", shipped)
    monkeypatch.setattr(registry, "WEIGHTS_DIR", shipped)
    run = tmp_path / "run"
    for variant in ("fcfi", "concat"):
        (run / variant).mkdir(parents=True)
        save_click_net(build_click_net(variant, **SMALL), run / variant / f"click_{variant}.pt"
                       if variant == "concat" else run / variant / "click_fcfi.safetensors",
                       meta={"step": 4})
        (run / variant / "log.jsonl").write_text(json.dumps({"loss": {variant: 0.5}}) + "\n")
    ship_weights.ship(run, tmp_path / "bench")
    # the default variant (concat) ships in the package, the other one with the benchmarks
    for folder, name in ((shipped, "click_concat"), (tmp_path / "bench", "click_fcfi")):
        path = folder / f"{name}.safetensors"
        assert read_manifest(folder) == {path.name: file_sha256(path)}
        card = json.loads(path.with_suffix(".json").read_text())["model_card"]
        assert card["licence"] and card["meta"] == {"step": 4}
    assert load_click_net(shipped / "click_concat.safetensors").meta == {"step": 4}  # verified
    assert not (shipped / "click_fcfi.safetensors").exists()


@pytest.mark.parametrize("header_len", [0x80, 0x6280, 0x1234])
def test_file_format_safetensors_whose_header_length_starts_like_a_pickle(tmp_path, header_len):
    # A safetensors header length with low byte 0x80 was once taken for a pickle ("torch").
    path = tmp_path / "model.safetensors"
    card = {"napari_ifss": "{}"}
    save_file({"w": torch.zeros(2)}, str(path), metadata=card)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].rstrip(b" ")
    padded = header + b" " * (header_len - len(header))
    path.write_bytes(header_len.to_bytes(8, "little") + padded + raw[8 + n:])
    assert file_format(path) == "safetensors"
    with safe_open(str(path), "pt") as fh:
        assert fh.metadata() == card
    pickled = tmp_path / "model.pt"
    pickled.write_bytes(pickle.dumps({"w": 1}, protocol=2))
    assert file_format(pickled) == "torch"
