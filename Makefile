# The two commands of the README: `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/debug/jitaudit
RELEASE_BIN := .build/release/jitaudit

.PHONY: demo test build release bench deps clean

deps:
	@scripts/ensure-deps

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product jitaudit

## Runs jitaudit on the shipped fixtures: findings on stdout, summary on stderr.
demo: release
	@echo "== jitaudit replay fixtures/demo.jsonl"
	$(RELEASE_BIN) replay --format text fixtures/demo.jsonl
	@echo "== jitaudit replay fixtures/bad-input.jsonl (bad lines are rejected, good ones still judged)"
	$(RELEASE_BIN) replay --format text fixtures/bad-input.jsonl

## Builds and runs every test (unit tests and end-to-end tests through the binary).
## One test at a time: many end-to-end tests block a thread while the binary
## runs, and on a 2-core machine that would starve the timing-sensitive
## async tests running beside them.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

bench: deps
	scripts/bench

clean:
	rm -rf .build demo.db
