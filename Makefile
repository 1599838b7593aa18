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

## Runs jitaudit on the shipped fixtures: findings on stdout, summary on stderr,
## the audit log in demo.db, and the review report of it (Markdown, and HTML in demo-report.html).
demo: release
	@echo "== jitaudit replay fixtures/demo.jsonl"
	$(RELEASE_BIN) replay --format text fixtures/demo.jsonl
	@echo "== jitaudit replay fixtures/bad-input.jsonl (bad lines are rejected, good ones still judged)"
	$(RELEASE_BIN) replay --format text fixtures/bad-input.jsonl
	@echo "== jitaudit replay --db demo.db (the audit log; a rerun adds nothing)"
	$(RELEASE_BIN) replay --quiet --format json --db demo.db fixtures/demo.jsonl fixtures/bad-input.jsonl > /dev/null
	$(RELEASE_BIN) verify --db demo.db
	@echo "== jitaudit report --db demo.db"
	$(RELEASE_BIN) report --db demo.db --since 2026-03-01 --until 2026-03-20
	$(RELEASE_BIN) report --db demo.db --since 2026-03-01 --until 2026-03-20 --format html --output demo-report.html
	@echo "== wrote demo-report.html"

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
	rm -rf .build demo.db demo-report.html
