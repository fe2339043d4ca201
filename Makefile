# mie-verifier: `make run` sets up a fresh Debian machine and runs the offline verifier on the
# bundled samples; `make test` runs every test (interop suite included when the external corpus
# is beside the checkout or named by MIE_EXTERNAL_VECTORS; card tests through pcscd and the
# virtual CPS card).

APT_PACKAGES := pkg-config libcbor-dev libssl-dev libsqlite3-dev libpcsclite-dev pcscd vsmartcard-vpcd time
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MIE_EXTERNAL_VECTORS ?= $(shell [ -d ../shared/vectors/external ] && echo ../shared/vectors/external)
export MIE_EXTERNAL_VECTORS

.PHONY: deps build run test lint bench fuzz vectors clean

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@python3 -c "import cryptography" 2>/dev/null || python3 -m pip install -q cryptography

build: deps
	swift build

run: build
	@echo "== registration (packed attestation, test CA anchor)"
	@.build/debug/mie-verifier verify registration --request TestVectors/samples/registration-packed-es256.json | python3 -m json.tool
	@echo "== assertion (ES256)"
	@.build/debug/mie-verifier verify assertion --request TestVectors/samples/assertion-es256.json | python3 -m json.tool

# The virtual CPS card and pcscd run for the duration of the tests (stopped by PID after).
test: deps
	swift build --build-tests
	Tools/virtualcard/with-virtual-cards.sh swift test --skip-build

lint:
	python3 Tools/lint/traps.py

bench: deps
	Benchmarks/run.sh

fuzz: deps
	Tools/fuzz/run.sh $(or $(SECONDS),300)
	swift build --product mie-verifier
	python3 Tools/fuzz/resign.py --seconds $(or $(SECONDS),300)

vectors:
	python3 Tools/vectorgen/generate.py

clean:
	rm -rf .build Benchmarks/.build Tools/fuzz/.build
