"""Checkpoints carrying code are refused with the file named, and PyTorch's
advice to reload them with ``weights_only=False`` is never passed on."""

import pickle

import pytest
import torch

from emobench.model import load_state_dict


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def _evil(path):
    with open(path, "wb") as fh:
        pickle.dump({"weight": Payload()}, fh, protocol=2)
    return path


def test_code_carrying_checkpoint_is_refused_without_torchs_advice(tmp_path, capsys):
    bad = _evil(tmp_path / "evil.pt")
    with pytest.raises(ValueError) as e:
        load_state_dict(bad)
    msg = str(e.value)
    assert str(bad) in msg and "carries code" in msg and "print" in msg
    assert "weights_only" not in msg and "trust" not in msg
    assert "this must never run" not in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"", b"hello world", b"\x80\x02}q\x00(X"])
def test_a_file_that_is_no_checkpoint_is_named(tmp_path, content):
    bad = tmp_path / "w.pt"
    bad.write_bytes(content)
    with pytest.raises(ValueError) as e:
        load_state_dict(bad)
    assert str(bad) in str(e.value) and "weights_only" not in str(e.value)


def test_tensors_load(tmp_path):
    torch.save({"a": torch.arange(3.0)}, tmp_path / "ok.pt")
    assert torch.equal(load_state_dict(tmp_path / "ok.pt")["a"], torch.arange(3.0))


def test_annotate_refuses_with_the_file_named_and_no_advice(tmp_path):
    from emobench.realtime.annotate import AnnotateError, prepare_model

    bad = _evil(tmp_path / "evil.pt")
    with pytest.raises(AnnotateError) as e:
        prepare_model("tiny-emotionet", weights=bad)
    assert str(bad) in str(e.value) and "weights_only" not in str(e.value)
