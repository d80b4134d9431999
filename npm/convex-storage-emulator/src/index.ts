/**
 * `startEmulator()`: runs the emulator binary as a child process on a free port and hands back
 * its URL, its secret and the control routes under `/_emulator/` (reset, clock).
 *
 * The child never outlives this process: every running emulator is in `running`, and while
 * that set is not empty, handlers for `exit`, SIGINT, SIGTERM and SIGHUP stop them all.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'

import { binaryPath } from './binary.js'

export { BINARY_ENV, PLATFORMS, binaryPath } from './binary.js'

/** The environment variable the child reads its secret from (never argv: `ps` shows argv). */
export const AUTH_SECRET_ENV = 'CONVEX_STORAGE_AUTH_SECRET'

/** How long `startEmulator()` waits for the `listening on` line unless told otherwise. */
const START_TIMEOUT_MS_DEFAULT = 30_000

/** How long `stop()` lets the emulator shut down cleanly after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000

/** How much of the child's stderr is kept for an error message (its tail). */
const STDERR_TAIL_CHARS_MAX = 16_384

/** Random bytes in a generated secret (192 bits, as base64url). */
const GENERATED_SECRET_BYTES = 24

/** What `startEmulator()` accepts. Every field is optional. */
export interface StartEmulatorOptions {
  /** The secret every call must send as `authSecret`; a random one when absent. */
  authSecret?: string | undefined
  /** SQLite database file, or `:memory:` (the default: nothing is kept after `stop()`). */
  db?: string | undefined
  /** Port to listen on; `0` (the default) picks a free one. */
  port?: number | undefined
  /** Address to bind; default `127.0.0.1`. */
  host?: string | undefined
  /** A snapshot ZIP (the layout `npx convex export` writes) to start from (`--snapshot`). */
  snapshot?: string | undefined
  /**
   * `'system'` (the default) or `'manual'`: time stands still and moves only through
   * `clock.advance()` and `clock.set()` (`--clock`).
   */
  clock?: 'system' | 'manual' | undefined
  /** With `clock: 'manual'`, the starting time in ms since the Unix epoch (`--clock-start-ms`). */
  clockStartMs?: number | undefined
  /** More flags, passed to the binary as they are, for example `['--faults', spec]`. */
  args?: readonly string[] | undefined
  /** The binary to run; default: `CONVEX_STORAGE_EMULATOR_BIN`, then the platform package. */
  binary?: string | undefined
  /** How long to wait for the `listening on` line; default 30 000 ms. */
  startTimeoutMs?: number | undefined
}

/** The emulator's clock, over `/_emulator/clock`. Every method answers the clock's time in ms. */
export interface EmulatorClock {
  /** The emulator's current time (ms since the Unix epoch). */
  now(): Promise<number>
  /** Moves a manual clock forward by `ms`; answers the new time. */
  advance(ms: number): Promise<number>
  /** Sets a manual clock to `ms` since the Unix epoch (not earlier: time never goes back). */
  set(ms: number): Promise<number>
}

/** A running emulator. */
export interface Emulator {
  /** Its base URL, for `new ConvexHttpClient(url)`, for example `http://127.0.0.1:41235`. */
  readonly url: string
  /** The secret calls must send as `authSecret`. */
  readonly authSecret: string
  /** The child's process id. */
  readonly pid: number
  /** Empties the store in one transaction; answers how many executions it deleted. */
  reset(): Promise<{ deleted: number }>
  /** Stops the emulator; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>
  /** Reads and moves the emulator's clock. */
  readonly clock: EmulatorClock
}

/** A control route answered with an error (`status` is the HTTP status, `code` Convex's). */
export class EmulatorRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message)
    this.name = 'EmulatorRequestError'
  }
}

