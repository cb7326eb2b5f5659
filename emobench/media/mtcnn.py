"""MTCNN face detector (P-Net, R-Net, O-Net) in plain torch, with 5 landmarks.

The weights are the state dicts shipped in the ``facenet-pytorch`` wheel
(``facenet_pytorch/data/{pnet,rnet,onet}.pt``); that package's own code needs
torchvision, which does not work beside the CPU torch here, so only its data
files are read. Nothing is downloaded. Steps (Zhang et al. 2016): an image
pyramid scanned by P-Net, box regression + NMS, squared boxes refined by R-Net,
then O-Net gives the final boxes, scores and landmarks. torch is imported
inside functions so ``import emobench.media`` stays light.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .decode import FaceDetectorUnavailable, _bump
from .faces import Box

INSTALL_HINT = 'pip install --no-deps "facenet-pytorch==2.6.0" (scripts/install.sh does this)'


class FaceDetection(NamedTuple):
    box: Box
    score: float
    landmarks: np.ndarray  # (5, 2) x, y: left eye, right eye, nose, mouth left, mouth right


def weights_dir() -> Path:
    """Folder holding pnet.pt / rnet.pt / onet.pt inside the installed wheel."""
    # find_spec does not execute facenet_pytorch/__init__.py (which imports torchvision).
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FaceDetectorUnavailable(f"MTCNN weights: facenet_pytorch is not installed; {INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    missing = [n for n in ("pnet.pt", "rnet.pt", "onet.pt") if not (folder / n).is_file()]
    if missing:
        raise FaceDetectorUnavailable(f"{folder}: MTCNN weights {missing} missing; {INSTALL_HINT}")
    return folder


def _build_nets():
    import torch
    from torch import nn

    def conv(i, o, k):
        return nn.Conv2d(i, o, k)

    class PNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.prelu1 = conv(3, 10, 3), nn.PReLU(10)
            self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv2, self.prelu2 = conv(10, 16, 3), nn.PReLU(16)
            self.conv3, self.prelu3 = conv(16, 32, 3), nn.PReLU(32)
            self.conv4_1, self.conv4_2 = conv(32, 2, 1), conv(32, 4, 1)

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
            return torch.softmax(self.conv4_1(x), dim=1), self.conv4_2(x)

    class RNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.prelu1 = conv(3, 28, 3), nn.PReLU(28)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2, self.prelu2 = conv(28, 48, 3), nn.PReLU(48)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3, self.prelu3 = conv(48, 64, 2), nn.PReLU(64)
            self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
            self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.prelu3(self.conv3(x))
            # The weights come from Caffe, which flattens in (W, H, C) order.
            x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
            return torch.softmax(self.dense5_1(x), dim=1), self.dense5_2(x)

    class ONet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.prelu1 = conv(3, 32, 3), nn.PReLU(32)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2, self.prelu2 = conv(32, 64, 3), nn.PReLU(64)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3, self.prelu3 = conv(64, 64, 3), nn.PReLU(64)
            self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv4, self.prelu4 = conv(64, 128, 2), nn.PReLU(128)
            self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
            self.dense6_1, self.dense6_2, self.dense6_3 = (
                nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10))

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.pool3(self.prelu3(self.conv3(x)))
            x = self.prelu4(self.conv4(x))
            x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
            return torch.softmax(self.dense6_1(x), dim=1), self.dense6_2(x), self.dense6_3(x)

    folder = weights_dir()
    nets = []
    for cls, name in ((PNet, "pnet.pt"), (RNet, "rnet.pt"), (ONet, "onet.pt")):
        net = cls()
        net.load_state_dict(torch.load(folder / name, map_location="cpu", weights_only=True))
        nets.append(net.eval())
    return nets


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by IoU non-maximum suppression (boxes are x1, y1, x2, y2)."""
    import cv2
    if len(boxes) == 0:
        return np.zeros(0, dtype=int)
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(float).tolist(), 0.0, float(iou))
    return np.asarray(keep, dtype=int).reshape(-1)


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply the nets' box offsets, which are fractions of the box size."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return boxes[:, :4] + reg * np.column_stack([w, h, w, h])


def _square(boxes: np.ndarray) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x0 = boxes[:, 0] + (w - side) / 2
    y0 = boxes[:, 1] + (h - side) / 2
    return np.column_stack([x0, y0, x0 + side, y0 + side])


def _crops(img: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """(N, 3, size, size) float crops, zero-padded where a box leaves the image."""
    import cv2
    H, W = img.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    for i, (x0, y0, x1, y1) in enumerate(np.round(boxes).astype(int)):
        if x1 <= x0 or y1 <= y0:
            continue
        patch = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.float32)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
        out[i] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return out.transpose(0, 3, 1, 2)


