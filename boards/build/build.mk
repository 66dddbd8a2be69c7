# MicroPython builds, included by the top-level Makefile. The scripts cache in .cache/ and skip
# work whose inputs are unchanged, so these targets are phony and cheap to repeat.
#   make micropython-unix          -> $(MICROPYTHON_UNIX)
#   make firmware [BOARD=vpico]    -> $(FIRMWARE_IMAGE_DIR)/firmware.{elf,bin,uf2}

BUILD_MK_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD_MK_CACHE := $(abspath $(BUILD_MK_DIR)/../../.cache)

BOARD ?= pico
MICROPYTHON_UNIX := $(BUILD_MK_CACHE)/micropython/unix/micropython
FIRMWARE_IMAGE_DIR = $(BUILD_MK_CACHE)/images/$(BOARD)

.PHONY: build-deps micropython-unix firmware

build-deps:
	$(BUILD_MK_DIR)/deps.sh

micropython-unix: build-deps
	$(BUILD_MK_DIR)/unix.sh

firmware: build-deps
	$(BUILD_MK_DIR)/rp2.sh $(BOARD)
