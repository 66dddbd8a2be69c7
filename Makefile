# Open syringe pump: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PUMPCTL := $(VENV)/bin/pumpctl
UPY := .cache/micropython/unix/micropython
# A device-sized heap for the core tests. The Pico has about 190 KB free after boot, but the
# unix port is 64-bit: its objects are up to twice as large and its GC scans the C stack
# conservatively (what stays alive varies with ASLR). The largest test module needs 192k here,
# so 192k was a CI flake (MemoryError in one clean run); 288k leaves 1.5x margin.
UPY_FLAGS := -X heapsize=288k
SCENARIO ?= host_tools/scenarios/octreotide-24h.toml
BOARD ?= pico

-include boards/build/build.mk

.PHONY: help deploy demo check test test-setup test-py test-upy mpy-check lint bench bench-alarms bench-power \
	hil-virtual hil clean venv bootrom vboard-deps

help:
	@echo "make demo           run the octreotide scenario on the emulator"
	@echo "make test           install what is needed, then run every test (CI runs this)"
	@echo "make check          the inner loop: lint, tests/ and the unix-port core tests (~1 min)"
	@echo "make bench          emulator and core speed figures"
	@echo "make bench-power    the energy budget and battery life, and gauge run-downs"
	@echo "make lint           ruff"
	@echo "make firmware BOARD=pico|vpico   build a MicroPython image with our firmware frozen in"
	@echo "make deploy PORT=/dev/ttyACM0    copy firmware/pump and drivers to a board's flash"
	@echo "make hil PORT=/dev/ttyACM0       HIL suite on a real board"

