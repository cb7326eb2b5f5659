"""Nothing emobench reads executes code: no pickle from files, weights loaded
with ``weights_only=True``, and only installed distributions provide plugins."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

from emobench.store import unpack_predictions


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_stored_predictions_refuse_pickled_objects():
    buf = io.BytesIO()
    np.savez(buf, y_true=np.array([Payload()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        unpack_predictions(buf.getvalue())


def test_weights_with_code_are_refused(tmp_path):
    from emobench.realtime.annotate import AnnotateError, prepare_model

    bad = tmp_path / "evil.pt"
    with open(bad, "wb") as fh:
        pickle.dump({"weight": Payload()}, fh, protocol=2)
    with pytest.raises(AnnotateError, match="evil.pt"):
        prepare_model("tiny-emotionet", weights=bad)


def test_good_weights_round_trip(tmp_path):
    from emobench.plugins import registry
    from emobench.realtime.annotate import prepare_model

    net, _ = registry().model("tiny-emotionet")().torch_module()
    torch.nn.init.constant_(next(net.parameters()), 0.25)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    model, _, status = prepare_model("tiny-emotionet", weights=tmp_path / "w.pt")
    assert status == "weights"
    assert torch.allclose(next(model.net_.parameters()), torch.tensor(0.25))


def test_plugins_come_only_from_installed_entry_points(tmp_path, monkeypatch):
    # a module that merely sits on the path is never imported as a plugin
    (tmp_path / "emobench_sneaky.py").write_text("raise SystemExit('imported!')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from emobench.plugins import load_registry

    reg = load_registry()
    assert not any("sneaky" in str(o) for o, _ in reg.failures)
