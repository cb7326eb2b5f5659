"""The fused agent: frozen branches -> fusion head -> online GRU + REINFORCE policy.

emobench reconstruction of the unreleased online stage (the authors' issue #2):
state = GRU over the fusion head's 512-d hidden vector of each window; actions
wait (0) / classify (1) from a policy head reading the GRU state and the class
head's confidence; an episode ends at the first classify or at the clip's last
window (forced). Reward: ``reward_correct`` or ``reward_wrong`` at the decision,
minus ``delay_cost`` per window waited, discounted by ``gamma``; REINFORCE with a
mean-return baseline. The class head learns by cross-entropy at every window.
At inference the agent classifies once p(classify) >= ``threshold``.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from emobench.model import Streamer

from . import PAPER, RECONSTRUCTION, AVAudio, AVVisual, _softmax, train_branch
from .windows import paired


class AVAgent(AVVisual):
    name = "av-agent"
    paper = PAPER + RECONSTRUCTION
    description = ("MobileNetV2 + VGGish branches (frozen) fused by BN-MLP 1408-512-512-C, then a "
                   "GRU and a REINFORCE wait/classify policy over the windows (reconstruction)")
    consumes = ("face_video", "audio")
    consumes_any = False
    # 2: the branches' version 2, audio_budget 2,000 (as av-audio), REINFORCE and the
    # class head step once per RL_BATCH clips instead of once per pass
    version = "2"
    paper_params = {"lr": "auto", "batch_size": 32, "width": "auto", "size": "auto",
                    "audio_width": "auto", "fc": "auto", "window_budget": "auto",
                    "visual_weights": None, "audio_weights": None, "hidden": 64,
                    "reward_correct": 1.0, "reward_wrong": -1.0, "delay_cost": 0.05,
                    "gamma": 0.95, "threshold": 0.5, "rl_epochs": "auto",
                    "visual_budget": "auto", "audio_budget": "auto"}
    RL_EPOCHS: ClassVar[dict] = {"smoke": 2, "default": 15, "paper": 200}
    RL_BATCH: ClassVar[int] = 8  # clips per REINFORCE / class-head step
    # training windows of each branch inside the agent (default profile: fewer than the
    # stand-alone branch cells, so the whole agent fits the planner's budget; recorded)
    VISUAL_BUDGET: ClassVar[dict] = {"smoke": 32, "default": 300, "paper": None}
    AUDIO_BUDGET: ClassVar[dict] = {"smoke": 32, "default": 2000, "paper": None}

    def _budgets(self, profile: str) -> tuple:
        p = self.params
        if p.get("window_budget", "auto") != "auto":  # one budget for both, as before
            return p["window_budget"], p["window_budget"]
        return (self._knob("visual_budget", self.VISUAL_BUDGET, profile),
                self._knob("audio_budget", self.AUDIO_BUDGET, profile))

    @classmethod
    def param_count(cls, modalities=None, task=None):
        from .net import FusionHead

        n = len(task.classes) if task and task.classes else 6
        return sum(p.numel() for p in FusionHead(1408, n).parameters())  # trainable at fusion

    # seconds per training clip of the fusion and online stages (embedding both
    # branches, the fusion head's epochs, RL_EPOCHS of REINFORCE), measured as TRAIN_S
    STAGE_S_PER_CLIP: ClassVar[float] = 0.04
    EMBED_S_PER_CLIP: ClassVar[float] = 0.01
    STREAM_S: ClassVar[float] = 0.008  # per streamed window: both branches, fusion, GRU step

    @classmethod
    def cost(cls, modalities, task, n_samples, knobs, n_steps=0):
        profile = knobs.get("profile", "default")
        budgets = cls()._budgets(profile)
        # the branches are fitted (and watch validation clips) inside the agent; the
        # test clips are the agent's (predicted and streamed below), not theirs
        branches = [b.cost(modalities, task, n_samples, {**knobs, "window_budget": w, "n_test": 0},
                           n_steps)
                    for b, w in zip((AVVisual, AVAudio), budgets)]
        rl = cls.RL_EPOCHS.get(profile, cls.RL_EPOCHS["default"]) / cls.RL_EPOCHS["default"]
        trials = max(1, int(knobs.get("trials", 1)))
        searched = trials if cls.search_space(profile) else 1
        n_valid, n_test = int(knobs.get("n_valid", 0)), int(knobs.get("n_test", 0))
        # embedding every training and validation clip once, the fusion head's epochs,
        # the REINFORCE passes; then each test clip predicted and streamed window by window
        stages = (n_samples + n_valid) * cls.EMBED_S_PER_CLIP + n_samples * cls.STAGE_S_PER_CLIP * rl
        test = n_test * (cls.EMBED_S_PER_CLIP + AVAudio.windows_per_clip(modalities) * cls.STREAM_S)
        return {"seconds": sum(b["seconds"] for b in branches) + (stages * searched + test) / trials,
                "gflop": 0.0}

    def fit(self, train, valid, ctx):
        import torch

        from .net import FusionHead, OnlineAgent

        t0 = time.perf_counter()
        p, prof = self.params, ctx.profile
        n = self.n_classes_ = len(ctx.task.classes)
        vb, ab = self._budgets(prof)
        vis = AVVisual(lr=p["lr"], batch_size=p["batch_size"], width=p["width"], size=p["size"],
                       window_budget=vb, weights=p["visual_weights"])
        aud = AVAudio(lr=p["lr"], batch_size=p["batch_size"], width=p["audio_width"], fc=p["fc"],
                      window_budget=ab, weights=p["audio_weights"])
        self.visual_, self.audio_ = vis.fit(train, valid, ctx), aud.fit(train, valid, ctx)
        self.size_ = vis.size_
        # frozen branches: fused embeddings per window, computed once
        self.visual_.net_.eval(), self.audio_.net_.eval()
        seqs = [self._embed(*paired(s, self.size_)) for s in train]
        # the frozen branches' embeddings of the validation clips, computed once for
        # the fusion head's epoch choice
        self._valid_z = {s.id: self._embed(*paired(s, self.size_)) for s in valid}
        ys = [int(s.y) for s in train]
        self.fusion_ = FusionHead(seqs[0].shape[1], n)
        fusion_model = _FusionView(self)
        self.fusion_history_ = train_branch(fusion_model, self.fusion_, seqs, ys, valid, ctx)
        self.fusion_.eval()
        del self._valid_z
        with torch.no_grad():
            hidden = [self.fusion_.hidden(torch.from_numpy(z)).numpy() for z in seqs]
        self.agent_ = OnlineAgent(hidden[0].shape[1], n, int(p["hidden"]))
        self.rl_history_ = self._reinforce(hidden, ys, ctx)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _embed(self, f, a) -> np.ndarray:
        import torch

        with torch.no_grad():
            zv = self.visual_.net_.embed(torch.from_numpy(f))
            za = self.audio_.net_.embed(torch.from_numpy(a))
        return torch.cat([zv, za], 1).numpy()

    def _reinforce(self, hidden, ys, ctx) -> list[float]:
        import torch

        p = self.params
        rng = np.random.default_rng(ctx.seed)
        torch.manual_seed(ctx.seed)
        # the share does not cut the passes: a pass over precomputed embeddings costs
        # ~2.5 ms per clip, and 4 passes (a 0.25 share) left the class head the agent
        # predicts with undertrained (0.233 [0.130, 0.336] against 0.250 [0.180, 0.320])
        epochs = self.RL_EPOCHS.get(ctx.profile, self.RL_EPOCHS["default"])
        if p.get("rl_epochs", "auto") != "auto":
            epochs = int(p["rl_epochs"])
        opt = torch.optim.Adam(self.agent_.parameters(), lr=1e-3)
        gamma, cost = float(p["gamma"]), float(p["delay_cost"])
        returns_seen = []
        batch = max(1, int(p.get("rl_batch") or self.RL_BATCH))
        for _ in range(epochs):
            # one Adam step per mini-batch of clips (was: one per pass over every clip,
            # i.e. two steps in all at a 0.1 work share): the class head the agent
            # predicts with had barely moved from its initialisation
            order = rng.permutation(len(hidden))
            rets = []
            for start in range(0, len(order), batch):
                loss, logps = 0.0, []
                part = order[start:start + batch]
                for i in part:
                    x = torch.from_numpy(hidden[i])[None]
                    logits, policy = self.agent_(x)
                    ce = torch.nn.functional.cross_entropy(logits[0], torch.full((len(hidden[i]),), ys[i]))
                    dist = torch.distributions.Categorical(logits=policy[0])
                    acts = dist.sample()
                    stop = int(torch.nonzero(acts == 1)[0]) if (acts == 1).any() else len(acts) - 1
                    right = int(logits[0, stop].argmax()) == ys[i]
                    final = float(p["reward_correct"] if right else p["reward_wrong"])
                    # reward -cost per waited window, the outcome at the decision; discounted returns
                    rewards = [-cost] * stop + [final]
                    g, ret = 0.0, []
                    for r in reversed(rewards):
                        g = r + gamma * g
                        ret.append(g)
                    ret = torch.tensor(ret[::-1], dtype=torch.float32)
                    logps.append((dist.log_prob(acts)[:stop + 1], ret))
                    rets.append(float(ret[0]))
                    loss = loss + ce
                base = float(np.mean([float(r[0]) for _, r in logps]))
                pg = sum(-(lp * (ret - base)).sum() for lp, ret in logps)
                opt.zero_grad()
                ((loss + pg) / len(part)).backward()
                opt.step()
            returns_seen.append(float(np.mean(rets)))
        self.agent_.eval()
        return returns_seen

    def online_stream(self, sample):
        f, a = paired(sample, self.size_)
        return list(zip(f, a))

    def window_outputs(self, sample):
        """Per-window class probabilities and p(classify) of the agent over a whole clip."""
        import torch

        z = self._embed(*paired(sample, self.size_))
        with torch.no_grad():
            logits, policy = self.agent_(self.fusion_.hidden(torch.from_numpy(z))[None])
        return _softmax(logits[0].double().numpy()), _softmax(policy[0].double().numpy())[:, 1]

    def predict(self, samples):
        out = []
        for s in samples:
            probs, stop = self.window_outputs(s)
            t = int(np.argmax(stop >= float(self.params["threshold"]))) if (
                stop >= float(self.params["threshold"])).any() else len(stop) - 1
            out.append(int(np.argmax(probs[t])))
        return out

    def streamer(self, kind, task, **spec):
        return AgentStreamer(self, kind, task, **spec)


class _FusionView:
    """What train_branch needs to train the fusion head on per-window embeddings."""

    WINDOW_BUDGET, EPOCHS, LR = AVVisual.WINDOW_BUDGET, AVVisual.EPOCHS, AVVisual.LR
    WATCH_VALID = AVVisual.WATCH_VALID
    RECALIBRATE = AVVisual.RECALIBRATE
    # the head trains on precomputed embeddings (an MLP step costs ~1/100 of a branch
    # step): the share never cuts it below its whole default budget, which at a 0.25
    # share (300 windows, 9 steps) had left the agent at the majority class
    MIN_TRAIN = AVVisual.WINDOW_BUDGET["default"]

    def __init__(self, agent: AVAgent):
        self.agent, self.params = agent, agent.params

    def _knob(self, name, table, profile):
        return self.agent._knob(name, table, profile)

    def predict(self, samples):
        import torch

        out = []
        cache = getattr(self.agent, "_valid_z", {})
        for s in samples:
            e = cache.get(s.id)
            if e is None:
                e = self.agent._embed(*paired(s, self.agent.size_))
            with torch.no_grad():
                z = self.agent.fusion_(torch.from_numpy(e))
            out.append(int(np.argmax(_softmax(z.double().numpy()).mean(0))))
        return out


class AgentStreamer(Streamer):
    """``push((face, patch))`` -> class probabilities after this window; sets
    ``decision`` (a class index) once p(classify) reaches the threshold. The GRU
    state summarises every window so far, so the newest output is the clip's answer."""

    cumulative = True

    def __init__(self, model, kind, task, **spec):
        super().__init__(model, kind, task, **spec)
        self.reset()

    def reset(self):
        self.h, self.decision, self.buffer = None, None, []

    def push(self, x):
        import torch

        m = self.model
        face, patch = x
        z = m._embed(np.asarray(face, np.float32)[None], np.asarray(patch, np.float32)[None])
        with torch.no_grad():
            logits, policy, self.h = m.agent_.step(m.fusion_.hidden(torch.from_numpy(z))[None], self.h)
        probs = _softmax(logits[0, -1].double().numpy())
        if self.decision is None and _softmax(policy[0, -1].double().numpy())[1] >= float(m.params["threshold"]):
            self.decision = int(np.argmax(probs))
        return probs
