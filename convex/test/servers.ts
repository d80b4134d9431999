/**
 * Starts the two backends the suite runs against, as real processes on `127.0.0.1:0`:
 *
 * - the emulator binary: `$CONVEX_STORAGE_EMULATOR_BIN`, or else built here with
 *   `cargo build -p convex-storage-emulator` from the repository root;
 * - the reference server: this package's `npm run reference`.
 *
 * Both print `listening on http://HOST:PORT` once they accept connections. Each runs in a
 * process group of its own, so stopping it also stops the `node` under `npm`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The `convex/` folder (this package). */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The Cargo workspace root. */
export const REPO_ROOT = resolve(PACKAGE_DIR, '..')

/** The environment variable naming a prebuilt emulator binary. */
export const EMULATOR_BIN_ENV = 'CONVEX_STORAGE_EMULATOR_BIN'

/** How long a server may take to print its `listening on` line (it loads TypeScript first). */
export const START_TIMEOUT_MS = 60_000
/** How long a server may take to exit after SIGTERM before it is killed. */
export const STOP_TIMEOUT_MS = 10_000

export type BackendName = 'reference' | 'emulator'

/** A running server. */
export type RunningServer = {
  url: string
  /** Ends the server (SIGTERM to its group, then SIGKILL if it lingers). */
  stop(): Promise<void>
  /** What it wrote to stderr so far, for failure messages. */
  stderr(): string
}

/** Starts the named backend with `authSecret`. */
export async function startBackend(name: BackendName, authSecret: string): Promise<RunningServer> {
  if (name === 'emulator') {
    const binary = emulatorBinary()
    return await startProcess(binary, [
      '--auth-secret',
      authSecret,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--db',
      ':memory:',
    ])
  }
  return await startProcess('npm', [
    '--prefix',
    PACKAGE_DIR,
    'run',
    '--silent',
    'reference',
    '--',
    '--port',
    '0',
    '--auth-secret',
    authSecret,
  ])
}

/** The emulator binary, building it first when no prebuilt one is named. */
function emulatorBinary(): string {
  const fromEnv = process.env[EMULATOR_BIN_ENV]
  if (fromEnv !== undefined && fromEnv !== '') {
    return fromEnv
  }
  const build = spawnSync('cargo', ['build', '--quiet', '--workspace', '--bin', 'convex-storage-emulator'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (build.status !== 0) {
    throw new Error(`cargo build --workspace --bin convex-storage-emulator failed (${build.status ?? build.signal})`)
  }
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(REPO_ROOT, 'target')
  const binary = join(targetDir, 'debug', 'convex-storage-emulator')
  if (!existsSync(binary)) {
    throw new Error(`built the emulator but found no binary at ${binary}`)
  }
  return binary
}

async function startProcess(command: string, args: string[]): Promise<RunningServer> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL')
      reject(new Error(`${command} printed no \`listening on\` line in ${START_TIMEOUT_MS} ms:\n${stderr}`))
    }, START_TIMEOUT_MS)
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      if (line.startsWith('listening on ')) {
        clearTimeout(timer)
        resolveUrl(line.slice('listening on '.length).trim())
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited (${code ?? signal}) before listening:\n${stderr}`))
    })
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
  return {
    url,
    stderr: () => stderr,
    stop: () => stopProcess(child),
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return
  }
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))
  killGroup(child, 'SIGTERM')
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    // Already gone.
  }
}
