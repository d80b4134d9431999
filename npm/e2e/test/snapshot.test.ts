// startEmulator({ snapshot }): start from a ZIP that GET /_emulator/export wrote.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { startEmulator } from 'convex-storage-emulator'

import { Storage } from './support.js'

it('starts from a snapshot ZIP with the same executions', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cse-snapshot-'))
  try {
    const source = await startEmulator()
    const sourceStorage = new Storage(source.url, source.authSecret)
    await sourceStorage.insert(['snap-a', 'snap-b'])
    await sourceStorage.claim('executor-s', 1)
    const exported = await fetch(`${source.url}/_emulator/export`, {
      headers: { authorization: `Bearer ${source.authSecret}` },
    })
    expect(exported.status).toBe(200)
    const zip = path.join(dir, 'snapshot.zip')
    writeFileSync(zip, Buffer.from(await exported.arrayBuffer()))
    const expected = await sourceStorage.get(['snap-a', 'snap-b'])
    await source.stop()

    const restored = await startEmulator({ snapshot: zip })
    try {
      const docs = await new Storage(restored.url, restored.authSecret).get(['snap-a', 'snap-b'])
      expect(docs).toEqual(expected)
      expect(docs.map((doc) => doc?.status)).toEqual(['running', 'ready'])
    } finally {
      await restored.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
