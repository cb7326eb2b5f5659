"""Face rendering with OpenCV drawing, and the 66-point AAM-style landmarks it is drawn from.

The face is a 3-D point model (66 landmarks plus a forehead arc) in units of the face
half-width, deformed by the action units (brows by AU1/2/4, lids by AU5/6/7/43/45, nose by
AU9, lips by AU10/12/14/15/16/17/20/23/25/26/27), rotated by head pose (yaw, pitch, roll in
degrees), projected orthographically and drawn: hair, skin-toned face, brows, eyes with iris
and pupil, nose shading and nostrils, lips, mouth opening with teeth, wrinkles (AU4 furrows,
AU9 nose wrinkles, AU6 crow's feet, AU12 nasolabial folds).  Lighting is a directional
gradient times a gain; pixel noise is Gaussian.  Landmark order follows the 66-point
Multi-PIE/AAM scheme used by UNBC-McMaster (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
outer lips 48-59, inner lips 60-65).
"""
from __future__ import annotations

import cv2
import numpy as np

from .constants import AU_INDEX, N_AUS
from .subjects import Subject

N_LANDMARKS = 66
_SHIFT = 4              # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT


def _u(aus: np.ndarray, name: str) -> float:
    return float(np.clip(aus[AU_INDEX[name]], 0.0, 5.0)) / 5.0


