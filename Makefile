# Yakuba — two commands do everything: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.yakuba-installed
CORPORA ?= corpora

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export ANONYMIZED_TELEMETRY ?= False
# llama-cpp-python ships as source only: build a portable wheel once (pip's wheel cache reuses it).
# llama.cpp's OpenMP threads spin while waiting; on a shared 2-core machine that collapses decoding.
export OMP_WAIT_POLICY ?= PASSIVE
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: install browser ocr postgres run ingest test test-fast lint lint-imports bench clean help

help:
	@echo "make run   - install, ingest corpora/, start the API and the staff UI (prints both URLs; Ctrl-C stops)"
	@echo "make test  - install test dependencies and run the whole suite (ruff + import contracts + pytest)"
	@echo "make test-fast - the unit tier only: no model build, server or browser (under a minute)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The UI's browser test drives Debian's chromium (Playwright's Python package, no browser download);
# a Japanese font keeps its screenshots readable. Installed only when missing; without root or apt the
# browser test is skipped with its reason.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ] && fc-list :lang=ja 2>/dev/null | grep -q .; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "chromium がありません（ブラウザテストはスキップされます） / no apt-get: browser test will be skipped"; exit 0; fi; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	echo "Installing Debian chromium + a Japanese font for the browser test..."; \
	( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends chromium fonts-ipafont-gothic >/dev/null ) \
	  || echo "chromium を導入できませんでした（ブラウザテストはスキップされます） / could not install chromium"

# OCR of scanned PDF pages uses Debian's tesseract with the Japanese models (horizontal and vertical).
# Installed only when missing; without root or apt, scanned pages keep the "run OCR first" message
# and the OCR tests are skipped with their reason.
ocr:
	@if command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx jpn_vert; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "tesseract がありません（スキャンPDFはOCRされません） / no apt-get: scanned pages will not be OCR'd"; exit 0; fi; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	echo "Installing tesseract-ocr + Japanese models for OCR of scanned PDFs..."; \
	( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends tesseract-ocr tesseract-ocr-jpn tesseract-ocr-jpn-vert >/dev/null ) \
	  || echo "tesseract を導入できませんでした（スキャンPDFはOCRされません） / could not install tesseract"

# The deployment tests (tests/deploy: replicas on a shared database) start a throwaway cluster of
# Debian's PostgreSQL as an unprivileged user. Installed only when missing; without root or apt those
# tests are skipped with their reason, and the SQLite default is tested as always.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "PostgreSQL がありません（共有DBのテストはスキップされます） / no apt-get: shared-database tests will be skipped"; exit 0; fi; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	echo "Installing Debian postgresql for the shared-database tests..."; \
	( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends postgresql >/dev/null ) \
	  || echo "PostgreSQL を導入できませんでした（共有DBのテストはスキップされます） / could not install postgresql"

ingest: install ocr
	$(BIN)/yakuba ingest $(CORPORA)

run: install ocr
	$(BIN)/yakuba ingest $(CORPORA) || echo "一部のファイルを登録できませんでした（上の一覧を参照） / some files failed, see above"
	$(BIN)/yakuba up

lint: install
	$(BIN)/ruff check .

# import-linter over the package as the wheel lays it out (see tests/architecture/test_imports.py).
lint-imports: install
	$(BIN)/python -m pytest -q tests/architecture

test: install browser ocr postgres
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The unit tier: everything not marked slow, server, browser or integration (tests/conftest.py marks by fixture).
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not server and not browser and not integration"

bench: install
	$(BIN)/python benchmarks/ingest_throughput.py $(CORPORA)

clean:
	rm -rf .yakuba .pytest_cache
