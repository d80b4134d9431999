/**
 * Upstream's warts, through the official `ConvexHttpClient`, against each backend (as
 * storage.test.ts: `CONVEX_STORAGE_TEST_BACKENDS`, default `reference,emulator`).
 *
 * Each case checks the answer (the error text where it fails) and that nothing of a failed
 * call was kept: the rows it would have written are as before, and its lock was released
 * (the next call runs instead of answering the busy value).
 *
 * The lock-row warts that need two calls to interleave or a lock to expire (takeover keeps
 * the row id, a late release deletes the new holder's row, a release of a gone row throws)
 * cannot be driven through one serial client; operations.test.ts checks them in process.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'

import { STALE_AFTER_WRITE_MS, Storage, execution, failure, idFactory, sleep, type Doc } from './fixtures'
import { startBackend, type BackendName, type RunningServer } from './servers'

const AUTH_SECRET = 'warts-secret-41c9'

const backends = (process.env.CONVEX_STORAGE_TEST_BACKENDS ?? 'reference,emulator')
  .split(',')
  .map((name) => name.trim())
  .filter((name): name is BackendName => name === 'reference' || name === 'emulator')

const TAKE_MISSING = 'Uncaught TypeError: Must provide arg 1 `n` to `take`'
const TAKE_NOT_INTEGER = 'Uncaught TypeError: Arg 1 `n` to `take` must be a non-negative integer'
const updateMissing = (parentId: string) => `Uncaught Error: Update on nonexistent document ID ${parentId}`

for (const backend of backends) {
  describe(`upstream warts on the ${backend}`, () => {
    let server: RunningServer
    let storage: Storage
    const id = idFactory(`${backend}-warts`)

    before(async () => {
      server = await startBackend(backend, AUTH_SECRET)
      storage = new Storage(server.url, AUTH_SECRET)
    })
    after(async () => {
      await server?.stop()
    })
    beforeEach(async () => {
      await storage.deleteAll()
    })

    /** Inserts `executionId` and returns its stored document. */
    async function insert(executionId: string, fields: Record<string, unknown> = {}): Promise<Doc> {
      await storage.insertMany([execution(executionId, fields)])
      return (await storage.getById(executionId))!
    }

    const sweep = (shard: number) =>
      storage.call<number>('updateAndDecrementParentACCByIsFinishedAndCloseStatus', {
        shard,
        isFinished: true,
        closeStatus: 'ready',
        update: { closeStatus: 'closed', updatedAt: 0 },
        limit: 10,
      })

    /** A finished child of `parent`, ready to be swept. */
    const child = (shard: number, parent: Doc, fields: Record<string, unknown> = {}) => ({
      shard,
      status: 'completed',
      isFinished: true,
      closeStatus: 'ready',
      parentExecutionId: parent.executionId,
      parentExecutionDocId: parent._id,
      ...fields,
    })

    describe('decrement sweep', () => {
      it('fails as a whole when an only child names a parent that is gone', async () => {
        const gone = await insert(id('gone'), { shard: 20, status: 'waiting_for_children', acc: 1 })
        const kept = await insert(id('kept'), { shard: 20, status: 'waiting_for_children', acc: 2 })
        const onlyChild = await insert(id('only'), child(20, gone, { isOnlyChildOfParent: true }))
        const sibling = await insert(id('sibling'), child(20, kept))
        await storage.call('deleteById', { executionId: gone.executionId })
        await sleep(STALE_AFTER_WRITE_MS)

        assert.equal(await failure(() => sweep(20)), updateMissing(gone._id))
        const [keptAfter, onlyAfter, siblingAfter] = await storage.mustGetAll([
          kept.executionId,
          onlyChild.executionId,
          sibling.executionId,
        ])
        assert.deepEqual(keptAfter, kept, "the other parent's decrement was rolled back")
        assert.deepEqual(onlyAfter, onlyChild, "the children's updates were rolled back")
        assert.deepEqual(siblingAfter, sibling)
        // The lock was released: the same sweep fails again instead of answering 0.
        assert.equal(await failure(() => sweep(20)), updateMissing(gone._id))

        // Without the orphan the sweep goes through.
        await storage.call('deleteById', { executionId: onlyChild.executionId })
        assert.equal(await sweep(20), 1)
        assert.equal((await storage.getById(kept.executionId))!.acc, 1)
      })

      it('names the parent of the first only child selected, not the smallest id', async () => {
        // `second` is inserted first (smaller id where ids grow), but its child is selected last.
        const second = await insert(id('p2'), { shard: 21, status: 'waiting_for_children', acc: 1 })
        const first = await insert(id('p1'), { shard: 21, status: 'waiting_for_children', acc: 1 })
        await insert(id('c1'), child(21, first, { isOnlyChildOfParent: true }))
        await insert(id('c2'), child(21, second, { isOnlyChildOfParent: true }))
        await storage.call('deleteById', { executionId: first.executionId })
        await storage.call('deleteById', { executionId: second.executionId })
        await sleep(STALE_AFTER_WRITE_MS)
        assert.equal(await failure(() => sweep(21)), updateMissing(first._id))
      })

      it('skips a missing parent in the grouped decrement', async () => {
        const gone = await insert(id('gone'), { shard: 22, status: 'waiting_for_children', acc: 2 })
        const [a, b] = [id('a'), id('b')]
        await storage.insertMany([execution(a, child(22, gone)), execution(b, child(22, gone))])
        await storage.call('deleteById', { executionId: gone.executionId })
        await sleep(STALE_AFTER_WRITE_MS)
        assert.equal(await sweep(22), 2)
        const closed = await storage.mustGetAll([a, b])
        assert.deepEqual(closed.map((doc) => doc.closeStatus), ['closed', 'closed'])
      })

      it('fails on the schema when an update without updatedAt reaches an only-child parent', async () => {
        const parent = await insert(id('parent'), { shard: 26, status: 'waiting_for_children', acc: 1 })
        const only = await insert(id('only'), child(26, parent, { isOnlyChildOfParent: true }))
        await sleep(STALE_AFTER_WRITE_MS)
        const detail = await failure(() =>
          storage.call('updateAndDecrementParentACCByIsFinishedAndCloseStatus', {
            shard: 26,
            isFinished: true,
            closeStatus: 'ready',
            update: { closeStatus: 'closed' },
            limit: 10,
          }),
        )
        assert.match(detail, /^Uncaught Error: /)
        assert.deepEqual(await storage.mustGetAll([parent.executionId, only.executionId]), [parent, only])
      })

      it("gives both kinds of parent the child update's clamped updatedAt", async () => {
        const zeroed = await insert(id('zeroed'), { shard: 23, status: 'waiting_for_children', acc: 1 })
        const decremented = await insert(id('dec'), { shard: 23, status: 'waiting_for_children', acc: 3 })
        const only = await insert(id('only'), child(23, zeroed, { isOnlyChildOfParent: true }))
        await insert(id('one-of-many'), child(23, decremented))
        await sleep(STALE_AFTER_WRITE_MS)
        assert.equal(await sweep(23), 2)
        const [zeroedAfter, decAfter, onlyAfter] = await storage.mustGetAll([
          zeroed.executionId,
          decremented.executionId,
          only.executionId,
        ])
        assert.equal(zeroedAfter!.acc, 0)
        assert.equal(decAfter!.acc, 2)
        assert.ok(onlyAfter!.updatedAt > only.updatedAt, 'updatedAt 0 was clamped up to the write clock')
        assert.equal(zeroedAfter!.updatedAt, onlyAfter!.updatedAt)
        assert.equal(decAfter!.updatedAt, onlyAfter!.updatedAt)
      })
    })

    describe('locked selectors', () => {
      const closeArgs = (fields: Record<string, unknown> = {}) => ({
        shard: 24,
        closeStatus: 'ready',
        update: { closeStatus: 'closing', updatedAt: 0 },
        limit: 10,
        ...fields,
      })
      const closeByStatus = (args: unknown, authSecret = AUTH_SECRET) =>
        storage.raw('action', 'updateByCloseStatusAndReturn', args === undefined ? { authSecret } : { authSecret, args })

      /** One row the close-status selector picks; returns it as stored. */
      async function pickable(): Promise<Doc> {
        const doc = await insert(id('row'), { shard: 24, closeStatus: 'ready' })
        await sleep(STALE_AFTER_WRITE_MS)
        return doc
      }

      /** The row is as it was, and the selector's lock is free (a proper call picks it). */
      async function untouchedAndUnlocked(doc: Doc): Promise<void> {
        assert.deepEqual(await storage.getById(doc.executionId), doc, 'the row is unchanged')
        const picked = (await closeByStatus(closeArgs())) as Doc[]
        assert.deepEqual(picked.map((row) => row.executionId), [doc.executionId], 'the lock is free')
      }

      it('builds the lock key before the secret: absent or null inner args are a TypeError', async () => {
        const doc = await pickable()
        for (const authSecret of [AUTH_SECRET, 'wrong']) {
          assert.equal(
            await failure(() => closeByStatus(undefined, authSecret)),
            "Uncaught TypeError: Cannot read properties of undefined (reading 'shard')",
          )
          assert.equal(
            await failure(() => closeByStatus(null, authSecret)),
            "Uncaught TypeError: Cannot read properties of null (reading 'shard')",
          )
        }
        assert.equal(
          await failure(() =>
            storage.raw('action', 'updateByStatusAndIsSleepingTaskAndExpiresAtLessThan', { authSecret: 'wrong' }),
          ),
          "Uncaught TypeError: Cannot read properties of undefined (reading 'status')",
        )
        await untouchedAndUnlocked(doc)
      })

      it('checks the secret inside the lock, and releases it', async () => {
        const doc = await pickable()
        assert.equal(await failure(() => closeByStatus(closeArgs(), 'wrong')), 'Uncaught Error: Invalid auth secret')
        await untouchedAndUnlocked(doc)
      })

      it('leaves limit to the take() check', async () => {
        const doc = await pickable()
        assert.equal(await failure(() => closeByStatus(closeArgs({ limit: undefined }))), TAKE_MISSING)
        assert.equal(await failure(() => closeByStatus(closeArgs({ limit: 1.5 }))), TAKE_NOT_INTEGER)
        assert.equal(await failure(() => closeByStatus(closeArgs({ limit: -1 }))), TAKE_NOT_INTEGER)
        for (const name of ['updateByOCFPExpiresAt', 'updateByCloseExpiresAt'] as const) {
          assert.equal(await failure(() => storage.raw('action', name, { authSecret: AUTH_SECRET })), TAKE_MISSING, name)
          assert.equal(await failure(() => storage.call(name, {})), TAKE_MISSING, name)
        }
        await untouchedAndUnlocked(doc)
      })

      it('matches nothing on a field of another type, and ignores extra fields', async () => {
        const doc = await pickable()
        assert.deepEqual(await closeByStatus(closeArgs({ shard: '24' })), [])
        assert.deepEqual(await closeByStatus(closeArgs({ closeStatus: undefined })), [])
        assert.deepEqual(await closeByStatus(closeArgs({ closeStatus: 'nonsense' })), [])
        assert.equal(
          await storage.call('updateByStatusAndIsSleepingTaskAndExpiresAtLessThan', {
            status: 'ready',
            isSleepingTask: 'no',
            expiresAtLessThan: Date.now() + 60_000,
            update: { updatedAt: 0 },
            limit: 10,
          }),
          0,
        )
        assert.deepEqual(await storage.getById(doc.executionId), doc)
        const picked = (await closeByStatus(closeArgs({ bogus: true }))) as Doc[]
        assert.deepEqual(picked.map((row) => row.executionId), [doc.executionId])
      })

      it('compares a range bound of another type in Convex value order', async () => {
        // Numbers sort after null and before booleans and strings: every numeric
        // ocfpExpiresAt is less than "x", none is less than null.
        const far = Date.now() + 10 * 60_000
        const doc = await insert(id('ocfp'), { ocfpExpiresAt: far })
        const count = await storage.call('updateByOCFPExpiresAt', {
          ocfpExpiresAtLessThan: 'x',
          update: { ocfpExpiresAt: far + 1, updatedAt: 0 },
          limit: 10,
        })
        assert.equal(count, 1)
        assert.equal((await storage.getById(doc.executionId))!.ocfpExpiresAt, far + 1)
        assert.equal(await storage.call('updateByOCFPExpiresAt', { ocfpExpiresAtLessThan: null, update: { updatedAt: 0 }, limit: 10 }), 0)
      })

      it('reads update.updatedAt of an absent or null update only when a row is picked', async () => {
        const doc = await pickable()
        assert.equal(
          await failure(() => closeByStatus(closeArgs({ update: undefined }))),
          "Uncaught TypeError: Cannot read properties of undefined (reading 'updatedAt')",
        )
        assert.equal(
          await failure(() => closeByStatus(closeArgs({ update: null }))),
          "Uncaught TypeError: Cannot read properties of null (reading 'updatedAt')",
        )
        assert.deepEqual(await closeByStatus(closeArgs({ shard: 99, update: null })), [], 'no row, no read')
        await untouchedAndUnlocked(doc)
      })

      it('claims with a null update by writing only the new expiresAt', async () => {
        const doc = await insert(id('ready'), { shard: 25 })
        const startedAt = Date.now() + 60_000
        const claimed = await storage.call<Doc[]>('updateByStatusAndStartAtLessThanAndReturn', {
          shard: 25,
          status: 'ready',
          startAtLessThan: Date.now() + 60_000,
          update: null,
          updateExpiresAtWithStartedAt: startedAt,
          limit: 10,
        })
        assert.deepEqual(claimed, [doc])
        const stored = (await storage.getById(doc.executionId))!
        assert.deepEqual(stored, { ...doc, expiresAt: startedAt + (doc.timeoutMs as number) })
      })

      it('refuses on the schema an update the schema refuses, keeping nothing', async () => {
        const doc = await pickable()
        for (const update of [
          { updatedAt: 0, bogus: 1 },
          { updatedAt: 0, closeStatus: 'nonsense' },
          { updatedAt: 'soon' },
        ]) {
          const detail = await failure(() => closeByStatus(closeArgs({ update })))
          assert.match(detail, /^Uncaught Error: /, JSON.stringify(update))
        }
        await untouchedAndUnlocked(doc)
      })

      it('patches without touching updatedAt when the update has none', async () => {
        const doc = await pickable()
        const picked = (await closeByStatus(closeArgs({ update: { closeStatus: 'closing' } }))) as Doc[]
        assert.deepEqual(picked.map((row) => row.executionId), [doc.executionId])
        const stored = (await storage.getById(doc.executionId))!
        assert.equal(stored.closeStatus, 'closing')
        assert.equal(stored.updatedAt, doc.updatedAt)
      })
    })
  })
}