# --- host environment -------------------------------------------------------------------
$(VENV)/.stamp: host_tools/pyproject.toml host_tools/requirements.lock
	@python3 -c "import ensurepip, venv" 2>/dev/null || { apt-get -q update && \
		DEBIAN_FRONTEND=noninteractive apt-get -q install -y python3-venv; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c host_tools/requirements.lock \
		-e 'host_tools[dev,review]'
	@# The firmware's control core (import pump) and its micropython shim, once for the venv.
	printf '%s\n' $(CURDIR)/firmware $(CURDIR)/host_tools/upy > \
		"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/pumpfirmware.pth"
	touch $@

venv: $(VENV)/.stamp

# --- the main job -----------------------------------------------------------------------
DEMO := .cache/demo
demo: $(VENV)/.stamp
	@mkdir -p $(DEMO)
	$(PUMPCTL) sim $(SCENARIO) --log $(DEMO)/pump.plog
	$(PUMPCTL) logs verify $(DEMO)/pump.plog
	$(PUMPCTL) logs report $(DEMO)/pump.plog -o $(DEMO)/report.html --drug "octreotide (demo)"
	@rm -rf $(DEMO)/screens
	$(PUMPCTL) sim host_tools/scenarios/bedside/octreotide.toml --screens $(DEMO)/screens >/dev/null
	@echo "dose and event log: $(CURDIR)/$(DEMO)/pump.plog"
	@echo "report:             $(CURDIR)/$(DEMO)/report.html"
	@echo "screens (the same day from the pump's keys, $$(ls $(DEMO)/screens | wc -l) PNGs in $(CURDIR)/$(DEMO)/screens):"
	@for s in home titrate-check alarm-occlusion; do \
		echo "  $$s: $(CURDIR)/$(DEMO)/screens/$$(cd $(DEMO)/screens && ls *-$$s.png | head -1)"; done

# --- tests ------------------------------------------------------------------------------
# pytest-xdist workers for tests/ (auto: one per core)
PYTEST_JOBS ?= auto
PYTEST_TESTS := $(PY) -m pytest -q -rs -n $(PYTEST_JOBS) tests --ignore=tests/review

# The inner loop: lint, tests/ but the review service's (make test-review), and the core tests
# on the unix port. README says how long it takes.
check: $(VENV)/.stamp micropython-unix vboard-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(UPY) $(UPY_FLAGS) tests/upy_run.py
	$(MAKE) --no-print-directory -s -C .cache/micropython/tree/mpy-cross -j2 >/dev/null
	$(PYTEST_TESTS)

# Each stage runs in a make of its own and is timed; the table of wall times ends the output,
# and a failed stage ends the run there, named in the table, with its exit status.
TEST_STAGES := test-setup lint test-py test-review test-upy mpy-check hil-virtual fidelity-quick
test:
	@rc=0; times=""; start=$$SECONDS; \
	for stage in $(TEST_STAGES); do \
		t=$$SECONDS; $(MAKE) --no-print-directory $$stage || rc=$$?; \
		times+=$$(printf '\n  %-15s %5d s' $$stage $$((SECONDS - t))); \
		if [ $$rc -ne 0 ]; then times+=" FAILED (exit $$rc)"; break; fi; \
	done; \
	printf '\nmake test, wall time per stage:%s\n  %-15s %5d s\n' "$$times" total \
		$$((SECONDS - start)); \
	exit $$rc

# What the stages build or install, so that their times are the tests'.
test-setup: $(VENV)/.stamp vboard-deps review-deps micropython-unix bootrom fidelity-image
	$(MAKE) --no-print-directory firmware BOARD=vpico >/dev/null

test-py: $(VENV)/.stamp vboard-deps
	$(PYTEST_TESTS) --durations=20

test-upy: micropython-unix $(VENV)/.stamp
	$(UPY) $(UPY_FLAGS) tests/upy_run.py
	$(MAKE) --no-print-directory -s -C .cache/micropython/tree/mpy-cross -j2 >/dev/null
	$(PY) -m pytest -q -rs tests/test_frames.py

mpy-check: $(VENV)/.stamp
	$(PY) -m pumphost.mpycheck firmware boards/pico/board.py

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Occlusion and empty alarms, IEC 60601-2-24 style, on the emulator and the plant model;
# BUDGET_S bounds the false-alarm run over normal patient-days (both cores).
BUDGET_S ?= 840
bench-alarms: $(VENV)/.stamp
	$(PY) -m pumphost.bench.alarms --budget-s $(BUDGET_S)

# The energy budget per battery and rate (each constant with its source) and randomised
# battery run-downs of the gauge against the simulated cell.
bench-power: $(VENV)/.stamp
	$(PY) -m pumphost.bench.power
	$(PY) -m pumphost.bench.rundowns 1000

bench: $(VENV)/.stamp micropython-unix bootrom vboard-deps
	@$(MAKE) --no-print-directory firmware BOARD=vpico >/dev/null
	$(UPY) $(UPY_FLAGS) tests/bench_core.py
	$(PY) -m pumphost.bench.speed

# --- the virtual board and the HIL suite ------------------------------------------------
bootrom:
	host_tools/vboard/bootrom/build.sh

vboard-deps: $(VENV)/.stamp
	@command -v node >/dev/null && command -v npm >/dev/null || { apt-get -q update && \
		DEBIAN_FRONTEND=noninteractive apt-get -q install -y nodejs npm; }
	$(PY) -c "from pumphost.vboard.virtual import ensure_bridge_deps as e; e()"

# fidelity-image: the plain MicroPython image the bench fixture runs on (hil/test_fixture_pair.py)
hil-virtual: $(VENV)/.stamp bootrom vboard-deps fidelity-image
	$(MAKE) --no-print-directory firmware BOARD=vpico
	$(PY) -m pytest -q -rs hil --target virtual --durations=20

.PHONY: hil-long hil-bench-pair fidelity fidelity-quick fidelity-image

# The whole HIL suite through the bench fixture, on two wired virtual Picos (about half an
# hour: make test runs a subset); the inner run's junit XML and output are in pytest's tmp.
hil-bench-pair: $(VENV)/.stamp bootrom vboard-deps fidelity-image
	$(MAKE) --no-print-directory firmware BOARD=vpico
	PUMP_HIL_BENCH=all $(PY) -m pytest -q -rs hil/test_fixture_pair.py --target virtual

# The 24 h octreotide infusion on the real image (hours of wall time: not in make test).
hil-long: $(VENV)/.stamp bootrom vboard-deps
	$(MAKE) --no-print-directory firmware BOARD=vpico
	PUMP_HIL_LONG=1 $(PY) -m pytest -q -rs hil/test_long.py --target virtual

# MicroPython's own test suite (the pinned tree's tests/run-tests.py) on the virtual Pico,
# compared with host_tools/vboard/fidelity/expected.toml; fidelity-quick is the subset in
# make test (under 5 min). The fidelity image is MicroPython as released, REPL on UART1.
fidelity-image: build-deps
	host_tools/vboard/fidelity/build.sh >/dev/null

fidelity: $(VENV)/.stamp bootrom vboard-deps fidelity-image
	$(PY) -m pumphost.vboard.fidelity

fidelity-quick: $(VENV)/.stamp bootrom vboard-deps fidelity-image
	$(PY) -m pumphost.vboard.fidelity --quick

PORT ?= /dev/ttyACM0
# Iterate without reflashing: modules on the board's flash shadow the frozen ones, once the
# board resets after the copy. Not with mpremote's `+ reset`: it queues machine.reset() 100 ms
# ahead and disconnects; a USB Pico resets on its own, but the virtual board's clock halts when
# its client leaves, so it never resets (the next client's Ctrl-C even cancels the reset). Nor
# `+ soft-reset`: a soft reset from the raw REPL skips main.py (ports/rp2/main.c), and mpremote
# hides what the board prints while it boots. So: a soft reset from the friendly REPL, as
# Ctrl-D at `mpremote repl` (hil/dut.py soft-reset), connected until the prompt is back; it
# prints the boot output and fails on a traceback or without "pump ready". That works on both
# boards: the RP2040's USB CDC link survives a soft reset (machine.reset() re-enumerates it, so
# nothing could wait on the port), and a connected client keeps the virtual board's clock
# running. A soft reset stops PIO, DMA and soft timers and clears the heap and sys.modules, so
# the pump is rebuilt from the copies.
deploy: $(VENV)/.stamp
	rm -rf .cache/deploy && mkdir -p .cache/deploy && cp -r firmware/pump firmware/drivers .cache/deploy/
	find .cache/deploy -name __pycache__ -prune -exec rm -rf {} +
	cd .cache/deploy && $(CURDIR)/$(VENV)/bin/mpremote connect $(PORT) cp -r pump drivers :
	$(PY) hil/dut.py soft-reset $(PORT) --expect "pump ready on" --timeout 120

# RIG=/dev/ttyACM1: the bench fixture (hil/fixture/BENCH.md) as the rig; PROTO=/dev/ttyUSB0:
# the pump's protocol UART (GP8/GP9) through a USB-serial adapter
hil: $(VENV)/.stamp
	$(PY) -m pytest -q -rs hil --target serial --port $(PORT) --board pico $(if $(RIG),--rig $(RIG)) \
		$(if $(PROTO),--proto $(PROTO))

clean:
	rm -rf $(VENV) .cache

# --- the dose and event log (pump/LOG-FORMAT.md) ----------------------------------------
.PHONY: fuzz bench-log

FUZZ_CUTS ?= 10000
FUZZ_SEQUENCES ?= 10000
FUZZ_LINES ?= 100000
# damaged .plog files through every reader (verify, export, report, pull's resume, upload),
# each case under a memory and a time limit; make test runs a short version (tests/)
FUZZ_FILES ?= 10000
fuzz: $(VENV)/.stamp
	$(PY) -m pumphost.logs.fuzz $(FUZZ_CUTS)
	$(PY) -m pumphost.protocol.fuzz $(FUZZ_SEQUENCES) $(FUZZ_LINES)
	$(PY) -m pumphost.logs.filefuzz $(FUZZ_FILES)

bench-log: $(VENV)/.stamp micropython-unix
	$(UPY) $(UPY_FLAGS) tests/bench_log.py
	$(PY) -m pumphost.logs.bench

# --- the log review service (host_tools/pumphost/review) ----------------------------------
.PHONY: test-review bench-review review-deps

# Debian's PostgreSQL (the tests start a throwaway cluster) and headless Chromium with its
# driver (the browser test); installed when missing, as vboard-deps does for node.
review-deps: $(VENV)/.stamp
	@test -x /usr/lib/postgresql/*/bin/initdb && command -v chromium >/dev/null && \
		command -v chromedriver >/dev/null || { apt-get -q update && \
		DEBIAN_FRONTEND=noninteractive apt-get -q install -y postgresql chromium chromium-driver; }

# PUMP_REVIEW_REQUIRE=1: a missing database or browser fails the run instead of skipping.
test-review: review-deps
	PUMP_REVIEW_REQUIRE=1 $(PY) -m pytest -q -rs tests/review --durations=20

# 100 pumps x 30 days uploading at once on 127.0.0.1 (SQLite, then a throwaway PostgreSQL).
REVIEW_BENCH ?= --pumps 100 --days 30 --workers 100
bench-review: review-deps
	$(PY) -m pumphost.review.bench $(REVIEW_BENCH)
