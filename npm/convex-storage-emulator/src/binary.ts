/**
 * Finds the emulator binary: the path in CONVEX_STORAGE_EMULATOR_BIN when set, otherwise the
 * binary inside the platform package (`@convex-storage-emulator/<platform>-<arch>`) that npm
 * installed through this package's optionalDependencies.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'

/** Environment variable that points at a binary directly (a cargo build, a CI artifact). */
export const BINARY_ENV = 'CONVEX_STORAGE_EMULATOR_BIN'

/** The `os-cpu` pairs we publish a platform package for, as Node spells them. */
export const PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'] as const

/** The scope the platform packages live under. */
const PLATFORM_SCOPE = '@convex-storage-emulator'

/** The path of the emulator binary to run; throws with what to do when there is none. */
export function binaryPath(): string {
  const fromEnv = process.env[BINARY_ENV]
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) {
      throw new Error(`${BINARY_ENV} is set to ${fromEnv}, which does not exist`)
    }
    return fromEnv
  }
  const platform = `${process.platform}-${process.arch}`
  const packageName = `${PLATFORM_SCOPE}/${platform}`
  const executable = process.platform === 'win32' ? 'convex-storage-emulator.exe' : 'convex-storage-emulator'
  let packageJson: string
  try {
    // Resolved from this file, so it finds the package wherever npm, pnpm or yarn put it.
    packageJson = require.resolve(`${packageName}/package.json`)
  } catch {
    const supported = (PLATFORMS as readonly string[]).includes(platform)
    throw new Error(
      supported
        ? `convex-storage-emulator: the package ${packageName} is not installed. It is an optional ` +
            'dependency: reinstall without --no-optional / --omit=optional, or set ' +
            `${BINARY_ENV} to the path of a binary you built with cargo.`
        : `convex-storage-emulator: no binary is published for ${platform}. Build one with ` +
            `\`cargo build --release -p convex-storage-emulator\` and set ${BINARY_ENV} to its path.`,
    )
  }
  const binary = path.join(path.dirname(packageJson), 'bin', executable)
  if (!existsSync(binary)) {
    throw new Error(`convex-storage-emulator: ${packageName} is installed but has no ${binary}`)
  }
  return binary
}
