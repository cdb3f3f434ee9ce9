# runbook — build, test, benchmark.
#
#   make quickstart   build and run the bundled tabletop (no servers needed)
#   make test         everything CI runs: lint, unit + integration tests
#                     (real PostgreSQL and Redis), brief fuzzing
#   make bench        benchmarks, whole-process comparisons included
#   make install      the binary and bash/zsh/fish completions under PREFIX
#                     (default /usr/local; DESTDIR for packaging)

export PATH := /usr/local/go/bin:$(PATH)
GO      ?= go
BIN     := bin/runbook
FUZZTIME ?= 10s
PREFIX  ?= /usr/local
DESTDIR ?=
# Each stage of `make test` says what it does and how long it took.
STAGE   := bash .ci/stage

.PHONY: all build install quickstart deps test lint unit race fuzz-load fuzz bench clean

all: build

# A static build (no cgo): no dynamic loader or C library at start-up; 3–6%
# less CPU for a one-check run, 5–9% for `runbook version`, 1.7 MB less
# peak RSS (docs/performance.md, round 6). User names come from
# /etc/passwd (else $USER), host names from /etc/hosts and DNS only
# (README.md, Install). cmd/runbook's tests and benchmarks build the same
# way (binary() in cli_test.go).
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/runbook

# The binary in $(PREFIX)/bin, and completions where bash-completion, zsh
# and fish look for them.
install: build
	install -d "$(DESTDIR)$(PREFIX)/bin" \
	  "$(DESTDIR)$(PREFIX)/share/bash-completion/completions" \
	  "$(DESTDIR)$(PREFIX)/share/zsh/site-functions" \
	  "$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d"
	install -m 0755 $(BIN) "$(DESTDIR)$(PREFIX)/bin/runbook"
	"$(DESTDIR)$(PREFIX)/bin/runbook" completion bash > "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/runbook"
	"$(DESTDIR)$(PREFIX)/bin/runbook" completion zsh > "$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_runbook"
	"$(DESTDIR)$(PREFIX)/bin/runbook" completion fish > "$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/runbook.fish"
	@echo "installed $(DESTDIR)$(PREFIX)/bin/runbook and its bash, zsh and fish completions"

quickstart: build
	./$(BIN) exec runbooks/quickstart.hcl --answers runbooks/quickstart.answers.hcl --yes
	@echo
	@echo "Run record (see it with: ./$(BIN) show last --state runbooks/.runbook --format json):"
	@ls -t runbooks/.runbook/runs/*.json | head -1
	@echo
	@echo "Completion report, rendered from the run (first 40 lines):"
	@echo
	@sed -n 1,40p "$$(ls -t runbooks/.runbook/reports/*.md | head -1)"

# The stages in order, each timed; a table of the times at the end, also
# when a stage failed (the stages after it do not run).
test:
	@mkdir -p bin && : > bin/stages.log
	@STAGE_LOG="$(CURDIR)/bin/stages.log" $(MAKE) --no-print-directory deps lint unit race fuzz-load; rc=$$?; \
	  echo "== make test: time per stage"; cat bin/stages.log; \
	  [ $$rc -eq 0 ] && echo "== make test: passed" || echo "== make test: FAILED"; exit $$rc

# PostgreSQL, Redis, pgbouncer, dnsmasq, sshd and Chromium for the tests: installed with apt-get when
# running as root, else named so you can install them.
deps:
	@$(STAGE) deps "test servers and tools (PostgreSQL, Redis, pgbouncer, dnsmasq, sshd, Chromium)" bash .ci/deps

lint: build
	@$(STAGE) lint "gofmt, go vet, runbook fmt --check and validate on runbooks/" bash -c '\
	  out=$$(gofmt -l $$(git ls-files "*.go" 2>/dev/null || find . -name "*.go")); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi; \
	  set -ex; $(GO) vet ./...; ./$(BIN) fmt --check runbooks; ./$(BIN) validate runbooks'

# go test prints one line per package as it finishes; the command package
# (end-to-end runs of the binary) takes the longest.
unit:
	@$(STAGE) unit "go test ./... ($$($(GO) list ./... | wc -l) packages; one line each as it finishes; each starts its own PostgreSQL/Redis on loopback as needed)" \
	  $(GO) test -count=1 -timeout 20m ./...

race:
	@$(STAGE) race "go test -race ./engine (the engine again, under the race detector)" $(GO) test -race -count=1 ./engine

# The loader's fuzzer runs briefly with every `make test`; every fuzzer's
# seed corpus (testdata/fuzz, with each input a fuzzer ever failed on) runs
# as a plain test in `go test`.
fuzz-load:
	@$(STAGE) fuzz "fuzzing the loader (FuzzLoad) for $(FUZZTIME)" $(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./engine

# Every fuzzer, FUZZTIME each: run before a release or after touching a
# parser, an escaper or the comparer (FUZZTIME=5m make fuzz).
fuzz:
	@for pkg in $$($(GO) list ./... ); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The whole-process comparisons (1,000 and 10,000 checks, start-up, peak
# RSS; about two minutes on two cores) end with a summary table, then the
# in-process benchmarks.
bench:
	$(GO) test -run '^$$' -bench '^BenchmarkProcess$$' -benchtime 1x -count 1 -timeout 30m ./cmd/runbook
	$(GO) test -run '^$$' -bench . ./checks/... ./golden/... ./engine/...

clean:
	rm -rf bin
