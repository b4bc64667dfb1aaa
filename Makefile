.PHONY: setup demo test bench profile
setup:
	bash scripts/setup.sh
demo: setup
	.venv/bin/mmff demo
test: setup
	.venv/bin/python -m pytest -n 2 tests
bench: setup
	.venv/bin/mmff bench --doc docs/benchmarks.md $(if $(NTU),--ntu $(NTU))
profile: setup
	.venv/bin/mmff profile
