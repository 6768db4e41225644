# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test install clean

$(BIN)/forenscope: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps invisible-watermark==0.2.0
	touch $(BIN)/forenscope

install: $(BIN)/forenscope

test: install
	$(BIN)/python -m pytest

demo: install
	@echo "== forenscope models"
	@$(BIN)/forenscope models
	@echo "== forenscope detect examples/forged examples/original"
	@echo "   (is it generated? none of these five photos is)"
	@$(BIN)/forenscope detect examples/forged examples/original
	@echo "== forenscope localize examples/forged --out demo-out --overlay"
	@$(BIN)/forenscope localize examples/forged --out demo-out --overlay
	@echo "== forenscope eval examples -d effunet-cm -d ela -d noise"
	@echo "   (pixel level, against the shipped masks)"
	@$(BIN)/forenscope eval examples -d effunet-cm -d ela -d noise --out demo-out/eval
	@echo "What to look for: docs/DEMO.md. Overlays: demo-out/forged/*.overlay.png"

clean:
	rm -rf $(VENV) demo-out .pytest_cache
