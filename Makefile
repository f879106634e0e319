# mtp: multi-token prediction language models in C.
#   make            build build/mtp and build/libmtp.a
#   make test       build and run the test suite
#   make sanitize   run the test suite under AddressSanitizer + UBSan (build/san)
#   make fuzz       build the libFuzzer targets (clang)
#   make bench      build the C micro-benchmarks (build/bench/)
#   make docs       write docs/cli.md from the commands' --help
#   make CC=clang   any C11 compiler with OpenMP
#   make MPI=0      without OpenMPI (one-process training only)
#   make CUDA=1     with the CUDA backend (ops/cuda/; CUDA toolkit in CUDA_HOME,
#                   use its own BUILD folder, e.g. BUILD=build/cuda)

CC ?= gcc
BUILD ?= build
OPT ?= -O3 -march=native
BLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC ?= /usr/include/x86_64-linux-gnu/openblas-openmp
SAN_FLAGS ?=

# MPI (OpenMPI) for multi-process training: on when its development files are
# installed (libopenmpi-dev), off with MPI=0; a build without it trains in one
# process.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c) -DMTP_MPI=1
MPI_LIBS := $(shell pkg-config --libs ompi-c)
endif

# CUDA (nvcc, cuBLAS) for the GPU backend: off unless CUDA=1. CUDA_ARCH: the
# GPUs to compile for (sm_90: H100, H200; sm_80: A100).
CUDA ?= 0
CUDA_HOME ?= /usr/local/cuda
NVCC ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
ifeq ($(CUDA),1)
CUDA_CFLAGS := -DMTP_CUDA=1
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++ -ldl
CU_SRC := $(sort $(wildcard src/ops/cuda/*.cu))
endif
# CUDA=emu: the same backend with its kernels, cuBLAS products and runtime
# calls emulated on the host (tests/cuda_emu/), so the GPU tests run, slowly,
# where there is no GPU (use its own BUILD folder, e.g. BUILD=build/emu).
ifeq ($(CUDA),emu)
CUDA_CFLAGS := -DMTP_CUDA=1
CUDA_LIBS := -lstdc++ -pthread -ldl
CU_SRC := $(sort $(wildcard src/ops/cuda/*.cu))
EMU_DEVICE_OBJ := $(BUILD)/cuda_emu/emu_runtime.o $(BUILD)/cuda_emu/emu_device.o $(BUILD)/cuda_emu/nccl_emu.o
endif

CFLAGS = -std=c11 $(OPT) -ffp-contract=fast -g -fopenmp -Wall -Wextra -Werror -Wshadow -Wno-unknown-pragmas -Wno-missing-field-initializers \
         -Isrc -Iinclude -I$(BLAS_INC) $(MPI_CFLAGS) $(CUDA_CFLAGS) $(SAN_FLAGS)
LDLIBS = -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lcjson -lpcre2-8 $(MPI_LIBS) $(CUDA_LIBS) -lm
NVCCFLAGS = -std=c++17 -O3 -g $(CUDA_ARCH) -Isrc -Iinclude $(CUDA_CFLAGS) -Xcompiler -Wall,-Wextra,-Werror
LDFLAGS = -fopenmp $(SAN_FLAGS)

# The CUDA kernels that tests run on the host, without a GPU, compiled by a C++
# compiler against a small emulation of the CUDA runtime (tests/cuda_emu/).
ifeq ($(origin CXX),default)
CXX := $(if $(findstring clang,$(CC)),$(subst clang,clang++,$(CC)),g++)
endif
EMU_CU := src/ops/cuda/flash_attention.cu src/ops/cuda/xent.cu
EMU_CXXFLAGS = -std=c++17 $(OPT) -g -pthread -Wall -Wextra -Werror -Wno-unknown-pragmas -include tests/cuda_emu/emu.h -Itests/cuda_emu \
         -Isrc -Iinclude $(SAN_FLAGS)

LIB_SRC := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
ifneq ($(CUDA),0)  # the CUDA builds run these kernels through test_cuda_ops instead
TEST_SRC := $(filter-out tests/test_cuda_emulation.c,$(TEST_SRC))
endif
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
HEADERS := $(shell find src include -name '*.h')

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CU_SRC:%.cu=$(BUILD)/%.o) $(EMU_DEVICE_OBJ)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
EMU_OBJ := $(EMU_CU:src/ops/cuda/%.cu=$(BUILD)/emu_kernels/%.o) $(BUILD)/emu_kernels/emu_runtime.o $(BUILD)/emu_kernels/emu_kernels_only.o
EMU_HEADERS := $(wildcard tests/cuda_emu/*.h) $(wildcard src/ops/cuda/*.h)

.PHONY: all test sanitize fuzz bench clean format docs
all: $(BUILD)/mtp $(BUILD)/libmtp.a

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
ifeq ($(CUDA),emu)
	$(CXX) -x c++ $(EMU_CXXFLAGS) $(CUDA_CFLAGS) $(MPI_CFLAGS) -MMD -MP -c $< -o $@
else
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@
endif

$(BUILD)/cuda_emu/%.o: tests/cuda_emu/%.cpp $(EMU_HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) $(MPI_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmtp.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mtp: $(CLI_OBJ) $(BUILD)/libmtp.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libmtp.a $(HEADERS) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libmtp.a -o $@ $(LDLIBS)

# The public interface's test sees include/ only, as a program using the library does.
$(BUILD)/tests/test_public_api: tests/test_public_api.c $(BUILD)/libmtp.a include/mtp.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) -g -Wall -Wextra -Werror -Iinclude $(SAN_FLAGS) $(LDFLAGS) $< $(BUILD)/libmtp.a -o $@ $(LDLIBS)

$(BUILD)/emu_kernels/%.o: src/ops/cuda/%.cu $(EMU_HEADERS) src/ops/cuda/cuda_ops.h
	@mkdir -p $(dir $@)
	$(CXX) -x c++ $(EMU_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/emu_kernels/%.o: tests/cuda_emu/%.cpp $(EMU_HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/test_cuda_emulation: tests/test_cuda_emulation.c $(EMU_OBJ) $(BUILD)/libmtp.a $(HEADERS) $(EMU_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(EMU_OBJ) $(BUILD)/libmtp.a -o $@ $(LDLIBS) -lstdc++ -pthread

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libmtp.a $(HEADERS) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libmtp.a -o $@ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmtp.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libmtp.a -o $@ $(LDLIBS)

bench: all $(BENCH_BIN)

test: all $(TEST_BIN) $(TOOL_BIN) $(BENCH_BIN)
	BUILD=$(BUILD) bash tests/run_all.sh

sanitize:  # its own folder per CUDA flavour: build/san, build/san-emu, ...
	$(MAKE) BUILD=build/san$(if $(filter-out 0,$(CUDA)),-$(CUDA)) OPT="-O1 -march=native" \
	  SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test

fuzz:
	$(MAKE) -C fuzz

docs: $(BUILD)/mtp
	$(BUILD)/mtp help --markdown >docs/cli.md

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(TOOL_SRC) $(BENCH_SRC) $(wildcard bench/*/*.c) $(HEADERS) $(wildcard src/ops/cuda/*.cu) \
	  $(wildcard tests/cuda_emu/*)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(EMU_OBJ:.o=.d)
