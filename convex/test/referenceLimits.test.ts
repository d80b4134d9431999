/**
 * The reference server enforces none of Convex's per-call limits (README "Transaction
 * limits"): what a deployment refuses, it does. These cases pin that down so that the claim
 * stays true, and so that a change of convex-test's defaults shows up here first.
 *
 * Reference server only: the emulator enforces the limits as a deployment does.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import { Storage, execution, idFactory } from './fixtures'
import { startBackend, type RunningServer } from './servers'

const AUTH_SECRET = 'limits-secret-5d20'

/** Convex's limits these cases go past (docs.convex.dev, production/state/limits). */
const DOCUMENT_BYTES_MAX = 1024 * 1024
const DATABASE_QUERIES_MAX = 4096

const runs = (process.env.CONVEX_STORAGE_TEST_BACKENDS ?? 'reference,emulator')
  .split(',')
  .map((name) => name.trim())
  .includes('reference')

describe('reference server: no per-call limits', { skip: !runs }, () => {
  let server: RunningServer
  let storage: Storage
  const id = idFactory('limits')

  before(async () => {
    server = await startBackend('reference', AUTH_SECRET)
    storage = new Storage(server.url, AUTH_SECRET)
  })
  after(async () => {
    await server?.stop()
  })

  it('stores and returns a document over 1 MiB', async () => {
    const big = id('big')
    const input = 'x'.repeat(DOCUMENT_BYTES_MAX + 1024)
    await storage.insertMany([execution(big, { input })])
    assert.equal((await storage.getById(big))!.input, input)
  })

  it('answers a query that runs more than 4096 index lookups', async () => {
    const requests = Array.from({ length: DATABASE_QUERIES_MAX + 1 }, (_, i) => ({ executionId: id(`missing-${i}`) }))
    const answer = await storage.call<unknown[]>('getManyById', { requests })
    assert.equal(answer.length, requests.length)
    assert.ok(answer.every((doc) => doc === null))
  })
})
