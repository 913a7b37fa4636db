#!/usr/bin/env bash
# Set up everything the stack needs on a fresh Debian machine with Python 3.11 and no ROS:
#   1. Debian packages (only those missing; needs root or sudo),
#   2. a virtual environment .venv in the checkout with the pinned Python dependencies,
#   3. the ROS 2 wheels (requirements-ros.txt) unless ROS 2 is already sourced from apt,
#   4. the memory_interfaces package, built with cmake + rosidl into .venv,
#   5. an editable install of this package.
# Each step leaves a stamp keyed by a hash of its inputs, so a second run costs seconds.
# Prints nothing but progress lines; exits non-zero with a message naming what failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MEMORY_STACK_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3.11}"
STAMPS="$VENV/.stamps"
LOG_DIR="$ROOT/build/setup-logs"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" > "$STAMPS/$1"; }

# --- 1. Debian packages -----------------------------------------------------------------
DEB_PACKAGES=(libusb-1.0-0 libegl1 libgl1 libosmesa6 libgomp1 cmake g++ make)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  mkdir -p "$LOG_DIR"
  { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive \
      $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    > "$LOG_DIR/apt.log" 2>&1 || die "apt-get failed; see $LOG_DIR/apt.log"
fi

# --- 2. virtual environment + pinned Python dependencies ---------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON_BIN" >/dev/null || die "$PYTHON_BIN not found; Python 3.11 is required"
  say "creating virtual environment $VENV"
  "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# ROS 2 sourced from apt (a robot): use it, never install the wheels.
USE_ROS_WHEELS=1
if [ -n "${ROS_DISTRO:-}" ] && [ -d "/opt/ros/${ROS_DISTRO}" ]; then
  USE_ROS_WHEELS=0
fi

req_hash="$(hash_of "$ROOT/requirements.txt")"
if ! stamp_ok requirements "$req_hash"; then
  say "installing Python dependencies (first run: several minutes)"
  mkdir -p "$LOG_DIR"
  "${PIP[@]}" install -q -r "$ROOT/requirements.txt" > "$LOG_DIR/pip.log" 2>&1 \
    || die "pip install -r requirements.txt failed; see $LOG_DIR/pip.log"
  stamp_set requirements "$req_hash"
fi

if [ "$USE_ROS_WHEELS" = 1 ]; then
  ros_hash="$(hash_of "$ROOT/requirements-ros.txt")"
  if ! stamp_ok requirements-ros "$ros_hash"; then
    say "installing ROS 2 wheels"
    mkdir -p "$LOG_DIR"
    "${PIP[@]}" install -q -r "$ROOT/requirements-ros.txt" > "$LOG_DIR/pip-ros.log" 2>&1 \
      || die "pip install -r requirements-ros.txt failed; see $LOG_DIR/pip-ros.log"
    stamp_set requirements-ros "$ros_hash"
  fi
fi

# --- 3. memory_interfaces (rosidl) ------------------------------------------------------
if [ "$USE_ROS_WHEELS" = 1 ]; then
  if_hash="$(cd "$ROOT/memory_interfaces" && hash_of CMakeLists.txt package.xml msg/* srv/*)"
  if ! stamp_ok interfaces "$if_hash-$ros_hash"; then
    say "building memory_interfaces into $VENV"
    BUILD="$ROOT/build/memory_interfaces"
    rm -rf "$BUILD"
    mkdir -p "$LOG_DIR"
    (
      export AMENT_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
      cmake -S "$ROOT/memory_interfaces" -B "$BUILD" \
        -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
        -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release
      cmake --build "$BUILD" -j "$(nproc)"
      cmake --install "$BUILD"
    ) > "$LOG_DIR/interfaces.log" 2>&1 \
      || die "building memory_interfaces failed; see $LOG_DIR/interfaces.log"
    stamp_set interfaces "$if_hash-$ros_hash"
  fi
fi

# --- 4. this package, editable ---------------------------------------------------------
pkg_hash="$(hash_of "$ROOT/setup.py" "$ROOT/setup.cfg")"
if ! stamp_ok package "$pkg_hash"; then
  say "installing this package (editable)"
  mkdir -p "$LOG_DIR"
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT" \
    > "$LOG_DIR/pip-editable.log" 2>&1 \
    || die "pip install -e . failed; see $LOG_DIR/pip-editable.log"
  stamp_set package "$pkg_hash"
fi
say "ready: $VENV"