/** Starts an emulator; resolves once it accepts connections. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const authSecret = options.authSecret ?? randomBytes(GENERATED_SECRET_BYTES).toString('base64url')
  if (authSecret === '') {
    throw new TypeError('startEmulator: authSecret must not be empty')
  }
  const binary = options.binary ?? binaryPath()
  const child = spawn(binary, commandLine(options), {
    env: { ...process.env, [AUTH_SECRET_ENV]: authSecret },
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    // A child that never started (ENOENT, EACCES) has no `exit` to wait for.
    child.once('error', () => {
      if (child.pid === undefined) resolve()
    })
  })
  track(child, exited)
  const url = await listeningUrl(child, binary, options.startTimeoutMs ?? START_TIMEOUT_MS_DEFAULT)
  // A script that forgets stop() must still be able to exit; the `exit` handler then stops
  // the child. stop() takes the reference back so it can wait for the exit.
  child.unref()
  unrefStream(child.stdout)
  unrefStream(child.stderr)

  const control = controlClient(url, authSecret)
  let stopping: Promise<void> | undefined
  return {
    url,
    authSecret,
    pid: child.pid ?? -1,
    reset: () => control<{ deleted: number }>('POST', '/reset'),
    stop() {
      stopping ??= stopChild(child, exited)
      return stopping
    },
    clock: {
      now: async () => (await control<ClockState>('GET', '/clock')).nowMs,
      advance: async (ms) => (await control<ClockState>('POST', '/clock', { advanceMs: ms })).nowMs,
      set: async (ms) => (await control<ClockState>('POST', '/clock', { setMs: ms })).nowMs,
    },
  }
}

/** The flags for `options`; the secret is not among them (it goes in the environment). */
function commandLine(options: StartEmulatorOptions): string[] {
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`startEmulator: port must be an integer from 0 to 65535, got ${port}`)
  }
  const args = ['--host', options.host ?? '127.0.0.1', '--port', String(port), '--db', options.db ?? ':memory:']
  if (options.snapshot !== undefined) {
    args.push('--snapshot', path.resolve(options.snapshot))
  }
  if (options.clock !== undefined) {
    args.push('--clock', options.clock)
  }
  if (options.clockStartMs !== undefined) {
    args.push('--clock-start-ms', String(options.clockStartMs))
  }
  args.push(...(options.args ?? []))
  return args
}

/**
 * Waits for the one `listening on http://HOST:PORT` line on stdout and answers the URL; rejects
 * with the child's stderr when it exits or fails first, or after `timeoutMs`.
 */
function listeningUrl(child: ChildProcess, binary: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    let settled = false
    const settle = (error: Error | undefined, url?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error === undefined && url !== undefined) {
        resolve(url)
      } else {
        reject(error)
      }
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      settle(new Error(`convex-storage-emulator did not print "listening on" within ${timeoutMs} ms${tail(stderr)}`))
    }, timeoutMs)

    // Both pipes are read for the child's whole life: a full pipe would block its writes.
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      if (settled) return
      stdout += chunk
      // Only a whole line counts: a chunk may end in the middle of the port number.
      const match = /^listening on (https?:\/\/\S+?)\r?\n/m.exec(stdout)
      if (match !== null) {
        settle(undefined, match[1])
      }
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS_MAX)
    })
    child.once('error', (error) => {
      settle(new Error(`convex-storage-emulator: cannot run ${binary}: ${error.message}`))
    })
    child.once('exit', (code, signal) => {
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`
      // stderr may still be in the pipe when `exit` fires; `close` comes after both pipes end.
      child.once('close', () => settle(new Error(`convex-storage-emulator ${how} before listening${tail(stderr)}`)))
    })
  })
}

function tail(stderr: string): string {
  const text = stderr.trim()
  return text === '' ? '' : `:\n${text}`
}

function unrefStream(stream: unknown): void {
  ;(stream as { unref?: () => void } | null)?.unref?.()
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return
  }
  child.ref()
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}

type ClockState = { mode: 'system' | 'manual'; nowMs: number }

/** A caller of the control routes with the bearer secret; errors become EmulatorRequestError. */
function controlClient(url: string, authSecret: string) {
  return async function control<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${authSecret}` }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
    }
    const response = await fetch(`${url}/_emulator${route}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    if (!response.ok) {
      const error = json as { code?: unknown; message?: unknown } | undefined
      const code = typeof error?.code === 'string' ? error.code : undefined
      const message = typeof error?.message === 'string' ? error.message : text || response.statusText
      throw new EmulatorRequestError(
        `${method} /_emulator${route}: ${response.status}${code === undefined ? '' : ` ${code}`}: ${message}`,
        response.status,
        code,
      )
    }
    if (json === undefined) {
      throw new EmulatorRequestError(`${method} /_emulator${route}: the answer is not JSON`, response.status, undefined)
    }
    return json as T
  }
}

// ---------------------------------------------------------------------------------------------
// No orphans: while any emulator runs, the parent's exit and termination signals stop them.

const running = new Set<ChildProcess>()
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

function track(child: ChildProcess, exited: Promise<void>): void {
  running.add(child)
  if (running.size === 1) {
    process.on('exit', killAll)
    for (const signal of FORWARDED_SIGNALS) process.on(signal, onSignal)
  }
  void exited.then(() => {
    running.delete(child)
    if (running.size === 0) uninstall()
  })
}

function uninstall(): void {
  process.off('exit', killAll)
  for (const signal of FORWARDED_SIGNALS) process.off(signal, onSignal)
}

/** Runs inside `exit`, so only synchronous work: a signal to each child. */
function killAll(): void {
  for (const child of running) child.kill('SIGTERM')
}

function onSignal(signal: NodeJS.Signals): void {
  killAll()
  uninstall()
  // Our listener replaced Node's default (die on the signal). When nobody else listens, do
  // what the default would have done; otherwise the other listeners decide.
  if (process.listenerCount(signal) === 0) {
    process.kill(process.pid, signal)
  }
}
