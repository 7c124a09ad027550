# Two commands do everything: `make run` and `make test`. Both create the virtual env on
# first use and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A torch/torchvision pair known to work together; override for another build, e.g.
# make run TORCH="torch torchvision --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.14.1 torchvision==0.29.1
PORT ?= 8501
PYTEST_ARGS ?=

.PHONY: run test setup bench screenshots clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "Python 3.10 or newer is needed")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/python -m streamlit run explorer/app.py --server.port $(PORT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run_all.py

# The README's screenshots: the browser tests take them, this copies the ones the READMEs show.
SHOTS := home architecture architecture-diagram compare compare-what-it-buys compare-same-image feature-maps \
	receptive-field predict zero-init class-teacher class-student compare-family figure3-se
ZH_SHOTS := home architecture compare feature-maps zero-init predict
screenshots: setup
	$(BIN)/python -m pytest tests/test_browser.py tests/test_browser_layout.py tests/test_browser_class.py tests/test_browser_family.py -q
	mkdir -p assets/zh assets/screens
	for shot in $(SHOTS); do cp test-artifacts/$$shot.png assets/$$shot.png; done
	for shot in $(ZH_SHOTS); do cp test-artifacts/zh-1400-$$shot.png assets/zh/$$shot.png; done
	for shot in test-artifacts/*-whole.png; do cp $$shot assets/screens/$$(basename $$shot -whole.png).png; done

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
