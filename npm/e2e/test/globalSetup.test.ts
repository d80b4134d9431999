// The README's vitest recipe at work: globalSetup.ts started one emulator for the whole run and
// handed its URL and secret over; these tests only take them, as the README's examples do.
import { ConvexHttpClient } from 'convex/browser'
import { anyApi } from 'convex/server'
import { expect, inject, it } from 'vitest'

import { Storage } from './support.js'

it('reaches the emulator that globalSetup started, through inject()', async () => {
  const client = new ConvexHttpClient(inject('convexUrl'), { logger: false })
  const docs = await client.query(anyApi.taskExecutionsStorage.getManyById, {
    authSecret: inject('convexAuthSecret'),
    args: { requests: [{ executionId: 'nothing-yet' }] },
  })
  expect(docs).toEqual([null])
})

it('hands the same values over in the environment', () => {
  expect(process.env.CONVEX_URL).toBe(inject('convexUrl'))
  expect(process.env.CONVEX_STORAGE_AUTH_SECRET).toBe(inject('convexAuthSecret'))
})

it('empties the store through the reset route, from a test', async () => {
  const storage = new Storage(inject('convexUrl'), inject('convexAuthSecret'))
  const id = `global-${Math.random().toString(36).slice(2)}`
  await storage.insert([id])
  expect((await storage.get([id]))[0]?.executionId).toBe(id)

  const response = await fetch(`${inject('convexUrl')}/_emulator/reset`, {
    method: 'POST',
    headers: { authorization: `Bearer ${inject('convexAuthSecret')}` },
  })
  expect(response.status).toBe(200)
  expect(await storage.get([id])).toEqual([null])
})
