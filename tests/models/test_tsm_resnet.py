"""ResNet-18 with temporal shift (the VTT system): sizes, shifts, causality, keys, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.data import Task
from emobench.model import FitContext
from emobench_plugins.models.tsm_resnet import TSMResNet, TSMStreamer, window_ending_at
from emobench_plugins.models.tsm_resnet.net import ResNet18TSM, tsm_shift, vtt_loss, vtt_shift

pytestmark = pytest.mark.usefixtures("one_thread")


def _torchvision_resnet18_keys() -> list[str]:
    """torchvision's resnet18 state-dict keys, written out from its naming scheme."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.weight"] + [f"bn1.{b}" for b in bn]
    for layer in range(1, 5):
        for block in range(2):
            pre = f"layer{layer}.{block}"
            keys += [f"{pre}.conv1.weight"] + [f"{pre}.bn1.{b}" for b in bn]
            keys += [f"{pre}.conv2.weight"] + [f"{pre}.bn2.{b}" for b in bn]
            if layer > 1 and block == 0:
                keys += [f"{pre}.downsample.0.weight"] + [f"{pre}.downsample.1.{b}" for b in bn]
    return keys + ["fc.weight", "fc.bias"]


def test_parameter_count_and_torchvision_keys():
    net = ResNet18TSM(7)
    assert sum(p.numel() for p in net.parameters()) == 11_180_103
    assert TSMResNet.param_count() == 11_180_103
    assert list(net.state_dict()) == _torchvision_resnet18_keys()
    # the static model's weights load into the shift model unchanged (the shift has no parameters)
    static = ResNet18TSM(7, shift="none")
    ResNet18TSM(7, shift="vtt").load_state_dict(static.state_dict())


@pytest.mark.parametrize("channels,shifted", [(64, 16), (128, 32), (256, 64)])
def test_vtt_shift_moves_a_quarter_of_the_channels_from_the_previous_frame(channels, shifted):
    t = 4
    x = torch.arange(t, dtype=torch.float32).view(1, t, 1, 1, 1).expand(2, t, channels, 3, 3)
    y = vtt_shift(x.reshape(2 * t, channels, 3, 3).clone(), t).view(2, t, channels, 3, 3)
    for i in range(t):
        assert torch.all(y[:, i, :shifted] == max(i - 1, 0))  # frame 0 keeps its own values
        assert torch.all(y[:, i, shifted:] == i)
    assert (y != x).any(dim=(0, 1, 3, 4)).sum() == shifted


def test_official_tsm_shift_is_bidirectional_with_zero_padding():
    t, c = 4, 16
    x = (torch.arange(t, dtype=torch.float32) + 1).view(1, t, 1, 1, 1).expand(1, t, c, 1, 1)
    y = tsm_shift(x.reshape(t, c, 1, 1).clone(), t).view(t, c)
    assert y[0, :2].tolist() == [2, 2] and y[3, :2].tolist() == [0, 0]      # from the next frame
    assert y[0, 2:4].tolist() == [0, 0] and y[3, 2:4].tolist() == [3, 3]    # from the previous
    assert torch.all(y[:, 4:] == torch.arange(1, t + 1, dtype=torch.float32)[:, None])


def test_vtt_variant_is_causal_and_official_is_not():
    torch.manual_seed(0)
    clip = torch.rand(1, 4, 3, 32, 32)
    later = clip.clone()
    later[:, 3] = torch.rand(3, 32, 32)
    earlier = clip.clone()
    earlier[:, 0] = torch.rand(3, 32, 32)
    vtt = ResNet18TSM(7, shift="vtt").eval()
    with torch.no_grad():
        a, b, c = vtt(clip), vtt(later), vtt(earlier)
    assert torch.allclose(a[:, :3], b[:, :3]) and not torch.allclose(a[:, 3], b[:, 3])
    assert all(not torch.allclose(a[:, i], c[:, i]) for i in range(4))
    tsm = ResNet18TSM(7, shift="tsm").eval()
    tsm.load_state_dict(vtt.state_dict())
    with torch.no_grad():
        assert not torch.allclose(tsm(clip)[:, 2], tsm(later)[:, 2])  # frame 2 sees frame 3


