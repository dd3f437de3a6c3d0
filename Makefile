# nines: build rules. `make` builds build/; `make SAN=1` builds the ASan+UBSan variant in build-san/.
# Every .c in src/ except the program entry points forms libnines.a, which the programs and each
# unit test (tests/unit/test_*.c, cmocka) link against.

PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
MANDIR  ?= $(PREFIX)/share/man
SAN     ?= 0
CC      ?= cc

ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      = -O1 -g
else
BUILD   ?= build
SANFLAGS =
OPT      = -O2 -g
endif

PKGS     = libcurl inih libcap
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
# libcurl is not linked: src/curlso.c loads it on the first HTTP request (start-up cost).
PKG_LIBS   := $(shell pkg-config --libs inih libcap) -ldl
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CFLAGS  ?= $(OPT)
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Isrc $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS)

PROGS    = nines ninesctl
MAINS    = $(PROGS:%=src/%.c)
LIB_SRC  = $(filter-out $(MAINS) src/main.c,$(wildcard src/*.c))
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

NINES_MAIN    = $(if $(wildcard src/main.c),src/main.c,src/nines.c)
NINESCTL_MAIN = $(wildcard src/ninesctl.c)

.PHONY: all check unit pytest install clean san
all: $(BUILD)/nines $(if $(NINESCTL_MAIN),$(BUILD)/ninesctl) $(TEST_BIN)

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/unit_%.o: tests/unit/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/libnines.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/nines: $(BUILD)/obj/main.o $(BUILD)/libnines.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ninesctl: $(BUILD)/obj/ninesctl.o $(BUILD)/libnines.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/unit_%.o $(BUILD)/libnines.a | $(BUILD)/tests
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

unit: all
	@set -e; n=0; for t in $(TEST_BIN); do echo "== $$t"; $$t; n=$$((n+1)); done; \
	  [ $$n -gt 0 ] || { echo "no unit tests ran" >&2; exit 1; }

pytest: all
	NINES_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/pytest

check: unit pytest

san:
	$(MAKE) SAN=1 all

# The binaries; the man pages; etc/nines.conf as the main config (an existing one in a live
# install, DESTDIR empty, is kept); an empty services dir (nines refuses to start without it); the
# services/*.conf examples, which need editing, outside the live services dir; the systemd unit
# with its paths following PREFIX and SYSCONFDIR. A tree holding only Makefile and src/ (the
# Dockerfile's build stage) installs the binaries and whatever else it has.
install: $(BUILD)/nines $(BUILD)/ninesctl
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/nines $(DESTDIR)$(PREFIX)/sbin/nines
	install -m 0755 $(BUILD)/ninesctl $(DESTDIR)$(PREFIX)/sbin/ninesctl
	set -e; for s in 5 8; do \
	  pages=$$(ls man/*.$$s 2>/dev/null || true); [ -n "$$pages" ] || continue; \
	  install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 0644 $$pages $(DESTDIR)$(MANDIR)/man$$s/; \
	done
	set -e; if [ -f etc/nines.conf ]; then \
	  install -d $(DESTDIR)$(SYSCONFDIR)/nines $(DESTDIR)$(SYSCONFDIR)/nines/services; \
	  if [ -z "$(DESTDIR)" ] && [ -e $(SYSCONFDIR)/nines/nines.conf ]; then \
	    echo "install: keeping the existing $(SYSCONFDIR)/nines/nines.conf"; \
	  else install -m 0644 etc/nines.conf $(DESTDIR)$(SYSCONFDIR)/nines/nines.conf; fi; \
	fi
	set -e; examples=$$(ls services/*.conf 2>/dev/null || true); if [ -n "$$examples" ]; then \
	  install -d $(DESTDIR)$(PREFIX)/share/nines/examples; \
	  install -m 0644 $$examples $(DESTDIR)$(PREFIX)/share/nines/examples/; \
	fi
	set -e; if [ -f etc/nines.service ]; then \
	  install -d $(DESTDIR)$(PREFIX)/lib/systemd/system; \
	  sed -e 's|/usr/sbin/nines|$(PREFIX)/sbin/nines|g' -e 's|/etc/nines/|$(SYSCONFDIR)/nines/|g' \
	    etc/nines.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/nines.service; \
	  chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/nines.service; \
	fi

clean:
	rm -rf build build-san

-include $(wildcard $(BUILD)/obj/*.d)
