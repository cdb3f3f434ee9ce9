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

.PHONY: all build install quickstart deps test lint unit fuzz-load fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/runbook

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

test: deps lint unit fuzz-load

# PostgreSQL, Redis, pgbouncer, dnsmasq, sshd and Chromium for the tests: installed with apt-get when
# running as root, else named so you can install them.
deps:
	@bash .ci/deps

lint: build
	@echo "== lint: gofmt, go vet, runbook fmt --check and validate on runbooks/"
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	./$(BIN) fmt --check runbooks
	./$(BIN) validate runbooks

unit:
	@echo "== unit and integration tests (each package starts its own PostgreSQL/Redis on loopback as needed)"
	$(GO) test -count=1 -timeout 20m ./...
	@echo "== the engine again under the race detector"
	$(GO) test -race -count=1 ./engine

# The loader's fuzzer runs briefly with every `make test`; every fuzzer's
# seed corpus (testdata/fuzz, with each input a fuzzer ever failed on) runs
# as a plain test in `go test`.
fuzz-load:
	@echo "== fuzzing the loader for $(FUZZTIME)"
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./engine

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
