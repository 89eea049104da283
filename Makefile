# ctwatch's Makefile: its targets are the project's contract.
#
#   make build        static binary in bin/ctwatch
#   make run          live watch of this host (root), ARGS="..." for flags
#   make test         unit and integration tests with -race (root; installs what it needs)
#   make unit         unit tests only (no root)
#   make integration  integration tests against the real kernel (root)
#   make bench        benchmarks of every stage, then the side-by-side comparison
#   make lint         gofmt, go vet (also with -tags integration), staticcheck
#   make tidy-check   fails if go.mod/go.sum are not tidy
#   make deploy-check checks contrib/ and deploy/ without a cluster or systemd as PID 1
#   make man completions  regenerate docs/ctwatch.1 and contrib/completion/ from the flags
#                     (make test fails while they are stale)

SHELL       := /bin/bash
GO          ?= go
BIN         := bin/ctwatch
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOBIN       := $(shell $(GO) env GOPATH)/bin
ARGS        ?=

.PHONY: all build run deps test unit cover-watch integration man completions bench bench-go bench-e2e lint tidy-check deploy-check fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ctwatch

run: build
	./$(BIN) watch $(ARGS)

deps:
	./scripts/install-deps.sh

test: unit integration

# The allocation tests skip themselves under -race (the race detector
# allocates), so they run a second time without it.
unit: deps cover-watch
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'Allocs$$' ./pkg/... ./internal/...

# cover-watch holds the watch loop's unit tests to what they promise: they
# drive the real loop with stand-ins for the kernel, so they run as an
# unprivileged user (nobody, through setpriv, when make runs as root) and
# cover at least WATCH_COVER_MIN percent of internal/watch.
WATCH_COVER_MIN ?= 80
cover-watch:
	@mkdir -p bin/cover && chmod 777 bin/cover
	$(GO) test -c -cover -coverpkg=./internal/watch -o bin/cover/watch.test ./internal/watch
	@chmod 755 bin/cover/watch.test
	cd internal/watch && if [ "$$(id -u)" = 0 ]; then as_user='setpriv --reuid=65534 --regid=65534 --clear-groups'; fi; \
		HOME=/tmp $$as_user ../../bin/cover/watch.test -test.count=1 -test.coverprofile=../../bin/cover/watch.out > ../../bin/cover/watch.txt 2>&1 || \
		{ cat ../../bin/cover/watch.txt; exit 1; }
	@pct=$$(sed -n 's/^coverage: \([0-9.]*\)% .*/\1/p' bin/cover/watch.txt); \
		echo "internal/watch: $$pct% covered by unit tests run as $$( [ "$$(id -u)" = 0 ] && echo nobody || id -un)"; \
		awk -v p="$$pct" -v min=$(WATCH_COVER_MIN) 'BEGIN { exit !(p >= min) }' || \
		{ echo "cover-watch: internal/watch coverage $$pct% is below $(WATCH_COVER_MIN)%" >&2; exit 1; }

# Under CI an integration test that cannot run fails (see internal/nstest);
# the grep is a second guard against a skip slipping through.
integration: deps
	$(GO) test -race -count=1 -tags integration -v ./integration/... 2>&1 | tee integration.log; \
		status=$${PIPESTATUS[0]}; \
		if [ -n "$$CI" ] && grep -q -- '--- SKIP' integration.log; then \
			echo 'integration: tests were skipped under CI' >&2; exit 1; fi; \
		exit $$status

# bench-go keeps its output in bin/bench-go.txt, and bench has bench-e2e put
# those stage benchmarks of the same machine into the document it writes
# (bench-e2e alone has none: a file left from another run could be stale).
bench: GOBENCH = -gobench bin/bench-go.txt
bench: bench-go bench-e2e

bench-go:
	@mkdir -p bin
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./pkg/... ./internal/... | tee bin/bench-go.txt; exit $${PIPESTATUS[0]}

bench-e2e: deps build
	$(GO) run -tags integration ./integration/cmd/ctbench $(GOBENCH) $(BENCHARGS)

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) install $(STATICCHECK)
	$(GOBIN)/staticcheck ./...
	$(GOBIN)/staticcheck -tags integration ./...

tidy-check:
	$(GO) mod tidy -diff

# deploy-check verifies the packaging: the unit with systemd-analyze verify
# (on a copy whose ExecStart names the binary just built, as verify wants
# the program to exist; any message fails, as verify only warns about a
# setting it ignores) and security (its exposure stays at most 2.0), the
# logrotate snippet with logrotate -d (its su user swapped for root, which
# exists everywhere), the manifests and flags with deploy/check.py, and that
# the binary the Dockerfile builds is static. It installs systemd, logrotate
# and python3-yaml when missing (root).
DEPLOY_TMP = bin/deploy-check
deploy-check: build
	./scripts/install-deps.sh systemd logrotate python3-yaml
	@rm -rf $(DEPLOY_TMP) && mkdir -p $(DEPLOY_TMP)
	sed 's#/usr/local/bin/ctwatch#$(CURDIR)/$(BIN)#' contrib/systemd/ctwatch.service > $(DEPLOY_TMP)/ctwatch.service
	@out=$$(systemd-analyze verify $(DEPLOY_TMP)/ctwatch.service 2>&1) && [ -z "$$out" ] || \
		{ echo "$$out"; echo 'deploy-check: systemd-analyze verify found problems in ctwatch.service' >&2; exit 1; }
	systemd-analyze security --offline=yes --threshold=20 $(DEPLOY_TMP)/ctwatch.service > $(DEPLOY_TMP)/security.txt || \
		{ cat $(DEPLOY_TMP)/security.txt; echo 'deploy-check: ctwatch.service exposure above 2.0' >&2; exit 1; }
	sed 's/^\([[:space:]]*\)su ctwatch ctwatch$$/\1su root root/' contrib/logrotate/ctwatch > $(DEPLOY_TMP)/logrotate
	logrotate -d -s $(DEPLOY_TMP)/logrotate.state $(DEPLOY_TMP)/logrotate 2> $(DEPLOY_TMP)/logrotate.txt || \
		{ cat $(DEPLOY_TMP)/logrotate.txt; exit 1; }
	@if grep -q '^error' $(DEPLOY_TMP)/logrotate.txt; then cat $(DEPLOY_TMP)/logrotate.txt; exit 1; fi
	python3 deploy/check.py $(BIN)
	@$(GO) version -m $(BIN) | grep -q 'CGO_ENABLED=0' || { echo 'deploy-check: $(BIN) is not a static (CGO_ENABLED=0) build' >&2; exit 1; }

man: build
	./$(BIN) man > docs/ctwatch.1

completions: build
	@mkdir -p contrib/completion
	./$(BIN) completion bash > contrib/completion/ctwatch.bash
	./$(BIN) completion zsh > contrib/completion/_ctwatch

clean:
	rm -rf bin integration.log
