import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import * as esm from 'convex-storage-emulator'
import { type Emulator, startEmulator } from 'convex-storage-emulator'

import { Storage, firstLine, isGone, waitGone } from './support.js'

const started: Emulator[] = []
async function start(options?: Parameters<typeof startEmulator>[0]): Promise<Emulator> {
  const emulator = await startEmulator(options)
  started.push(emulator)
  return emulator
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.stop()))
})

describe('startEmulator()', () => {
  it('starts on a free port with a random secret, and the official client inserts, claims and reads', async () => {
    const emulator = await start()
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(emulator.url).not.toBe('http://127.0.0.1:0')
    expect(emulator.authSecret.length).toBeGreaterThanOrEqual(32)

    const storage = new Storage(emulator.url, emulator.authSecret)
    await storage.insert(['a', 'b', 'c'])
    const claimed = await storage.claim('executor-1', 2)
    expect(claimed.map((doc) => doc.executionId)).toEqual(['a', 'b'])
    const docs = await storage.get(['a', 'b', 'c', 'missing'])
    expect(docs.map((doc) => doc?.status ?? null)).toEqual(['running', 'running', 'ready', null])
    expect(docs[0]?.executorId).toBe('executor-1')
  })

  it('refuses a call with another secret', async () => {
    const emulator = await start()
    const wrong = new Storage(emulator.url, 'not-the-secret')
    await expect(wrong.get(['a'])).rejects.toThrow(/Invalid auth secret/i)
  })

  it('gives each emulator its own port and secret', async () => {
    const [one, two] = await Promise.all([start(), start()])
    expect(one!.url).not.toBe(two!.url)
    expect(one!.authSecret).not.toBe(two!.authSecret)
    await new Storage(one!.url, one!.authSecret).insert(['only-in-one'])
    expect(await new Storage(two!.url, two!.authSecret).get(['only-in-one'])).toEqual([null])
  })

  it('takes a given secret and passes it in the environment, not on the command line', async () => {
    const emulator = await start({ authSecret: 'a-given-secret-1234' })
    expect(emulator.authSecret).toBe('a-given-secret-1234')
    await new Storage(emulator.url, 'a-given-secret-1234').insert(['x'])
    if (process.platform === 'linux') {
      const argv = readFileSync(`/proc/${emulator.pid}/cmdline`, 'utf8').split('\0')
      expect(argv).toContain('--port')
      expect(argv.join(' ')).not.toContain('a-given-secret-1234')
    }
  })

  it('reset() empties the store', async () => {
    const emulator = await start()
    const storage = new Storage(emulator.url, emulator.authSecret)
    const ids = Array.from({ length: 25 }, (_, i) => `reset-${i}`)
    await storage.insert(ids)
    expect((await storage.get(ids)).every((doc) => doc !== null)).toBe(true)

    expect(await emulator.reset()).toEqual({ deleted: 25 })
    expect((await storage.get(ids)).every((doc) => doc === null)).toBe(true)
    expect(await emulator.reset()).toEqual({ deleted: 0 })
    await storage.insert(['after-reset'])
    expect((await storage.get(['after-reset']))[0]?.status).toBe('ready')
  })

  it('stop() resolves once the process is gone, and a second stop() is a no-op', async () => {
    const emulator = await startEmulator()
    expect(isGone(emulator.pid)).toBe(false)
    await emulator.stop()
    expect(isGone(emulator.pid)).toBe(true)
    await emulator.stop()
    await expect(new Storage(emulator.url, emulator.authSecret).get(['a'])).rejects.toThrow()
  })

  it('keeps the store in a db file across restarts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cse-db-'))
    try {
      const db = path.join(dir, 'store.sqlite3')
      const first = await startEmulator({ db, authSecret: 'file-secret' })
      await new Storage(first.url, first.authSecret).insert(['kept'])
      await first.stop()
      const second = await start({ db, authSecret: 'file-secret' })
      expect((await new Storage(second.url, second.authSecret).get(['kept']))[0]?.executionId).toBe('kept')
      await second.stop()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("rejects with the emulator's stderr when it exits before listening", async () => {
    await expect(startEmulator({ args: ['--no-such-flag'] })).rejects.toThrow(
      /exited with code 2 before listening:[\s\S]*--no-such-flag/,
    )
  })

  it('rejects a bad port or an empty secret before starting anything', async () => {
    await expect(startEmulator({ port: 70_000 })).rejects.toThrow(RangeError)
    await expect(startEmulator({ authSecret: '' })).rejects.toThrow(/must not be empty/)
  })
})

describe('the package', () => {
  it('loads the same single instance through require() and import', () => {
    const cjs = createRequire(import.meta.url)('convex-storage-emulator') as typeof esm
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort())
    expect(cjs.startEmulator).toBe(esm.startEmulator)
    expect(cjs.EmulatorRequestError).toBe(esm.EmulatorRequestError)
  })
})

describe('no orphan', () => {
  /** Runs fixtures/parent.mjs in `mode`; answers its process and the emulator it printed. */
  async function parent(mode: 'return' | 'wait') {
    const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/parent.mjs', import.meta.url)), mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    )
    const printed = JSON.parse(await firstLine(child.stdout!)) as { pid: number; url: string }
    return { child, exited, emulatorPid: printed.pid }
  }

  it('a parent that ends without stop() takes the emulator with it', async () => {
    const { exited, emulatorPid } = await parent('return')
    expect(await exited).toEqual({ code: 0, signal: null })
    await waitGone(emulatorPid)
  })

  it('a parent killed with SIGTERM takes the emulator with it, and still dies of SIGTERM', async () => {
    const { child, exited, emulatorPid } = await parent('wait')
    expect(isGone(emulatorPid)).toBe(false)
    child.kill('SIGTERM')
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' })
    await waitGone(emulatorPid)
  })

  it('a parent interrupted with SIGINT takes the emulator with it', async () => {
    const { child, exited, emulatorPid } = await parent('wait')
    child.kill('SIGINT')
    expect(await exited).toEqual({ code: null, signal: 'SIGINT' })
    await waitGone(emulatorPid)
  })
})
