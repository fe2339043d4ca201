# mie-verifier: `make run` sets up a fresh Debian machine and starts the HTTP service on an
# embedded SQLite file with the bundled DEMO lists; `make offline` runs the offline verifier and
# the PSC verdict on the bundled samples; `make test` runs every test (interop suite over the
# external corpus beside the checkout or named by MIE_EXTERNAL_VECTORS; card tests through pcscd
# and the virtual cards; the stores and the service's suites again on a PostgreSQL server of their
# own, and two nodes on it behind nginx; the service through a real browser).

APT_PACKAGES := pkg-config libcbor-dev libssl-dev libsqlite3-dev libpcsclite-dev pcscd vsmartcard-vpcd time chromium chromium-driver poppler-utils wrk postgresql nginx-light
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MIE_EXTERNAL_VECTORS ?= $(shell [ -d ../shared/vectors/external ] && echo ../shared/vectors/external)
export MIE_EXTERNAL_VECTORS

.PHONY: deps build run offline test lint bench fuzz vectors clean

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@python3 -c "import cryptography" 2>/dev/null || python3 -m pip install -q cryptography
	@python3 -c "import jsonschema" 2>/dev/null || python3 -m pip install -q jsonschema
	@python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium
	@command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis
	@python3 -c "import authlib, requests" 2>/dev/null || python3 -m pip install -q authlib requests

build: deps
	swift build

PORT ?= 8080

# The service on a fresh embedded SQLite file with the bundled DEMO lists, in DEMO mode (a client
# key with every role printed once; keys PSC does not accept are enrolled too, marked). Ctrl-C
# stops it cleanly. Open http://localhost:$(PORT)/ to register a key and sign in.
run: build
	@rm -rf .build/demo && mkdir -p .build/demo
	.build/debug/mie-verifier serve --demo --database .build/demo/mie.sqlite --port $(PORT)

# The offline verifier on the bundled samples, the demo lists imported, the PSC verdict.
offline: build
	@echo "== registration (packed attestation, test CA anchor)"
	@.build/debug/mie-verifier verify registration --request TestVectors/samples/registration-packed-es256.json | python3 -m json.tool
	@echo "== assertion (ES256)"
	@.build/debug/mie-verifier verify assertion --request TestVectors/samples/assertion-es256.json | python3 -m json.tool
	@echo "== referencing lists: the DEMO MDS BLOB and the DEMO ANS list into .build/demo/mie.sqlite"
	@rm -rf .build/demo && mkdir -p .build/demo
	@.build/debug/mie-verifier referencing import TestVectors/referencing/demo-mds-blob-no1.jwt --database .build/demo/mie.sqlite --root TestVectors/referencing/demo-mds-root.pem
	@.build/debug/mie-verifier referencing import TestVectors/referencing/demo-ans-list.json --database .build/demo/mie.sqlite --ans-key TestVectors/referencing/demo-ans-key.pem
	@if [ -f $(MIE_EXTERNAL_VECTORS)/mds3/webauthn4j-production-blob-no9.jwt ]; then \
	  .build/debug/mie-verifier referencing import $(MIE_EXTERNAL_VECTORS)/mds3/webauthn4j-production-blob-no9.jwt --database .build/demo/mie.sqlite \
	    --root $(MIE_EXTERNAL_VECTORS)/mds3/globalsign-root-r3.crt --at 2021-11-15T00:00:00Z; fi
	@echo "== PSC evaluation of the same registration (verdict, criteria, AMR)"
	@.build/debug/mie-verifier evaluate --request TestVectors/samples/registration-packed-es256.json --database .build/demo/mie.sqlite \
	  | python3 -c 'import json,sys; e=json.load(sys.stdin); print("verdict", e["verdict"], "AMR", " ".join(e["amr"])); [print(" ", c["id"], c["status"]) for c in e["criteria"]]'
	@.build/debug/mie-verifier evaluate --request TestVectors/samples/registration-packed-es256.json --database .build/demo/mie.sqlite --format html --output .build/demo/report.html
	@echo "conformity report: .build/demo/report.html"

# The virtual CPS card and pcscd run for the duration of the tests (stopped by PID after).
test: deps
	swift build --build-tests
	Tools/postgres/with-postgres.sh Tools/virtualcard/with-virtual-cards.sh swift test --skip-build
	Tools/postgres/with-postgres.sh env MIE_TEST_DATABASE=postgres swift test --skip-build --filter VerificationAPITests
	Tools/postgres/with-postgres.sh python3 Tools/postgres/two_nodes_test.py
	python3 Tools/service/browser_test.py
	python3 Tools/service/desk_browser_test.py
	python3 Tools/service/oidc_browser_test.py
	Tools/virtualcard/with-virtual-cards.sh python3 Tools/service/enrol_test.py
	Tools/virtualcard/with-virtual-cards.sh python3 Tools/virtualcard/candidate_test.py
	python3 Tools/service/crash_test.py
	python3 Tools/service/mtls_test.py
	python3 Tools/service/cards_test.py
	python3 Tools/service/slow_client_test.py
	python3 Tools/referencing/check_schema.py

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
