#!/usr/bin/env bash
# The npm packages' end-to-end check, as a new user would meet them:
#   1. set-up (the only step that may use the network): `npm ci --prefix npm`, which installs
#      the build tooling and fills the npm cache with the pinned vitest, convex and TypeScript;
#   2. npm/build.sh: the binary into the platform package, TypeScript build, `npm pack` of
#      the main package and of this machine's platform package. The binary is the debug build
#      (NPM_E2E_PROFILE=release for the release one): ./scripts/test has just built it, while
#      a release build would compile the whole dependency tree again (about 4 minutes on 2
#      cores) for the same code; the packaging under test is the same either way;
#   3. a fresh project in a temporary folder: `npm ci --offline` of the pinned tooling, then
#      `npm install --offline` of the two tarballs;
#   4. there: `npx convex-storage-emulator --version`, a type-check of the tests against the
#      installed .d.ts, and the vitest suite in npm/e2e/test (globalSetup from the README).
# Everything after step 1 runs offline. The temporary folder is removed at the end.
#
# Usage: npm/e2e/run.sh [setup|check]   (no argument: both; ./scripts/test runs `setup` with
# the other set-up steps first and `check` later)
set -euo pipefail
what="${1:-all}"
case "$what" in
  setup|check|all) ;;
  *) echo "usage: npm/e2e/run.sh [setup|check]" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
npm_dir="$(dirname "$here")"

# The packages must find their binary on their own, not through a developer's override.
unset CONVEX_STORAGE_EMULATOR_BIN

setup() {
  echo "--- set-up: npm ci --prefix npm"
  if [ ! -f "$npm_dir/node_modules/.package-lock.json" ] || [ "$npm_dir/package-lock.json" -nt "$npm_dir/node_modules/.package-lock.json" ] || [ -n "${CI:-}" ]; then
    npm ci --prefix "$npm_dir" --no-audit --no-fund --loglevel=error
  else
    echo "npm/node_modules is up to date"
  fi
}
if [ "$what" != check ]; then setup; fi
if [ "$what" = setup ]; then exit 0; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/convex-storage-emulator-e2e.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "--- build and pack"
"$npm_dir/build.sh" --profile "${NPM_E2E_PROFILE:-dev}" --pack "$work/tarballs"

echo "--- a fresh project, installed offline"
project="$work/project"
mkdir -p "$project"
cp "$npm_dir/package.json" "$npm_dir/package-lock.json" "$project/"
cp -R "$here" "$project/e2e"
rm -f "$project/e2e/run.sh"
cd "$project"
npm ci --offline --no-audit --no-fund --loglevel=error
npm install --offline --no-audit --no-fund --loglevel=error "$work"/tarballs/*.tgz

echo "--- npx convex-storage-emulator --version"
npx convex-storage-emulator --version

echo "--- type-check the tests against the installed types"
npm run --silent typecheck

echo "--- vitest"
npm test
