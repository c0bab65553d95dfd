#!/usr/bin/env bash
# The `package` test: install this build into a scratch prefix, then use it as an outside project
# would — find_package + ringkeeper::node (shared) and ringkeeper::node_static, and pkg-config —
# and run the README's embedding example each way.
#   run_package_test.sh BUILD_DIR WORK_DIR VERSION CXX "CXX_FLAGS"
# WORK_DIR is emptied first; it stays the same between runs so ccache can reuse the compiles.
set -euo pipefail

BUILD="$1" WORK="$2" VERSION="$3" CXX="$4" CXX_FLAGS="${5:-}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="$WORK/prefix"

fail() { echo "package test: $*" >&2; exit 1; }
step() { echo "== $*"; }

rm -rf "$WORK"
mkdir -p "$WORK"

step "cmake --install $BUILD --prefix $PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" || { cat "$WORK/install.log"; fail "install failed"; }

# Where things must land. LIBDIR is lib, or lib/<multiarch> under /usr.
pc="$(find "$PREFIX" -name ringkeeper.pc)"
[ -n "$pc" ] || fail "no ringkeeper.pc installed"
LIBDIR="$(dirname "$(dirname "$pc")")"
for f in "$PREFIX/include/ringkeeper/node.h" "$PREFIX/include/ringkeeper/version.h" \
         "$PREFIX/include/ringkeeper/status.h" "$PREFIX/include/ringkeeper/subscription.h" \
         "$PREFIX/include/ringkeeper/peer_liveness.h" "$PREFIX/include/ringkeeper/ring/router.h" \
         "$LIBDIR/libringkeeper.a" "$LIBDIR/cmake/ringkeeper/ringkeeperConfig.cmake" \
         "$LIBDIR/cmake/ringkeeper/ringkeeperConfigVersion.cmake"; do
  [ -e "$f" ] || fail "missing ${f#"$PREFIX"/}"
done
soname="$(objdump -p "$LIBDIR/libringkeeper.so" | awk '/SONAME/ {print $2}')"
case "$soname" in
  libringkeeper.so.[0-9]*) echo "soname $soname" ;;
  *) fail "libringkeeper.so has no versioned soname (got '$soname')" ;;
esac
# Only the public headers are installed: nothing of gossip/, node/ or storage/.
internal="$(find "$PREFIX/include" -path '*/gossip/*' -o -path '*/storage/*' -o -path '*/node/*')"
[ -z "$internal" ] || fail "internal headers installed: $internal"

ccache=()
if command -v ccache >/dev/null; then ccache=(ccache); fi

step "find_package(ringkeeper): configure and build tests/package"
cmake -S "$HERE" -B "$WORK/consumer" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_FLAGS="$CXX_FLAGS" \
  -DCMAKE_CXX_COMPILER_LAUNCHER="${ccache[*]}" >"$WORK/consumer-configure.log" || { cat "$WORK/consumer-configure.log"; fail "configure failed"; }
cmake --build "$WORK/consumer" || fail "build against the installed package failed"

for exe in embed_shared embed_static; do
  step "run $exe"
  out="$("$WORK/consumer/$exe" "$WORK/data-$exe")" || { echo "$out"; fail "$exe failed"; }
  echo "$out"
  grep -qx "ringkeeper $VERSION" <<<"$out" || fail "$exe printed a version other than $VERSION"
done
# The shared build really uses the installed shared library. (Not `| grep -q`: grep leaving early
# can kill ldd with SIGPIPE, which pipefail reports as a failure.)
ldd "$WORK/consumer/embed_shared" | grep "$LIBDIR/libringkeeper.so" >/dev/null || fail "embed_shared does not load $LIBDIR/libringkeeper.so"

step "pkg-config --cflags --libs ringkeeper"
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
[ "$(pkg-config --modversion ringkeeper)" = "$VERSION" ] || fail "pkg-config --modversion is not $VERSION"
flags="$(pkg-config --cflags --libs ringkeeper)" || fail "pkg-config refused ringkeeper.pc"
echo "$flags"
# shellcheck disable=SC2086  # the flags are words
"${ccache[@]}" "$CXX" -std=c++20 $CXX_FLAGS "$HERE/main.cc" $flags -o "$WORK/embed_pc" \
  || fail "compiling with pkg-config's flags failed"
LD_LIBRARY_PATH="$LIBDIR" "$WORK/embed_pc" "$WORK/data-pc" >/dev/null || fail "embed_pc failed"

# ringd and ringctl (installed when the tools are built) print the project's version.
for tool in ringd ringctl; do
  [ -x "$PREFIX/bin/$tool" ] || continue
  [ "$("$PREFIX/bin/$tool" --version)" = "$tool $VERSION" ] || fail "$tool --version is not '$tool $VERSION'"
done
echo "package test: passed"
