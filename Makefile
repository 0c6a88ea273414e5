# Cobrança Inteligente — `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
COV_MIN ?= 80

.PHONY: help install setup run test test-fast lint format migrate clean browser ocr vendor

help:
	@echo "make run   - instala, migra, carrega dados de demonstração e inicia web + worker + simulador WAHA"
	@echo "make test  - instala e roda toda a suíte com cobertura (mínimo $(COV_MIN)%)"
	@echo "make lint  - ruff (lint + formatação), contratos de import (.importlinter) e tamanho de módulos/funções"

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# Front-end libraries from npm (package-lock.json), copied into static/vendor/ and served by whitenoise.
# Without npm the committed static/vendor/ is used as is.
VENDOR_STAMP := static/vendor/.npm-$(shell sha1sum package-lock.json | cut -c1-12)
$(VENDOR_STAMP): package.json package-lock.json scripts/vendor_assets.sh
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && bash scripts/vendor_assets.sh && touch $(VENDOR_STAMP); \
	else echo "npm ausente: usando static/vendor/ já versionado"; fi

vendor: $(VENDOR_STAMP)

install: $(STAMP) vendor

migrate: install
	$(PY) manage.py migrate --noinput

setup: migrate

run: setup ocr
	$(PY) manage.py load_demo
	$(PY) manage.py ensure_admin
	$(PY) manage.py devserver

# Debian's Chromium for the dashboard's browser tests (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); \
	  else echo "Chromium ausente: sudo apt-get install chromium (testes de navegador serão pulados)"; fi; } || true

# Debian's Tesseract (Portuguese model), poppler's pdftotext/pdftoppm and fonts for reading and generating Pix
# receipts (billing/receipts, docs/receipts.md). Installed when run as root and missing.
OCR_PACKAGES := tesseract-ocr tesseract-ocr-por poppler-utils fonts-dejavu-core fonts-liberation
ocr:
	@{ command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx por \
	   && command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
	   && test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf; } || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq $(OCR_PACKAGES) >/dev/null); \
	  else echo "OCR ausente: sudo apt-get install $(OCR_PACKAGES) (leitura de comprovantes desligada)"; fi; } || true

test: install browser ocr
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=$(COV_MIN) $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not e2e" -x $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/check_structure.py

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var staticfiles .coverage htmlcov
