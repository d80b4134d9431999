// startEmulator({ clock: 'manual' }) and the clock handle over /_emulator/clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Emulator, EmulatorRequestError, startEmulator } from 'convex-storage-emulator'

import { Storage } from './support.js'

const START_MS = 1_700_000_000_000

describe('a manual clock', () => {
  let emulator: Emulator
  let started: Emulator | undefined
  beforeAll(async () => {
    started = await startEmulator({ clock: 'manual', clockStartMs: START_MS })
    emulator = started
  })
  afterAll(async () => {
    await started?.stop()
  })

  it('starts where it was told, and moves only when told', async () => {
    expect(await emulator.clock.now()).toBe(START_MS)
    expect(await emulator.clock.now()).toBe(START_MS)
    expect(await emulator.clock.advance(5_000)).toBe(START_MS + 5_000)
    expect(await emulator.clock.now()).toBe(START_MS + 5_000)
    expect(await emulator.clock.set(START_MS + 60_000)).toBe(START_MS + 60_000)
    expect(await emulator.clock.now()).toBe(START_MS + 60_000)
  })

  it('is the time the storage functions stamp', async () => {
    const storage = new Storage(emulator.url, emulator.authSecret)
    const start = await emulator.clock.now()
    await storage.insert(['before'])
    await emulator.clock.advance(10_000)
    await storage.insert(['after'])
    const [before, after] = await storage.get(['before', 'after'])
    expect(after!.createdAt - before!.createdAt).toBe(10_000)
    // Stamped from the manual clock, which is years away from the wall clock.
    expect(Math.abs(before!.createdAt - start)).toBeLessThan(1_000)
  })

  it("passes the emulator's refusal on as an EmulatorRequestError", async () => {
    const now = await emulator.clock.now()
    const refusal = await emulator.clock.set(now - 1).catch((error: unknown) => error)
    expect(refusal).toBeInstanceOf(EmulatorRequestError)
    expect(refusal).toMatchObject({ status: 400, code: 'BadRequest' })
    expect(await emulator.clock.now()).toBe(now)
  })
})

describe('the system clock', () => {
  it('reads the wall clock and refuses to be moved', async () => {
    const emulator = await startEmulator()
    try {
      const before = Date.now()
      const now = await emulator.clock.now()
      expect(now).toBeGreaterThanOrEqual(before - 1_000)
      expect(now).toBeLessThanOrEqual(Date.now() + 1_000)
      await expect(emulator.clock.advance(1_000)).rejects.toMatchObject({ status: 404, code: 'NotEnabled' })
    } finally {
      await emulator.stop()
    }
  })
})