def canonical_points(subject: Subject, aus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(66, 3) landmarks and (15, 3) forehead-arc points of ``subject`` showing ``aus``,
    in face-centred units (x right, y down, z towards the camera)."""
    g = subject.geometry
    aus = np.asarray(aus, float)
    if aus.shape != (N_AUS,):
        raise ValueError(f"face: au_row must have shape ({N_AUS},), got {aus.shape}")
    u = {n: _u(aus, n) for n in AU_INDEX}
    A = g.aspect
    pts = np.zeros((N_LANDMARKS, 3))

    # jaw 0..16, from the subject's right (image left) round the chin; AU26/27 drop the chin
    drop = 0.16 * u["AU26"] + 0.3 * u["AU27"] + 0.05 * u["AU50"]
    y0 = -g.eye_height + 0.05
    phi = np.pi - np.pi * np.arange(17) / 16
    s = np.sin(phi)
    width = 1.0 - (1.0 - g.jaw_width) * s ** 3
    pts[:17, 0] = np.cos(phi) * width
    pts[:17, 1] = y0 + s * (A - y0) + drop * s ** 2 - 0.03 * u["AU17"] * s ** 8
    pts[:17, 2] = -0.35 * np.abs(np.cos(phi)) + 0.1 * s

    # brows 17..21 (image left) and 22..26; AU1 inner up, AU2 outer up, AU4 down and together
    ye = -g.eye_height
    xb = np.linspace(g.eye_spacing + 1.25 * g.eye_size, g.eye_spacing - 1.05 * g.eye_size, 5)
    t = np.linspace(0, 1, 5)  # 0 = outer, 1 = inner
    arch = 0.045 * np.sin(np.pi * (0.2 + 0.7 * t))
    lift = 0.13 * u["AU01"] * t ** 1.5 + 0.13 * u["AU02"] * (1 - t) ** 1.5 + 0.03 * u["AU05"]
    lower = 0.085 * u["AU04"] * (0.5 + 0.5 * t) + 0.03 * u["AU09"] * t + 0.02 * u["AU07"]
    yb = ye - g.brow_gap - arch - lift + lower
    inward = 0.05 * u["AU04"] * t
    pts[17:22, 0] = -(xb - inward)
    pts[17:22, 1] = yb
    pts[22:27, 0] = (xb - inward)[::-1]
    pts[22:27, 1] = yb[::-1]
    pts[17:27, 2] = 0.3

    # nose 27..35; AU9 lifts the nostrils
    tip = ye + g.nose_length
    pts[27:31, 0] = 0.0
    pts[27:31, 1] = np.linspace(ye, tip, 4)
    pts[27:31, 2] = np.linspace(0.4, 0.75, 4)
    nl = 0.035 * u["AU09"] + 0.01 * u["AU10"]
    pts[31:36, 0] = np.linspace(-g.nose_width, g.nose_width, 5) * (1 + 0.1 * u["AU09"])
    pts[31:36, 1] = tip + 0.05 - nl + np.array([0, 0.015, 0.025, 0.015, 0])
    pts[31:36, 2] = [0.45, 0.55, 0.6, 0.55, 0.45]

    # eyes 36..41 (image left) and 42..47; opening from AU5 (wider), AU6/7 (narrower), closure
    closure = max(min(aus[AU_INDEX["AU45"]] / 4.0, 1.0), float(aus[AU_INDEX["AU43"]] > 0.5))
    up = 0.36 * g.eye_size * (1 + 0.9 * u["AU05"] - 0.35 * u["AU07"] - 0.2 * u["AU06"]) * (1 - closure)
    lo = 0.3 * g.eye_size * (1 - 0.45 * u["AU06"] - 0.55 * u["AU07"])
    lo = max(lo, 0.05 * g.eye_size)
    up = max(up, 0.0)
    es = g.eye_size
    for side, base, order in ((-1, 36, (-1, 1)), (1, 42, (1, -1))):
        cx = side * g.eye_spacing
        # canonical order: outer, upper-outer, upper-inner, inner, lower-inner, lower-outer
        dx = np.array([-1.0, -0.4, 0.4, 1.0, 0.4, -0.4]) * es
        dy = np.array([0.02, -up - 0.03 * es, -up - 0.03 * es, 0.02, lo, lo]) * 1.0
        dy[1:3] = np.minimum(dy[1:3], dy[[5, 4]])  # lids never cross
        if side == -1:   # image-left eye: 36 outer (left), 39 inner (right)
            xs, ys = cx + dx, ye + dy
        else:            # 42 inner (left), 45 outer (right)
            xs, ys = cx - dx, ye + dy
            xs = xs[[3, 2, 1, 0, 5, 4]]
            ys = ys[[3, 2, 1, 0, 5, 4]]
        pts[base:base + 6, 0] = xs
        pts[base:base + 6, 1] = ys
        pts[base:base + 6, 2] = 0.3

    # lips 48..65
    ym = g.mouth_height
    mw = g.mouth_width * (1 + 0.25 * u["AU12"] + 0.3 * u["AU20"] - 0.12 * u["AU23"]
                          - 0.08 * u["AU14"] - 0.1 * u["AU27"] - 0.05 * u["AU16"])
    lt = g.lip_thickness * (1 - 0.55 * u["AU23"])
    corner_dy = -0.1 * u["AU12"] + 0.1 * u["AU15"] + 0.02 * u["AU20"] - 0.015 * u["AU14"]
    gap = 0.05 * u["AU25"] + 0.15 * u["AU26"] + 0.3 * u["AU27"] + 0.03 * u["AU50"] + 0.02 * u["AU16"]
    up_raise = 0.06 * u["AU10"] + 0.02 * u["AU09"]
    low_push = 0.03 * u["AU17"] - 0.06 * u["AU16"]
    top = ym - gap / 2 - up_raise
    bot = ym + gap / 2 - low_push
    cupid = np.array([0.3, 1.0, 0.75, 1.0, 0.3])
    xo = np.array([-0.55, -0.22, 0.0, 0.22, 0.55]) * mw
    smile_curve = corner_dy * (np.abs(xo) / mw) ** 2  # corners move more than the centre
    pts[48] = (-mw, ym + corner_dy, 0.3)
    pts[54] = (mw, ym + corner_dy, 0.3)
    pts[49:54, 0] = xo
    pts[49:54, 1] = top - lt * (0.6 + 0.7 * cupid) + smile_curve
    xl = xo[::-1]
    pts[55:60, 0] = xl
    pts[55:60, 1] = bot + lt * (1.2 + 0.5 * (1 - np.abs(xl) / mw)) + corner_dy * (np.abs(xl) / mw) ** 2
    pts[48:60, 2] = 0.4
    xi = np.array([-0.35, 0.0, 0.35]) * mw
    pts[60:63, 0] = xi
    pts[60:63, 1] = top + corner_dy * (np.abs(xi) / mw) ** 2
    pts[63:66, 0] = xi[::-1]
    pts[63:66, 1] = bot + corner_dy * (np.abs(xi[::-1]) / mw) ** 2
    pts[60:66, 2] = 0.42

    # forehead arc for the outline (not a landmark): from point 16 over the top to point 0
    phi_f = np.linspace(0, -np.pi, 17)[1:-1]
    arc = np.stack([np.cos(phi_f) * 1.0, y0 + np.sin(phi_f) * (A + y0), -0.1 + 0.2 * -np.sin(phi_f)], axis=1)
    return pts, arc


def _rotation(pose) -> np.ndarray:
    yaw, pitch, roll = np.deg2rad(np.asarray(pose, float))
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def default_face_box(size: tuple[int, int], crop: bool, aspect: float = 1.32) -> tuple[float, float, float]:
    """(cx, cy, half_width_px) of the face: centred and filling an aligned crop, or about
    60% of the frame height in a whole frame."""
    w, h = size
    if crop:
        hw = min(w, h / aspect) * 0.36
        return w / 2.0, h / 2.0 + 0.02 * h, hw
    return w / 2.0, h / 2.0, h * 0.3 / aspect


def _size(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    w, h = (int(v) for v in size)
    if w < 16 or h < 16:
        raise ValueError(f"face: size must be at least 16x16 (width, height), got {size}")
    return w, h


def _project(points: np.ndarray, pose, box) -> np.ndarray:
    cx, cy, hw = box
    p = points @ _rotation(pose).T
    return np.stack([cx + hw * p[:, 0], cy + hw * p[:, 1]], axis=1)


def landmarks(subject: Subject, au_row: np.ndarray, *, size=(320, 240), pose=(0.0, 0.0, 0.0),
              crop: bool = False, face_box: tuple[float, float, float] | None = None) -> np.ndarray:
    """(66, 2) pixel (x, y) landmarks of the face that ``render_face`` draws with the same
    arguments."""
    w, h = _size(size)
    box = face_box or default_face_box((w, h), crop, subject.geometry.aspect)
    pts, _ = canonical_points(subject, au_row)
    return _project(pts, pose, box)


def make_background(size, rng: np.random.Generator, crop: bool = False) -> np.ndarray:
    """A smooth, textured room-like background (uint8 BGR) for whole frames or crops."""
    w, h = _size(size)
    base = rng.uniform(70, 180) + rng.normal(0, 18, 3)
    low = rng.normal(0, 1, (4, 5, 1)) + 0.35 * rng.normal(0, 1, (4, 5, 3))  # mostly grey texture
    tex = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    yy = np.linspace(-1, 1, h)[:, None, None]
    img = base + 25 * tex + rng.uniform(-30, 30) * yy
    if not crop:  # a couple of furniture-like rectangles
        for _ in range(2):
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            colour = rng.uniform(50, 190) + rng.normal(0, 20, 3)
            img[y0:y0 + rng.integers(h // 8, h // 2), x0:x0 + rng.integers(w // 10, w // 3)] = colour
    return np.clip(img, 0, 255).astype(np.uint8)


def _poly(img, pts, colour, closed=True, thickness=None):
    p = np.round(pts * _ONE).astype(np.int32).reshape(-1, 1, 2)
    col = tuple(float(c) for c in colour)
    if thickness is None:
        cv2.fillPoly(img, [p], col, cv2.LINE_AA, _SHIFT)
    else:
        cv2.polylines(img, [p], closed, col, max(1, int(round(thickness))), cv2.LINE_AA, _SHIFT)


def _ellipse(img, centre, axes, angle, colour, thickness=-1):
    c = tuple(int(round(v * _ONE)) for v in centre)
    a = tuple(max(0, int(round(v * _ONE))) for v in axes)
    cv2.ellipse(img, c, a, float(angle), 0, 360, tuple(float(x) for x in colour), thickness, cv2.LINE_AA, _SHIFT)


def _scaled(colour, k):
    return np.clip(np.asarray(colour, float) * k, 0, 255)


def render_face(subject: Subject, au_row: np.ndarray, *, size=(320, 240), pose=(0.0, 0.0, 0.0),
                crop: bool = False, face_box: tuple[float, float, float] | None = None,
                rng: np.random.Generator | None = None, background: np.ndarray | None = None,
                lighting: float = 1.0, light_direction: float = 0.0, noise_sd: float = 3.0,
                gaze: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Draw ``subject`` showing ``au_row`` (N_AUS intensities) as a uint8 BGR image.

    ``size`` is (width, height) or an int; ``crop=True`` gives an aligned face crop,
    otherwise a whole frame with the face at ``face_box`` (cx, cy, half-width px; default
    centred) over ``background`` (default: drawn from ``rng``).  ``pose`` = (yaw, pitch, roll)
    degrees; ``lighting`` a brightness gain (times the subject's group lighting);
    ``light_direction`` in [-1, 1] shades one side; ``gaze`` shifts the irises (-1..1);
    ``noise_sd`` is Gaussian pixel noise drawn from ``rng``.  With ``rng=None`` no noise is
    added and the background is flat grey, so the output is a pure function of the inputs.
    """
    w, h = _size(size)
    g = subject.geometry
    box = face_box or default_face_box((w, h), crop, g.aspect)
    hw = box[2]
    pts3, arc3 = canonical_points(subject, au_row)
    lm = _project(pts3, pose, box)
    arc = _project(arc3, pose, box)
    aus = np.asarray(au_row, float)
    u = {n: _u(aus, n) for n in ("AU04", "AU06", "AU09", "AU10", "AU12", "AU17", "AU14")}
    if background is not None:
        if background.shape[:2] != (h, w):
            raise ValueError(f"render_face: background shape {background.shape[:2]} != {(h, w)}")
        img = background.astype(np.uint8).copy()
    elif rng is not None:
        img = make_background((w, h), rng, crop)
    else:
        img = np.full((h, w, 3), 128, np.uint8)

    skin = np.asarray(g.skin_bgr, float)
    hair = np.asarray(g.hair_bgr, float)
    proj = lambda p: _project(np.atleast_2d(np.asarray(p, float)), pose, box)  # noqa: E731

    # neck and hair behind the head
    neck = proj([[-0.45, 0.6, -0.5], [0.45, 0.6, -0.5], [0.5, g.aspect + 1.2, -0.5], [-0.5, g.aspect + 1.2, -0.5]])
    _poly(img, neck, _scaled(skin, 0.78))
    hair_pts = proj(np.concatenate([[[1.12, -0.05, -0.2]],
                                    np.stack([1.15 * np.cos(np.linspace(0, -np.pi, 19)),
                                              -0.05 + 1.12 * (g.aspect - 0.1) * np.sin(np.linspace(0, -np.pi, 19)),
                                              np.full(19, -0.2)], axis=1),
                                    [[-1.12, -0.05, -0.2]]]))
    _poly(img, hair_pts, hair)

    outline = np.concatenate([lm[:17], arc])
    _poly(img, outline, skin)
    # fringe: hair over the top of the forehead, between the arc and a lower hairline
    y0 = -g.eye_height + 0.05
    ph = np.linspace(-0.2, -np.pi + 0.2, 15)
    outer = np.stack([1.03 * np.cos(ph), y0 + 1.03 * np.sin(ph) * (g.aspect + y0), np.zeros(15)], axis=1)
    line = y0 - 0.3 - 0.12 * np.cos(ph[::-1] * 2 + 0.6)  # slightly wavy hairline
    inner = np.stack([0.9 * np.cos(ph[::-1]), np.minimum(line, y0 + 0.95 * np.sin(ph[::-1]) * (g.aspect + y0) + 0.25),
                      np.zeros(15)], axis=1)
    _poly(img, proj(np.concatenate([outer, inner])), hair)

    # eye sockets and cheek shading (gives the darker-eyes / brighter-cheeks Haar pattern)
    for eye in (lm[36:42], lm[42:48]):
        c = eye.mean(axis=0)
        _ellipse(img, c, (1.45 * g.eye_size * hw, 0.75 * g.eye_size * hw), pose[2], _scaled(skin, 0.82))
    # nose shading along the side of the bridge
    side = 1 if pose[0] >= 0 else -1
    _poly(img, np.stack([lm[27] + [side * 0.05 * hw, 0], lm[30] + [side * 0.08 * hw, 0],
                         lm[33 + side] + [side * 0.02 * hw, 0]]), _scaled(skin, 0.82))
    _poly(img, lm[[27, 28, 29, 30]], _scaled(skin, 0.72), closed=False, thickness=max(1, 0.02 * hw))
    _poly(img, lm[31:36], _scaled(skin, 0.6), closed=False, thickness=max(1, 0.02 * hw))
    for k in (32, 34):
        _ellipse(img, lm[k] + [0, -0.01 * hw], (0.03 * hw, 0.018 * hw), pose[2], _scaled(skin, 0.35))

    # wrinkles driven by AUs
    if u["AU04"] > 0.1:
        for dx in (-0.05, 0.05):
            a = proj([dx, -g.eye_height - g.brow_gap + 0.02, 0.35])[0]
            b = proj([dx * 0.8, -g.eye_height - g.brow_gap - 0.12, 0.35])[0]
            _poly(img, np.stack([a, b]), _scaled(skin, 1 - 0.45 * u["AU04"]), False, max(1, 0.015 * hw))
    if u["AU09"] > 0.1:
        for k in range(3):
            y = -g.eye_height + 0.06 + 0.04 * k
            _poly(img, proj([[-0.07, y, 0.45], [0.07, y, 0.45]]), _scaled(skin, 1 - 0.5 * u["AU09"]), False,
                  max(1, 0.012 * hw))
    if u["AU06"] > 0.15:
        for sgn, corner in ((-1, 36), (1, 45)):
            for k in (-1, 0, 1):
                a = lm[corner] + np.array([sgn * 0.03, 0.04 * k]) * hw
                b = a + np.array([sgn * 0.09, 0.05 * k]) * hw
                _poly(img, np.stack([a, b]), _scaled(skin, 1 - 0.35 * u["AU06"]), False, max(1, 0.01 * hw))
    fold = 0.25 * u["AU12"] + 0.35 * u["AU10"] + 0.2 * u["AU09"]
    if fold > 0.08:
        for n0, m0 in ((31, 48), (35, 54)):
            a = lm[n0] + (lm[n0] - lm[33]) * 0.5
            b = lm[m0] + (lm[m0] - lm[51]) * 0.12
            mid = (a + b) / 2 + (a - lm[33]) * 0.25
            _poly(img, np.stack([a, mid, b]), _scaled(skin, 1 - fold), False, max(1, 0.012 * hw))
    if u["AU17"] > 0.2:
        c = (lm[8] + lm[57]) / 2
        _ellipse(img, c, (0.12 * hw, 0.04 * hw), pose[2], _scaled(skin, 1 - 0.2 * u["AU17"]), max(1, int(0.01 * hw)))
    if u["AU14"] > 0.2:
        for k in (48, 54):
            _ellipse(img, lm[k] + (lm[k] - lm[51]) * 0.12, (0.012 * hw, 0.02 * hw), 0, _scaled(skin, 0.6))

    # eyes: sclera, iris, pupil, lids
    for eye, sgn in ((lm[36:42], -1), (lm[42:48], 1)):
        opening = np.linalg.norm(eye[[1, 2]].mean(0) - eye[[5, 4]].mean(0))
        if opening > 0.02 * hw:
            # draw sclera/iris/pupil on a small ROI copy and keep only the pixels inside the lids
            x0, y0 = np.maximum(np.floor(eye.min(axis=0)).astype(int) - 2, 0)
            x1, y1 = np.minimum(np.ceil(eye.max(axis=0)).astype(int) + 3, [w, h])
            if x1 > x0 and y1 > y0:
                off = np.array([x0, y0], float)
                roi = img[y0:y1, x0:x1]
                layer = roi.copy()
                mask = np.zeros(roi.shape[:2], np.uint8)
                _poly(mask, eye - off, (255,))
                _poly(layer, eye - off, (238, 242, 245))
                c = eye.mean(axis=0) - off + np.array([gaze[0], gaze[1]]) * 0.35 * g.eye_size * hw
                r_iris = 0.48 * g.eye_size * hw
                _ellipse(layer, c, (r_iris, r_iris), 0, g.iris_bgr)
                _ellipse(layer, c, (0.5 * r_iris, 0.5 * r_iris), 0, (15, 15, 15))
                _ellipse(layer, c + [-0.25 * r_iris, -0.3 * r_iris], (0.15 * r_iris, 0.15 * r_iris), 0,
                         (235, 235, 235))
                np.copyto(roi, layer, where=(mask > 0)[:, :, None])
        _poly(img, eye[[0, 1, 2, 3]], (25, 25, 30), False, max(1, 0.025 * hw))
        _poly(img, eye[[3, 4, 5, 0]], _scaled(skin, 0.55), False, max(1, 0.012 * hw))

    # brows
    _poly(img, lm[17:22], hair * 0.8, False, max(1, g.brow_thickness * hw))
    _poly(img, lm[22:27], hair * 0.8, False, max(1, g.brow_thickness * hw))

    # mouth: lips, then the opening with teeth
    lip = np.clip(skin * np.array([0.62, 0.58, 0.95]), 0, 255)
    _poly(img, lm[48:60], lip)
    inner = lm[[48, 60, 61, 62, 54, 63, 64, 65]]
    open_h = np.linalg.norm(lm[61] - lm[64])
    if open_h > 0.015 * hw:
        _poly(img, inner, (35, 30, 70))
        teeth = inner.copy()
        teeth[5:] = teeth[[5, 6, 7]] * 0.0 + (teeth[[3, 2, 1]] + (teeth[[5, 6, 7]] - teeth[[3, 2, 1]]) * 0.3)
        _poly(img, teeth, (215, 225, 230))
    _poly(img, inner, _scaled(lip, 0.5), True, max(1, 0.012 * hw))

    # lighting (gain and a horizontal gradient) and pixel noise in one float32 pass
    gain = lighting * subject.lighting
    has_noise = rng is not None and noise_sd > 0
    if gain != 1.0 or light_direction != 0.0 or has_noise:
        xs = (np.arange(w, dtype=np.float32) - box[0]) / max(hw, 1.0)
        grad = (gain * (1.0 + 0.25 * float(light_direction) * np.clip(xs, -1.5, 1.5))).astype(np.float32)
        out = img.astype(np.float32)
        out *= grad[None, :, None]
        if has_noise:
            out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(noise_sd)
        img = np.clip(out, 0, 255, out=out).astype(np.uint8)
    return img
