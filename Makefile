# hubkit — the two commands a newcomer needs are `make run` and `make test`.
# Both install what they need on a fresh machine (Debian packages, npm
# packages for the test identity provider) before they start.

GO       ?= go
BIN      := bin/hubctl
PKGS     := ./...
export CGO_ENABLED := 0

.PHONY: all build run test test-short vet fmt-check bench fuzz deps clean schema-check

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hubctl

deps:
	@if [ -x .ci/install-deps ]; then bash .ci/install-deps; fi

# The main job: provision the five regional hubs locally through Terraform
# and start them, with the development identity provider. Running it again
# without a configuration change changes nothing.
run: build
	$(BIN) up

# Everything CI checks. Installs missing test dependencies first.
test: deps fmt-check vet
	$(GO) test -count=1 -timeout 25m $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './testdata/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Benchmarks print ratios against baselines measured in the same run.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Short fuzzing of every parser of outside input.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/region -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/kommune -run '^$$' -fuzz FuzzLookup -fuzztime $(FUZZTIME)
	$(GO) test ./internal/directory -run '^$$' -fuzz FuzzParseText -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ui -run '^$$' -fuzz FuzzSafeReturn -fuzztime $(FUZZTIME)
	$(GO) test ./internal/audit -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME)
	$(GO) test ./internal/filedrop -run '^$$' -fuzz FuzzSanitizeName -fuzztime $(FUZZTIME)
	$(GO) test ./internal/federation -run '^$$' -fuzz FuzzParseEnvelope -fuzztime $(FUZZTIME)
	$(GO) test ./internal/clamav -run '^$$' -fuzz FuzzParseReply -fuzztime $(FUZZTIME)
	$(GO) test ./internal/backup -run '^$$' -fuzz FuzzParseManifest -fuzztime $(FUZZTIME)
	$(GO) test ./internal/caddymod/framing -run '^$$' -fuzz FuzzTracker -fuzztime $(FUZZTIME)
	$(GO) test ./internal/login -run '^$$' -fuzz FuzzCheckCSRF -fuzztime $(FUZZTIME)

clean:
	rm -rf bin .hubkit
