# labloop: the two commands are `make demo` and `make test` (see README.md).
BUILD ?= build
JOBS ?= $(shell nproc)
# ccache must tolerate precompiled headers to hit the cache.
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1

.PHONY: all deps configure build test demo bench format clean

all: build

deps:
	scripts/install-deps

configure: deps
	cmake -S . -B $(BUILD) -G Ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

demo: build
	$(BUILD)/bin/labloop demo

bench: build
	mkdir -p $(BUILD)/bench
	$(BUILD)/bin/labloop bench store-predictions --n 1000000 --json $(BUILD)/bench/store_predictions.json
	$(BUILD)/bin/labloop bench fast-loop --library ../shared/data/qm9/qm9_130k.smi.gz \
	  --candidates 100000 --train 1000 --json $(BUILD)/bench/fast_loop.json
	rm -rf $(BUILD)/bench/demo && $(BUILD)/bin/labloop demo --dir $(BUILD)/bench/demo
	$(BUILD)/bin/labloop bench al --json $(BUILD)/bench/al.json
	$(BUILD)/bin/labloop bench simulators --json $(BUILD)/bench/simulators.json
	$(BUILD)/bin/labloop bench predictors --json $(BUILD)/bench/predictors.json
	$(BUILD)/bin/labloop bench predictors --descriptors 12 --descriptor-set basic \
	  --json $(BUILD)/bench/predictors_desc.json
	$(BUILD)/bin/labloop bench predictors --model dmpnn --hidden 256 --descriptors 1 --descriptor-set basic \
	  --throughput-rows 20000 --json $(BUILD)/bench/predictors_dmpnn.json
	$(BUILD)/bin/labloop bench predictors --model gp_dmpnn --hidden 256 --descriptors 20 \
	  --throughput-rows 20000 --json $(BUILD)/bench/predictors_gp_dmpnn_rd2d.json
	$(BUILD)/bin/labloop bench generators --samples 10000 --target "" --json $(BUILD)/bench/generators.json

format:
	git ls-files '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