def test_vtt_loss_halves():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    target = torch.tensor([2, 1])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    emo = bce(logits, torch.nn.functional.one_hot(target, 3).float())
    pair = torch.tensor([[0.5, 2.0], [-2.0, 1.0]])
    neu = bce(pair, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert torch.isclose(vtt_loss(logits, target, neutral=2), 0.5 * emo + 0.5 * neu)
    assert torch.isclose(vtt_loss(logits, target, neutral=None), emo)


class _Clip:
    """A sample whose face video is a bright square left or right (the class)."""

    def __init__(self, i: int, label: int, task: Task, n: int = 10):
        self.id, self.task, self.y = f"v{i}", task, label
        rng = np.random.default_rng(i)
        frames = rng.integers(0, 40, size=(n, 48, 48, 3)).astype(np.uint8)
        frames[:, 12:36, (4 if label == 0 else 28):(4 if label == 0 else 28) + 16] = 230
        self.frames = frames
        self.subject = f"s{i}"

    def x(self, name, size=(48, 48), gray=False):
        import cv2
        return np.stack([cv2.resize(f, size[::-1]) for f in self.frames])


def test_trains_beyond_chance_and_streams_like_offline():
    task = Task(name="side", kind="classification", level="clip", classes=("left", "right"))
    train = [_Clip(i, i % 2, task) for i in range(24)]
    test = [_Clip(100 + i, i % 2, task) for i in range(10)]
    ctx = FitContext(task=task, modalities={}, profile="default", seed=0)
    # the class is a side of the frame: the horizontal-flip augmentation would erase it;
    # 96 clips in one epoch left 2-3 of 5 seeds at chance, 192 in two learn it in 5 of 5
    model = TSMResNet(lr=1e-3, batch_size=8, size=24, width=32, clip_budget=192, epochs=2,
                      static_fraction=0.5, augment=False).fit(train, [], ctx)
    acc = np.mean([p == s.y for p, s in zip(model.predict(test), test)])
    assert acc >= 0.8
    frames = test[0].x("face_video", size=(24, 24))
    rgb = (frames[..., ::-1] / 255.0).astype(np.float32)
    offline = model.frame_logits(rgb, np.arange(len(rgb)))
    stream = model.streamer("face_video", task)
    assert isinstance(stream, TSMStreamer)
    online = [stream.push(f) for f in frames]
    expected = torch.softmax(torch.from_numpy(offline), -1).numpy()
    np.testing.assert_allclose(np.stack(online), expected, atol=1e-5)
    assert window_ending_at(rgb, 0).shape == (4, 24, 24, 3)
    # the online trace's batch: the same answers, and a buffer left as the pushes leave it
    many = model.streamer("face_video", task)
    np.testing.assert_allclose(np.stack(many.push_many(list(frames[:-2]))), expected[:-2], atol=1e-5)
    np.testing.assert_allclose(np.stack([many.push(f) for f in frames[-2:]]), expected[-2:], atol=1e-5)


def test_one_causal_pass_equals_the_sliding_windows():
    torch.manual_seed(1)
    model = TSMResNet()
    model.net_ = ResNet18TSM(3, shift="vtt").eval()
    frames = np.random.default_rng(0).random((150, 24, 24, 3)).astype(np.float32)
    ends = np.arange(150)
    whole = model.frame_logits(frames, ends)             # one pass, chunked
    windows = np.concatenate([model.frame_logits(frames, ends[i:i + 10]) for i in range(0, 150, 10)])
    np.testing.assert_allclose(whole, windows, atol=1e-4)


def test_augmentation_moves_every_frame_of_a_clip_alike():
    from emobench_plugins.models.tsm_resnet import augment

    rng = np.random.default_rng(0)
    frame = torch.rand(3, 16, 16)
    clips = frame.expand(6, 4, 3, 16, 16).contiguous()
    out = augment(clips, rng)
    assert out.shape == clips.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    noiseless = [i for i in range(6) if torch.equal(out[i, 0], out[i, 1])]
    assert noiseless  # p 0.1 of noise per clip: most clips carry none
    for i in noiseless:
        assert all(torch.equal(out[i, 0], out[i, t]) for t in range(4))
    assert not torch.allclose(out[noiseless[0], 0], frame)  # moved, scaled or flipped


def test_one_frame_videos_train_as_single_frames_with_the_same_outputs():
    """Four copies of an image through the causal shift give the image's own output."""
    torch.manual_seed(0)
    net = ResNet18TSM(3, shift="vtt", width=8).eval()
    x = torch.rand(2, 1, 3, 32, 32)
    with torch.no_grad():
        one = net(x)
        four = net(x.expand(2, 4, 3, 32, 32))
    for t in range(4):
        torch.testing.assert_close(four[:, t], one[:, 0], rtol=1e-5, atol=1e-5)


def test_standardise_gives_grey_frames_of_zero_mean_and_unit_variance():
    from emobench_plugins.models.tsm_resnet import standardise

    x = torch.rand(2, 4, 3, 8, 8) * torch.tensor([1.0, 0.5, 0.2])[:, None, None]
    g = standardise(x)
    assert g.shape == x.shape
    assert torch.equal(g[:, :, 0], g[:, :, 1]) and torch.equal(g[:, :, 0], g[:, :, 2])
    assert torch.allclose(g[:, :, 0].mean(dim=(-2, -1)), torch.zeros(2, 4), atol=1e-5)
    assert torch.allclose(g[:, :, 0].std(dim=(-2, -1)), torch.ones(2, 4), atol=1e-4)
    # a brighter, more contrasted copy of a frame standardises to the same frame
    assert torch.allclose(standardise(0.1 + 2 * x), g, atol=1e-4)


def test_crop_keeps_the_centre_of_the_face_box():
    from emobench_plugins.models.tsm_resnet import rgb_frames

    task = Task(name="side", kind="classification", level="clip", classes=("left", "right"))
    clip = _Clip(0, 0, task)
    full = rgb_frames(clip, 40)
    centre = rgb_frames(clip, 32, crop=0.8)
    assert centre.shape == (10, 32, 32, 3)
    np.testing.assert_allclose(centre, full[:, 4:36, 4:36], atol=1e-6)
