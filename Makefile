# Two commands do all the set-up on a fresh clone:
#   make serve   venv + install (pinned) + default synthetic dataset if missing + serve the app
#   make test    venv + install + Debian's chromium if missing + lint + import contracts + compat + whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= data/default
PORT   ?= 5006
ADDRESS ?= 127.0.0.1
STAMP  := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
HEADLESS_SHELL ?= /usr/bin/chromium-headless-shell

.PHONY: venv data serve test lint chromium headless-shell bench clean default-model compat

$(STAMP): pyproject.toml setup.py constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# synth writes into a temporary folder and renames it, so an interrupted run never looks complete
$(DATA)/annotations.json: | $(STAMP)
	$(BIN)/thalia-viewer synth $(DATA)

data: $(DATA)/annotations.json

serve: venv data
	$(BIN)/thalia-viewer serve $(DATA) --port $(PORT) --address $(ADDRESS)

chromium:
	@test -x $(CHROMIUM) || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) && echo "chromium: $(CHROMIUM)"

# The load benchmark's browsers (bench/bench_load.py): the same Blink and V8 without the full browser's services
headless-shell:
	@test -x $(HEADLESS_SHELL) || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium-headless-shell >/dev/null; }
	@test -x $(HEADLESS_SHELL) && echo "headless shell: $(HEADLESS_SHELL)"

lint: venv
	$(BIN)/ruff check thalia_viewer tests bench
	$(BIN)/ruff format --check thalia_viewer tests bench setup.py
	$(BIN)/mypy
	$(BIN)/lint-imports

# The dataset users' stack (zarr-python 2.18.3, xarray 2025.1.2, numpy 1.26.4) in a side virtualenv reads back
# a synthetic root, a corrected export and a batch prediction written by ours: every value must match.
COMPAT_VENV ?= build/compat-venv
COMPAT_STAMP := $(COMPAT_VENV)/.installed-stamp
$(COMPAT_STAMP): tests/compat/requirements.txt
	@test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet -r tests/compat/requirements.txt
	@touch $(COMPAT_STAMP)

compat: venv $(COMPAT_STAMP)
	$(BIN)/python -m tests.compat.check --python $(COMPAT_VENV)/bin/python

# THALIA_COMPAT_RAN: the suite's own compat test skips what `make compat` just checked.
# Two workers, each test file on one of them (module fixtures such as a served app or a built wheel stay shared)
TEST_WORKERS ?= 2
test: venv chromium lint compat
	THALIA_COMPAT_RAN=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: venv chromium headless-shell
	$(BIN)/python -m bench.run

# The default model: thalia-small trained by this project's own `train` on a larger synthetic root (20 frames x
# 16 campaigns of 4 dates, about 210 events; 494 positive training pairs, data/default has 8): from scratch on
# 256-px crops, then fine-tuned on whole 384-px frames; then scored on both test splits. About 6 min of synth
# and 2 h 15 min of training on 2 CPU cores; 3.5 GB of data.
TRAIN_DATA ?= data/train-wide
$(TRAIN_DATA)/annotations.json: | $(STAMP)
	$(BIN)/thalia-viewer synth $(TRAIN_DATA) --frames 20 --dates 64 --size 384 384 --seed 23

default-model: venv data $(TRAIN_DATA)/annotations.json
	$(BIN)/thalia-viewer train $(TRAIN_DATA) --model model_zoo/thalia-small.yaml --out thalia-small-256 --zoo build/zoo --overwrite \
	  --scratch --epochs 26 --lr-drop 21 --crop 256 --batch-size 4 --lr 2e-3 --val-every 2 --seed 0 --eval-seeds
	$(BIN)/thalia-viewer train $(TRAIN_DATA) --model build/zoo/thalia-small-256.yaml --out thalia-small --zoo model_zoo --overwrite \
	  --epochs 12 --lr-drop 10 --crop 384 --batch-size 4 --lr 5e-4 --val-every 2 --seed 1
	$(BIN)/thalia-viewer evaluate $(TRAIN_DATA) --model model_zoo/thalia-small.yaml --seeds 0 1 2
	$(BIN)/thalia-viewer evaluate $(DATA) --model model_zoo/thalia-small.yaml --seeds 0 1 2

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
