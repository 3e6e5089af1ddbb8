# `make demo` and `make test` work on a fresh clone: each sets up .venv first if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements-dev.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
DEMO_PHOTO := data/sample/bund.jpg
DEMO_CLIP := data/demo/bund-clay.mp4

.PHONY: demo test venv lint run migrate bench clean i18n eval lock outdated

venv: $(STAMP)

# Exactly the locked versions (hash-checked), then Claymate itself without touching them.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	@$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

# After changing a pin in pyproject.toml: the image's lock (runtime only), then the
# development lock constrained to it, so both agree on every shared package.
lock: $(STAMP)
	@$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-header \
		--no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml
	@$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-header \
		--no-emit-index-url --no-emit-find-links \
		--extra dev -c requirements.lock -o requirements-dev.lock pyproject.toml

# What could be bumped: every locked package with a newer release (run it now and then).
outdated: $(STAMP)
	@$(BIN)/python -m pip list --outdated --exclude-editable

# The whole loop on offline defaults: a sample city photo → clay prompt → clay preview clip.
demo: $(STAMP)
	@$(BIN)/python -c "from pathlib import Path; from bot.media.sample import sample_photo; sample_photo(Path('$(DEMO_PHOTO)'))"
	@env KLING_ACCESS_KEY= KLING_SECRET_KEY= OPENAI_API_KEY= \
		$(BIN)/claymate make $(DEMO_PHOTO) \
		"The Bund at dusk: boats glide on the river, lights come on along the waterfront" \
		--project Demo --out $(DEMO_CLIP)

# Two worker processes: most of a test's time is waiting (a bot's timers, a subprocess,
# a fake provider's task), so two at once roughly halve the wall time on two cores.
test: $(STAMP)
	@$(BIN)/python -m pytest -q -n 2

# Both catalogues complete, and every key the code uses present in both.
i18n: $(STAMP)
	@$(BIN)/python -m pytest -q tests/unit/test_i18n.py

# Drafters scored on the public evaluation set (eval/cases.toml), then on the held-out set
# (eval/heldout.toml): the offline drafter always, the LLM director too when OPENAI_API_KEY is
# set. Both tables print; fails when the offline drafter falls below either set's floors
# (eval/thresholds.toml, eval/heldout_thresholds.toml). ARGS="--failures" lists failed checks.
eval: $(STAMP)
	@$(BIN)/python -m eval.run $(ARGS); public=$$?; echo; \
	$(BIN)/python -m eval.run --cases eval/heldout.toml $(ARGS); heldout=$$?; \
	exit $$(( public > heldout ? public : heldout ))

# mypy and import-linter read their settings from pyproject.toml.
lint: $(STAMP)
	@$(BIN)/ruff check bot handlers storage tests bench eval
	@$(BIN)/mypy
	@$(BIN)/lint-imports

run: $(STAMP)
	@$(BIN)/claymate run

migrate: $(STAMP)
	@$(BIN)/claymate db upgrade

bench: $(STAMP)
	@$(BIN)/python bench/bench_intake.py
	@$(BIN)/python bench/bench_intake_memory.py
	@$(BIN)/python bench/bench_render.py
	@$(BIN)/python bench/bench_film.py
	@$(BIN)/python bench/bench_floor.py
	@$(BIN)/python bench/bench_drafts.py
	@$(BIN)/python bench/bench_generate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
