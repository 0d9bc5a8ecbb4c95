# kubegrace: the two commands a user needs are `make test` (fast tier, no
# cluster) and `make e2e` (the main job). Both install what they need.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

export GOTOOLCHAIN ?= local
export GOFLAGS ?= -buildvcs=false

# Builds live outside the clone so a fresh clone reuses them: in
# $KUBEGRACE_CACHE, else ~/.cache/kubegrace (harness/cache and images/lib.sh
# hold the rule; the Consul version is pinned in harness/consul/VERSION).

REPORT_DIR := reports/fast-tier

.PHONY: help
help: ## list targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: tools
tools: deps ## build consul (cached by version) and install tini/dumb-init if missing
	@bash hack/build-consul.sh >/dev/null

# deps: what the jobs need on the host besides Docker. The jobs build Consul
# themselves (images/project), after the cluster and its node image.
.PHONY: deps
deps: ## install tini/dumb-init if missing
	@bash hack/install-test-deps.sh

.PHONY: test
test: tools ## fast tier: unit tests plus signal matrix and stale-check tests (no cluster)
	@mkdir -p $(REPORT_DIR)
	@start=$$SECONDS; status=0; \
	go test -count=1 ./... || status=$$?; \
	if [[ -f $(REPORT_DIR)/signal-matrix.txt ]]; then \
	  echo; echo "Signal matrix ($(REPORT_DIR)/signal-matrix.json):"; cat $(REPORT_DIR)/signal-matrix.txt; fi; \
	if [[ -f $(REPORT_DIR)/stale-check.txt ]]; then \
	  echo; echo "Stale check at process level ($(REPORT_DIR)/stale-check.json):"; cat $(REPORT_DIR)/stale-check.txt; fi; \
	echo "make test: $$((SECONDS - start)) s"; exit $$status

.PHONY: host
host: ## make sure a Docker engine answers (installs docker.io on a root Debian host)
	@bash hack/prepare-host.sh

.PHONY: images
images: host tools ## build (or find) the Consul and fixture images
	go run ./cmd/kubegrace images

.PHONY: node-image
node-image: host ## build (or find) the offline kind node image (cold: the longest step; see README for measured times)
	@bash images/kind-node/build.sh

.PHONY: cluster
cluster: host deps ## create or reuse the kind cluster with the project images loaded
	go run ./cmd/kubegrace cluster create $(CLUSTER_FLAGS)

.PHONY: cluster-delete
cluster-delete: ## delete the kind cluster
	go run ./cmd/kubegrace cluster delete

.PHONY: test-kind
test-kind: host deps ## kind tier: creates its own cluster (kubegrace-it), checks it, deletes it
	go test -tags kind -count=1 -timeout 100m -v ./scenarios/cluster/ -ginkgo.timeout=95m

.PHONY: vet
vet: ## go vet
	go vet ./...

.PHONY: check-install
check-install: host tools ## go install the command, then run --list and a spec from an empty folder (no checkout)
	@bash hack/check-go-install.sh

# E2E_FLAGS: e.g. E2E_FLAGS=-ginkgo.label-filter=remediation
.PHONY: e2e
e2e: host deps ## main job: every built-in scenario on the kind cluster, report in reports/latest
	@start=$$SECONDS; status=0; \
	go test -tags kind -count=1 -timeout 100m -v ./scenarios/e2e/ -ginkgo.timeout=95m $(E2E_FLAGS) || status=$$?; \
	echo "make e2e: $$((SECONDS - start)) s"; exit $$status