class MTCNNDetector:
    """Three-stage MTCNN; ``detect`` has the :class:`FaceDetector` interface.

    ``min_size`` is the smallest face side in pixels; ``thresholds`` are the
    P/R/O-Net face probabilities a candidate must reach; ``factor`` is the
    pyramid's scale step. ``detect_faces`` also gives scores and landmarks.
    """

    def __init__(self, *, min_size: int = 20, thresholds=(0.6, 0.7, 0.7), factor: float = 0.709):
        if min_size < 12:
            raise ValueError(f"MTCNNDetector: min_size must be >= 12 (P-Net's window), got {min_size}")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"MTCNNDetector: factor must be in (0, 1), got {factor}")
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise ValueError(f"MTCNNDetector: thresholds must be 3 values in [0, 1], got {thresholds}")
        self.min_size, self.thresholds, self.factor = int(min_size), tuple(thresholds), float(factor)
        self.pnet, self.rnet, self.onet = _build_nets()
        self.n_detections = 0

    def _stage1(self, img, torch):
        import cv2
        H, W = img.shape[:2]
        m = 12.0 / self.min_size
        scale, found = m, []
        while min(H, W) * scale >= 12:
            h, w = int(np.ceil(H * scale)), int(np.ceil(W * scale))
            x = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)[None]
            prob, reg = self.pnet(torch.from_numpy(np.ascontiguousarray(x)))
            prob, reg = prob[0, 1].numpy(), reg[0].numpy()
            ys, xs = np.nonzero(prob >= self.thresholds[0])
            if len(ys):
                # Each P-Net output cell sees a 12x12 window at stride 2 of the scaled image.
                cells = np.column_stack([xs * 2, ys * 2, xs * 2 + 12, ys * 2 + 12]) / scale
                b = np.column_stack([cells, prob[ys, xs], reg[:, ys, xs].T])
                found.append(b[_nms(b[:, :4], b[:, 4], 0.5)])
            scale *= self.factor
        if not found:
            return np.zeros((0, 5))
        b = np.concatenate(found)
        b = b[_nms(b[:, :4], b[:, 4], 0.7)]
        return np.column_stack([_square(_regress(b, b[:, 5:9])), b[:, 4]])

    def _refine(self, img, boxes, net, size, thresh, torch):
        out = net(torch.from_numpy(_crops(img, boxes[:, :4], size)))
        prob = out[0][:, 1].numpy()
        keep = prob >= thresh
        return boxes[keep], prob[keep], [o[keep].numpy() for o in out[1:]]

    def detect_faces(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in a BGR (or gray) uint8 frame, with score and 5 landmarks, most confident first."""
        import cv2
        import torch

        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            raise ValueError(f"MTCNNDetector.detect: expected uint8 pixels, got {frame.dtype}")
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        # The nets were trained on RGB scaled to [-1, 1].
        img = (cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) - 127.5) * 0.0078125
        self.n_detections += 1
        _bump("detections")
        with torch.inference_mode():
            boxes = self._stage1(img, torch)
            if len(boxes):
                boxes, _, (reg,) = self._refine(img, boxes, self.rnet, 24, self.thresholds[1], torch)
                boxes = _square(_regress(boxes, reg))
                boxes = boxes[_nms(boxes, np.ones(len(boxes)), 0.7)] if len(boxes) else boxes
            if len(boxes) == 0:
                return []
            boxes, prob, (reg, pts) = self._refine(img, boxes, self.onet, 48, self.thresholds[2], torch)
        if len(boxes) == 0:
            return []
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        lm = np.stack([boxes[:, :1] + w[:, None] * pts[:, :5], boxes[:, 1:2] + h[:, None] * pts[:, 5:]], axis=2)
        final = _regress(boxes, reg)
        keep = _nms(final, prob, 0.7)
        result = []
        for i in keep:
            x0, y0, x1, y1 = final[i]
            box = Box(int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
            result.append(FaceDetection(box, float(prob[i]), lm[i].astype(np.float32)))
        # Most confident first, not largest: O-Net's rare false positives are big
        # low-score boxes (a torso), and the tracker starts from the first box.
        result.sort(key=lambda d: d.score, reverse=True)
        return result

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Face boxes only, most confident first (the :class:`FaceDetector` interface)."""
        return [d.box for d in self.detect_faces(frame)]


def align_face(frame: np.ndarray, landmarks: np.ndarray, *, size: tuple[int, int] = (112, 112),
               eye_y: float = 0.38, eye_dist: float = 0.4) -> np.ndarray:
    """Eye-aligned crop: rotate so the eyes are level, scale so they are
    ``eye_dist`` of the width apart, centred horizontally at height ``eye_y``."""
    import cv2
    lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    (lx, ly), (rx, ry) = lm[0], lm[1]
    oh, ow = int(size[0]), int(size[1])
    angle = np.degrees(np.arctan2(ry - ly, rx - lx))
    dist = max(np.hypot(rx - lx, ry - ly), 1e-6)
    M = cv2.getRotationMatrix2D(((lx + rx) / 2, (ly + ry) / 2), angle, eye_dist * ow / dist)
    M[0, 2] += ow / 2 - (lx + rx) / 2
    M[1, 2] += eye_y * oh - (ly + ry) / 2
    return cv2.warpAffine(np.asarray(frame), M, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=0)
