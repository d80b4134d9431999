#!/usr/bin/env bash
# Builds the npm packages from this repository:
#   1. `cargo build --release --workspace --bin convex-storage-emulator` (for --target T when given; with
#      --profile dev the debug build instead, which the test command packs because the
#      workspace build before it has already made it),
#   2. copies the binary into the matching platform package npm/platforms/<os>-<cpu>/bin/,
#   3. sets every package's version (and the main package's optionalDependencies) to the
#      emulator crate's version from emulator/Cargo.toml,
#   4. compiles the main package's TypeScript (npm/convex-storage-emulator/dist/),
#   5. with --pack DIR, runs `npm pack` of the main package and of the platform package just
#      built, writing the two tarballs into DIR.
#
# Usage: npm/build.sh [--target RUST_TARGET] [--profile release|dev] [--pack DIR]
#   (publish only what the default, --profile release, built)
#
# Needs: a Rust toolchain, Node.js 20+ and `npm ci --prefix npm` done once (TypeScript).
#
# Targets and their platform packages:
#   x86_64-unknown-linux-gnu   -> @convex-storage-emulator/linux-x64    (the default on this machine)
#   aarch64-unknown-linux-gnu  -> @convex-storage-emulator/linux-arm64
#   x86_64-apple-darwin        -> @convex-storage-emulator/darwin-x64
#   aarch64-apple-darwin       -> @convex-storage-emulator/darwin-arm64
#   x86_64-pc-windows-msvc     -> @convex-storage-emulator/win32-x64
#   x86_64-pc-windows-gnu      -> @convex-storage-emulator/win32-x64 (cross-built from Linux)
# Building another target:
#   - the simplest is to run this script on that platform (a GitHub Actions matrix of
#     ubuntu-latest, ubuntu-24.04-arm, macos-13, macos-latest and windows-latest), then
#     `npm publish` each platform package and, last, the main package;
#   - linux-arm64 from linux-x64: `rustup target add aarch64-unknown-linux-gnu`, install a
#     cross linker (Debian/Ubuntu: `apt-get install gcc-aarch64-linux-gnu`) and set
#     CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc; or use `cross`
#     (`cargo install cross`, needs Docker) with CARGO=cross;
#   - both darwin targets from either Mac: `rustup target add x86_64-apple-darwin
#     aarch64-apple-darwin`, then this script once per --target;
#   - win32-x64 on Windows: this script under Git Bash with the MSVC toolchain; from Linux:
#     `rustup target add x86_64-pc-windows-gnu`, MinGW (Debian/Ubuntu: `apt-get install
#     gcc-mingw-w64-x86-64`), then --target x86_64-pc-windows-gnu. scripts/check-platforms
#     type-checks the emulator for Windows and macOS from Linux.
# The linux binaries link glibc dynamically (rusqlite bundles SQLite); they run on glibc
# distributions, not on musl (Alpine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"

target=""
profile=release
pack_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target="$2"; shift 2 ;;
    --pack) pack_dir="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "npm/build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The Rust target -> the platform package (Node's process.platform-process.arch).
if [ -z "$target" ]; then
  platform="$(node -p 'process.platform + "-" + process.arch')"
else
  case "$target" in
    x86_64-unknown-linux-gnu) platform=linux-x64 ;;
    aarch64-unknown-linux-gnu) platform=linux-arm64 ;;
    x86_64-apple-darwin) platform=darwin-x64 ;;
    aarch64-apple-darwin) platform=darwin-arm64 ;;
    x86_64-pc-windows-msvc|x86_64-pc-windows-gnu) platform=win32-x64 ;;
    *) echo "npm/build.sh: no platform package for target $target" >&2; exit 2 ;;
  esac
fi
platform_dir="$here/platforms/$platform"
if [ ! -f "$platform_dir/package.json" ]; then
  echo "npm/build.sh: no platform package for $platform (npm/platforms/$platform)" >&2
  exit 2
fi
exe=convex-storage-emulator
case "$platform" in win32-*) exe=convex-storage-emulator.exe ;; esac

case "$profile" in
  release) cargo_profile=(--release); out_dir=release ;;
  dev) cargo_profile=(); out_dir=debug ;;
  *) echo "npm/build.sh: --profile is release or dev, not $profile" >&2; exit 2 ;;
esac
# --workspace: the dependencies get the whole workspace's features, so after `cargo build
# --workspace` (the test command's first step) the dev build finds everything already built.
echo "==> cargo build ${cargo_profile[*]:-} --workspace --bin convex-storage-emulator ${target:+--target $target}"
(cd "$repo" && cargo build "${cargo_profile[@]}" --locked --workspace --bin convex-storage-emulator ${target:+--target "$target"})
built="$repo/target/${target:+$target/}$out_dir/$exe"
mkdir -p "$platform_dir/bin"
cp "$built" "$platform_dir/bin/$exe"
chmod 755 "$platform_dir/bin/$exe"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/emulator/Cargo.toml" | head -n 1)"
echo "==> version $version into every package.json"
VERSION="$version" node --input-type=module - "$here" <<'EOF'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
const [root] = process.argv.slice(2)
const version = process.env.VERSION
const update = (file, change) => {
  const json = JSON.parse(readFileSync(file, 'utf8'))
  change(json)
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n')
}
for (const platform of readdirSync(path.join(root, 'platforms'), { withFileTypes: true })) {
  if (platform.isDirectory()) update(path.join(root, 'platforms', platform.name, 'package.json'), (p) => { p.version = version })
}
update(path.join(root, 'convex-storage-emulator', 'package.json'), (p) => {
  p.version = version
  for (const name of Object.keys(p.optionalDependencies)) p.optionalDependencies[name] = version
})
EOF

echo "==> tsc (npm/convex-storage-emulator/dist)"
tsc="$here/node_modules/.bin/tsc"
if [ ! -x "$tsc" ]; then
  echo "npm/build.sh: TypeScript is missing: run \`npm ci --prefix npm\` first" >&2
  exit 1
fi
rm -rf "$here/convex-storage-emulator/dist"
"$tsc" -p "$here/convex-storage-emulator"

if [ -n "$pack_dir" ]; then
  mkdir -p "$pack_dir"
  pack_dir="$(cd "$pack_dir" && pwd)"
  echo "==> npm pack into $pack_dir"
  (cd "$here/convex-storage-emulator" && npm pack --silent --pack-destination "$pack_dir" >/dev/null)
  (cd "$platform_dir" && npm pack --silent --pack-destination "$pack_dir" >/dev/null)
  ls "$pack_dir"
fi
