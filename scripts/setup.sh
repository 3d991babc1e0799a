#!/usr/bin/env bash
# setup.sh: install what taskscope needs from Debian 12's archive and
# configure the build directory `build/` (-Werror, as CI builds).
# Safe to run again: it only installs what is missing and reconfigures.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	gcc meson ninja-build pkg-config python3
	libprotobuf-c-dev protobuf-c-compiler
	libncurses-dev libsqlite3-dev sqlite3
	libbpf-dev bpftool clang llvm libelf-dev libdw-dev
	tmux procps
	cargo rustc librust-tokio-dev
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup.sh: missing packages: ${missing[*]}; run as root (or install them) and try again" >&2
		exit 1
	fi
	echo "setup.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f build/build.ninja ]; then
	meson setup --reconfigure build -Dwerror=true >/dev/null
else
	meson setup build -Dwerror=true >/dev/null
fi
echo "setup.sh: build/ is configured" >&2
