# vasa_lab: two commands on a fresh machine —  make demo  and  make test.
# Everything runs inside .venv/ in the repo root, made by `make setup` with pinned dependencies.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MEDIAPIPE_VERSION := 0.10.21
INVISIBLE_WATERMARK_VERSION := 0.2.0
export VASA_LAB_PROFILE ?= tiny
# unit tests run TEST_WORKERS files at a time (pytest-xdist; many wait on child processes), TEST_WORKERS=0 in one
# process. Notebooks run one at a time: two at once were no faster on 2 cores (22 min against 23; their models keep
# both cores busy) and made the real-time chapters (08, 09) miss their frame budget.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
NBVAL := --nbval-lax -p no:cacheprovider

.PHONY: setup demo test test-unit test-notebooks caches lab bench lock clean help

help:
	@echo "make setup           create .venv and install pinned dependencies (idempotent)"
	@echo "make demo            run the main job on the embedded default -> outputs/demo.mp4"
	@echo "make test            unit tests + every notebook under nbval (profile: $$VASA_LAB_PROFILE)"
	@echo "make caches          make the world and motion codes the chapters share (before a workshop)"
	@echo "make lab             JupyterLab on notebooks/"
	@echo "make serve           the live avatar in your browser (microphone or typed sentences)"
	@echo "make bench           benchmarks that print speed numbers"

setup: $(STAMP)

# mediapipe 0.10.21 carries its face models in the wheel; it goes in with --no-deps because its declared
# requirements (numpy<2, jax, opencv-contrib) are not needed for the legacy face mesh and would break the pins.
# invisible-watermark (the watermark benchmark's comparison) likewise: it declares opencv-python and unpinned torch.
$(STAMP): pyproject.toml requirements.lock constraints-cpu.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "vasa_lab needs Python 3.11+"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints-cpu.txt torch
	$(PY) -m pip install --quiet -r requirements.lock -c constraints-cpu.txt
	$(PY) -m pip install --quiet --no-deps mediapipe==$(MEDIAPIPE_VERSION)
	$(PY) -m pip install --quiet --no-deps invisible-watermark==$(INVISIBLE_WATERMARK_VERSION)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	# librosa's numba functions are compiled into a cache inside site-packages on first use; two processes compiling
	# them at once (parallel tests, two chapters) have corrupted it and segfaulted ever after: compile them once here
	$(PY) -c "from vasa_lab.parallel import warm_numba_caches; warm_numba_caches()"
	@touch $(STAMP)
	@echo "setup done: $(VENV) ready"

demo: setup
	$(VENV)/bin/vasa-lab demo --out outputs/demo.mp4

# While the unit tests run, the world and motion codes the chapters share are made in the background at the lowest
# CPU priority (python -m vasa_lab.course), so they take only the CPU the tests leave idle; a chapter that needs them
# first waits for them (the store's locks). Its output: $(VENV)/course-caches.log. It runs in its own process group
# (setsid, where there is one), so that a failed test run stops its pool's workers too, not only their parent.
test: setup
	@$$(command -v setsid) nice -n 19 $(PY) -m vasa_lab.course > $(VENV)/course-caches.log 2>&1 & caches=$$!; \
	trap 'kill -TERM -$$caches 2>/dev/null' EXIT; \
	echo "making the chapters' world and motion codes in the background (pid $$caches, $(VENV)/course-caches.log)"; \
	$(PY) -m pytest -q --durations=15 $(PARALLEL) tests && \
	$(PY) -m pytest -q --durations=15 $(NBVAL) notebooks

caches: setup
	$(PY) -m vasa_lab.course

test-unit: setup
	$(PY) -m pytest -q --durations=15 $(PARALLEL) tests

test-notebooks: setup
	$(PY) -m pytest -q --durations=15 $(NBVAL) notebooks

lab: setup
	$(VENV)/bin/jupyter lab notebooks

bench: setup
	$(PY) benchmarks/bench_world.py
	$(PY) benchmarks/world_quality.py --clips 100
	$(PY) benchmarks/bench_animate.py
	$(PY) benchmarks/bench_latent.py --threads 1
	$(PY) benchmarks/bench_expressive.py --profile small --speed-only
	$(PY) benchmarks/bench_photos.py
	$(PY) benchmarks/bench_motion.py
	$(PY) benchmarks/bench_stream.py --minutes 5
	$(PY) benchmarks/bench_long_audio.py
	$(PY) benchmarks/bench_audio.py
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/bench_watermark.py
	$(PY) benchmarks/bench_forgery.py

# Regenerate requirements.lock from the current .venv (after changing dependencies in pyproject.toml).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -E '^(torch|torchvision|torchaudio|mediapipe|invisible-watermark)==' > requirements.lock

clean:
	rm -rf $(VENV) outputs .pytest_cache

# --- the course as a product: workshop kit and rendered book -------------------------------------------------
.PHONY: workshop book book-check serve serve-check

# Student copies (solutions stubbed, outputs cleared) + instructor copies + workshop/INSTRUCTOR.md. Seconds.
workshop: setup
	$(PY) tools/workshop.py --out workshop

# The rendered course: every chapter executed (timed), then Sphinx + myst-nb -> build/book/html, then checked in
# headless Chromium (the system's: apt-get install -y chromium). About 7 min executing the 9 chapters one at a time
# on one core (store warm), 5 s of Sphinx, 20 s of browser check.
BOOK_STAMP := $(VENV)/.book-installed
$(BOOK_STAMP): $(STAMP) requirements-book.lock
	$(PY) -m pip install --quiet -r requirements-book.lock -c constraints-cpu.txt
	@touch $(BOOK_STAMP)

book: $(BOOK_STAMP)
	$(PY) tools/book.py
	$(PY) tools/book_check.py

# The book from the outputs stored in the notebooks (seconds), and its browser check.
book-check: $(BOOK_STAMP)
	$(PY) tools/book.py --stored
	$(PY) tools/book_check.py

# The live avatar in your browser (http://127.0.0.1:8000): speak into the microphone or type a sentence.
serve: setup
	$(VENV)/bin/vasa-lab serve

# The live avatar checked in a real browser: the system's headless Chromium (apt-get install -y chromium) with a fake
# microphone playing synthesized speech; frames/s, latency, the mouth against the speech, a typed sentence, a bad
# upload. About a minute.
serve-check: $(BOOK_STAMP)
	$(PY) tools/serve_check.py --json build/serve_check.json
