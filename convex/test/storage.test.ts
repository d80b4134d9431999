/**
 * The official-client suite: every public function, called with the official
 * `ConvexHttpClient`, against each backend (the Rust emulator and our convex-test reference
 * server), with the same expectations for both.
 *
 * Backends: `CONVEX_STORAGE_TEST_BACKENDS` (comma-separated, default `reference,emulator`).
 * Each backend gets one fresh in-memory server; tests run one after another and each starts
 * from `deleteAll`, so none depends on another's leftovers.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'

import {
  FUNCTION_KINDS,
  STALE_AFTER_WRITE_MS,
  Storage,
  execution,
  failure,
  idFactory,
  sleep,
  type Doc,
  type Kind,
} from './fixtures'
import { startBackend, type BackendName, type RunningServer } from './servers'
import { OPERATIONS, type OperationName } from '../definitions/operations'

/**
 * What a locked selector's public action fails with when its lock key cannot be built from
 * the inner `args` (absent or null): the TypeError of the property read, before the secret
 * is looked at. Null for the other functions and for readable args.
 */
function lockKeyFailure(name: OperationName, args: unknown): string | null {
  const lock = OPERATIONS[name].lock
  try {
    lock?.key(args as Record<string, unknown>)
    return null
  } catch (error) {
    return `Uncaught TypeError: ${(error as Error).message}`
  }
}

const AUTH_SECRET = 'test-secret-7f3a'
const INVALID_AUTH = 'Uncaught Error: Invalid auth secret'
const MISSING = (field: string) =>
  `ArgumentValidationError: Object is missing the required field \`${field}\`. Consider wrapping the field validator in \`v.optional(...)\` if this is expected.`
const EXTRA = (field: string) =>
  `ArgumentValidationError: Object contains extra field \`${field}\` that is not in the validator.`
const NO_MATCH = 'ArgumentValidationError: Value does not match validator.'

/** Far enough ahead that no clamp touches it during a test. */
const FUTURE_MS = 10 * 60_000

const backends = (process.env.CONVEX_STORAGE_TEST_BACKENDS ?? 'reference,emulator')
  .split(',')
  .map((name) => name.trim())
  .filter((name): name is BackendName => name === 'reference' || name === 'emulator')

for (const backend of backends) {
  describe(`public API on the ${backend}`, () => {
    let server: RunningServer
    let storage: Storage
    const id = idFactory(backend)

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

    describe('auth', () => {
      it('refuses a wrong, empty, missing or non-string secret on all 17 functions', async () => {
        const envelopes = [
          { authSecret: 'wrong', args: {} },
          { authSecret: '', args: {} },
          { args: {} },
          { authSecret: 42, args: {} },
          {},
        ]
        for (const [name, kind] of Object.entries(FUNCTION_KINDS)) {
          for (const envelope of envelopes) {
            const detail = await failure(() => storage.raw(kind, name, envelope))
            // A locked selector reads its lock key from the inner args before the secret.
            const expected = lockKeyFailure(name as OperationName, envelope.args) ?? INVALID_AUTH
            assert.equal(detail, expected, `${name} with ${JSON.stringify(envelope)}`)
          }
        }
      })

      it('checks the secret before the arguments', async () => {
        const detail = await failure(() =>
          storage.raw('mutation', 'insertMany', { authSecret: 'wrong', args: { nonsense: true } }),
        )
        assert.equal(detail, INVALID_AUTH)
      })

      it('changes nothing when the secret is wrong', async () => {
        const a = id('a')
        await failure(() =>
          storage.raw('mutation', 'insertMany', { authSecret: 'wrong', args: { executions: [execution(a)] } }),
        )
        assert.equal(await storage.getById(a), null)
        await storage.insertMany([execution(a)])
        await failure(() => storage.raw('action', 'deleteAll', { authSecret: 'wrong' }))
        await failure(() => storage.raw('mutation', 'deleteById', { authSecret: 'wrong', args: { executionId: a } }))
        assert.notEqual(await storage.getById(a), null)
      })

      it('ignores extra envelope fields', async () => {
        const result = await storage.raw('query', 'getManyById', {
          authSecret: AUTH_SECRET,
          args: { requests: [] },
          extra: 'ignored',
        })
        assert.deepEqual(result, [])
      })
    })

    describe('routing', () => {
      it('answers an unknown function with Convex text', async () => {
        const detail = await failure(() => storage.raw('query', 'noSuchFunction', { authSecret: AUTH_SECRET }))
        assert.equal(detail, `Could not find public function for 'taskExecutionsStorage:noSuchFunction'.`)
      })

      it('refuses a function called as the wrong kind', async () => {
        const cases: Array<[Kind, string, string]> = [
          ['query', 'insertMany', 'Trying to execute taskExecutionsStorage.js:insertMany as Query, but it is defined as Mutation.'],
          ['mutation', 'getManyById', 'Trying to execute taskExecutionsStorage.js:getManyById as Mutation, but it is defined as Query.'],
          ['mutation', 'deleteAll', 'Trying to execute taskExecutionsStorage.js:deleteAll as Mutation, but it is defined as Action.'],
          ['action', 'deleteById', 'Trying to execute taskExecutionsStorage.js:deleteById as Action, but it is defined as Mutation.'],
        ]
        for (const [kind, name, expected] of cases) {
          const detail = await failure(() =>
            storage.raw(kind, name, { authSecret: AUTH_SECRET, args: { executionId: 'x' } }),
          )
          assert.equal(detail, expected)
        }
      })
    })

    describe('wire protocol (raw HTTP)', () => {
      const post = async (route: string, body: string) => {
        const response = await fetch(`${server.url}${route}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
        })
        return { status: response.status, json: (await response.json()) as Record<string, unknown> }
      }

      it('answers malformed JSON with 400 BadJsonBody', async () => {
        const { status, json } = await post('/api/query', '{"path": ')
        assert.equal(status, 400)
        assert.equal(json.code, 'BadJsonBody')
      })

      it('accepts bare-object args and answers clean JSON without a format', async () => {
        const { status, json } = await post(
          '/api/query',
          JSON.stringify({ path: 'taskExecutionsStorage:getManyById', args: { authSecret: AUTH_SECRET, args: { requests: [] } } }),
        )
        assert.equal(status, 200)
        assert.deepEqual(json, { status: 'success', value: [] })
      })

      it('answers a function error with HTTP 200 and no stack frames', async () => {
        const { status, json } = await post(
          '/api/mutation',
          JSON.stringify({ path: 'taskExecutionsStorage:deleteById', args: [{ authSecret: 'nope' }], format: 'convex_encoded_json' }),
        )
        assert.equal(status, 200)
        assert.equal(json.status, 'error')
        assert.match(json.errorMessage as string, /^\[Request ID: [0-9a-f]{16}\] Server Error\nUncaught Error: Invalid auth secret$/)
      })

      it('runs any kind through /api/run', async () => {
        const { status, json } = await post(
          '/api/run/taskExecutionsStorage/deleteAll',
          JSON.stringify({ args: { authSecret: AUTH_SECRET } }),
        )
        assert.equal(status, 200)
        assert.deepEqual(json, { status: 'success', value: null })
      })
    })

    describe('argument validation', () => {
      const STATUS_VALIDATOR =
        'v.union(v.literal("ready"), v.literal("running"), v.literal("failed"), v.literal("timed_out"), ' +
        'v.literal("waiting_for_children"), v.literal("waiting_for_finalize"), v.literal("finalize_failed"), ' +
        'v.literal("completed"), v.literal("cancelled"))'

      it('words a missing field, an extra field and a wrong type exactly as Convex', async () => {
        assert.equal(
          await failure(() => storage.call('deleteById', {})),
          `${MISSING('executionId')}\n\nObject: {}\nValidator: v.object({executionId: v.string()})`,
        )
        assert.equal(
          await failure(() => storage.call('deleteById', { executionId: 5 })),
          `${NO_MATCH}\nPath: .executionId\nValue: 5.0\nValidator: v.string()`,
        )
        assert.equal(
          await failure(() => storage.call('deleteById', { executionId: [1.5, 1e21, 0.00001, 'a"b', null, { b: false, a: -0 }] })),
          `${NO_MATCH}\nPath: .executionId\nValue: [1.5, 1e21, 1e-5, "a\\"b", null, {a: -0.0, b: false}]\nValidator: v.string()`,
        )
        assert.equal(
          await failure(() =>
            storage.call('getManyBySleepingTaskUniqueId', { requests: [{ sleepingTaskUniqueId: 'u', x: true }] }),
          ),
          `${EXTRA('x')}\nPath: .requests[0]\nObject: {sleepingTaskUniqueId: "u", x: true}\n` +
            'Validator: v.object({sleepingTaskUniqueId: v.string()})',
        )
        assert.equal(
          await failure(() =>
            storage.call('getManyById', { requests: [{ executionId: 'a', filters: { status: 'sleeping' } }] }),
          ),
          `${NO_MATCH}\nPath: .requests[0].filters.status\nValue: "sleeping"\nValidator: ${STATUS_VALIDATOR}`,
        )
        assert.equal(
          await failure(() => storage.call('deleteAll', { all: true })),
          `${EXTRA('all')}\n\nObject: {all: true}\nValidator: v.object({})`,
        )
      })

      it('refuses inner args that are not an object as Convex\'s nested call does', async () => {
        const notAnObject = (shown: string) =>
          `Uncaught Error: The arguments to a Convex function must be an object. Received: ${shown}`
        for (const [args, detail] of [
          [5, notAnObject('5')],
          ['text', notAnObject('text')],
          [[1, 'a'], notAnObject('1,a')],
          [true, notAnObject('true')],
          [null, 'Uncaught TypeError: Cannot convert undefined or null to object'],
        ] as const) {
          assert.equal(await failure(() => storage.call('deleteById', args)), detail, JSON.stringify(args))
          assert.equal(await failure(() => storage.call('getManyById', args)), detail, JSON.stringify(args))
          assert.equal(await failure(() => storage.call('deleteAll', args)), detail, JSON.stringify(args))
          // A locked selector whose key names no field reads nothing before its mutation.
          assert.equal(await failure(() => storage.call('updateByOCFPExpiresAt', args)), detail, JSON.stringify(args))
        }
      })

      it('names the path inside big values and stores nothing', async () => {
        const a = id('a')
        const withoutTaskId = execution(a)
        delete withoutTaskId.taskId
        const firstLines = async (fn: () => Promise<unknown>) => (await failure(fn)).split('\n').slice(0, 2).join('\n')
        assert.equal(await firstLines(() => storage.insertMany([withoutTaskId])), `${MISSING('taskId')}\nPath: .executions[0]`)
        assert.equal(
          await firstLines(() => storage.insertMany([execution(id('b')), execution(a, { bogus: 1 })])),
          `${EXTRA('bogus')}\nPath: .executions[1]`,
        )
        assert.equal(
          await firstLines(() => storage.insertMany([execution(a, { retryOptions: { maxAttempts: '1' } })])),
          `${NO_MATCH}\nPath: .executions[0].retryOptions.maxAttempts`,
        )
        assert.equal(await firstLines(() => storage.call('insertMany', {})), `${MISSING('executions')}\n`)
        assert.equal(await firstLines(() => storage.call('insertMany')), `${MISSING('executions')}\n`)
        assert.equal(await storage.getById(a), null)
      })

      it('checks that a document id names a task execution', async () => {
        assert.equal(
          await failure(() => storage.insertMany([execution(id('a'), { parentExecutionDocId: 'not-an-id' })])),
          `${NO_MATCH}\nPath: .executions[0].parentExecutionDocId\nValue: "not-an-id"\nValidator: v.id("taskExecutions")`,
        )
      })

      it('checks fields in sorted order, recursing into present ones first', async () => {
        const firstLine = async (fn: () => Promise<unknown>) => (await failure(fn)).split('\n')[0]
        // `shard` (wrong type) sorts before `taskId` (missing), so the type error wins.
        const value = execution(id('a'), { shard: 'zero' })
        delete value.taskId
        assert.equal(await firstLine(() => storage.insertMany([value])), NO_MATCH)
        // `acc` (missing) sorts before `shard` (wrong type).
        delete value.acc
        assert.equal(await firstLine(() => storage.insertMany([value])), MISSING('acc'))
      })

      it('words a bad update request exactly as Convex', async () => {
        assert.equal(
          await failure(() =>
            storage.call('updateManyById', {
              requests: [{ executionId: 'x', update: { updatedAt: 0, unknownField: 1 } }],
            }),
          ),
          `${EXTRA('unknownField')}\nPath: .requests[0].update\nObject: {unknownField: 1.0, updatedAt: 0.0}\nValidator: ` +
            'v.object({acc: v.optional(v.float64()), children: v.optional(v.array(v.object({executionId: v.string(), taskId: v.string()}))), ' +
            'closeExpiresAt: v.optional(v.float64()), closeStatus: v.optional(v.union(v.literal("idle"), v.literal("ready"), v.literal("closing"), v.literal("closed"))), ' +
            'closedAt: v.optional(v.float64()), error: v.optional(v.object({errorType: v.union(v.literal("generic"), v.literal("not_found"), v.literal("timed_out"), v.literal("cancelled")), ' +
            'isInternal: v.boolean(), isRetryable: v.boolean(), message: v.string()})), executorId: v.optional(v.string()), expiresAt: v.optional(v.float64()), ' +
            'finalize: v.optional(v.object({executionId: v.string(), taskId: v.string()})), finishedAt: v.optional(v.float64()), isFinished: v.optional(v.boolean()), ' +
            'npc: v.optional(v.boolean()), ocfpExpiresAt: v.optional(v.float64()), ocfpFinishedAt: v.optional(v.float64()), ' +
            'ocfpStatus: v.optional(v.union(v.literal("idle"), v.literal("processing"), v.literal("processed"))), output: v.optional(v.string()), ' +
            'retryAttempts: v.optional(v.float64()), runOutput: v.optional(v.string()), startAt: v.optional(v.float64()), startedAt: v.optional(v.float64()), ' +
            `status: v.optional(${STATUS_VALIDATOR}), ` +
            'unset: v.optional(v.object({closeExpiresAt: v.optional(v.boolean()), error: v.optional(v.boolean()), executorId: v.optional(v.boolean()), ' +
            'expiresAt: v.optional(v.boolean()), ocfpExpiresAt: v.optional(v.boolean()), runOutput: v.optional(v.boolean()), startedAt: v.optional(v.boolean())})), ' +
            'updatedAt: v.float64(), waitingForChildrenStartedAt: v.optional(v.float64()), waitingForFinalizeStartedAt: v.optional(v.float64())})',
        )
      })

      it('accepts deleteAll with absent or empty args', async () => {
        assert.equal(await storage.call('deleteAll'), null)
        assert.equal(await storage.call('deleteAll', {}), null)
      })
    })

    describe('insertMany and reads by id', () => {
      it('stores every field and stamps the server clock', async () => {
        const a = id('a')
        const before = Date.now()
        await storage.insertMany([
          execution(a, {
            rootTaskId: 'root-task',
            rootExecutionId: 'root-exec',
            retryOptions: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, delayMultiplier: 2 },
            children: [{ taskId: 'c', executionId: 'c1' }],
            finalize: { taskId: 'f', executionId: 'f1' },
            error: { errorType: 'generic', message: 'boom', isRetryable: true, isInternal: false },
            expiresAt: 1,
            ocfpExpiresAt: 0,
            createdAt: 5,
            updatedAt: 5,
          }),
        ])
        const doc = (await storage.getById(a))!
        assert.equal(typeof doc._id, 'string')
        assert.equal(typeof doc._creationTime, 'number')
        assert.ok(doc.createdAt >= before + 50, 'createdAt is the write clock (+50 ms)')
        assert.equal(doc.updatedAt, doc.createdAt)
        assert.equal(doc.startAt, doc.createdAt, 'a past startAt becomes now')
        assert.equal(doc.expiresAt, doc.createdAt + 1000, 'a past expiresAt becomes now + 1000')
        assert.equal(doc.ocfpExpiresAt, 0, 'an expiry of exactly 0 is not clamped')
        assert.deepEqual(doc.retryOptions, { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, delayMultiplier: 2 })
        assert.deepEqual(doc.children, [{ taskId: 'c', executionId: 'c1' }])
        assert.deepEqual(doc.error, { errorType: 'generic', message: 'boom', isRetryable: true, isInternal: false })
        assert.equal(doc.rootExecutionId, 'root-exec')
        assert.equal('closeExpiresAt' in doc, false, 'absent optional fields stay absent')
      })

      it('keeps a future startAt', async () => {
        const a = id('a')
        const startAt = Date.now() + FUTURE_MS
        await storage.insertMany([execution(a, { startAt })])
        assert.equal((await storage.getById(a))!.startAt, startAt)
      })

      it('answers getManyById in request order, applying filters', async () => {
        const [a, b] = [id('a'), id('b')]
        await storage.insertMany([execution(a), execution(b, { isSleepingTask: true, status: 'running' })])
        const docs = await storage.call<Array<Doc | null>>('getManyById', {
          requests: [
            { executionId: b },
            { executionId: 'missing' },
            { executionId: a, filters: { status: 'ready', isFinished: false } },
            { executionId: a, filters: { isSleepingTask: true } },
            { executionId: b, filters: { isSleepingTask: true, status: 'running' } },
            { executionId: b, filters: { isFinished: true } },
          ],
        })
        assert.deepEqual(
          docs.map((doc) => doc?.executionId ?? null),
          [b, null, a, null, b, null],
        )
      })

      it('finds executions by sleeping task unique id', async () => {
        const [a, b] = [id('a'), id('b')]
        await storage.insertMany([
          execution(a, { isSleepingTask: true, sleepingTaskUniqueId: `${a}-u` }),
          execution(b),
        ])
        const docs = await storage.call<Array<Doc | null>>('getManyBySleepingTaskUniqueId', {
          requests: [{ sleepingTaskUniqueId: 'nope' }, { sleepingTaskUniqueId: `${a}-u` }],
        })
        assert.deepEqual(docs.map((doc) => doc?.executionId ?? null), [null, a])
      })

      it('fails the whole insert on a duplicate execution id or sleeping task unique id', async () => {
        const [a, b, c] = [id('a'), id('b'), id('c')]
        assert.equal(
          await failure(() => storage.insertMany([execution(a), execution(b), execution(a)])),
          'Uncaught Error: Execution id already exists',
        )
        assert.equal(await storage.getById(a), null, 'nothing of a failed insert is stored')
        await storage.insertMany([execution(a, { sleepingTaskUniqueId: 'u1' })])
        assert.equal(
          await failure(() => storage.insertMany([execution(b), execution(a)])),
          'Uncaught Error: Execution id already exists',
        )
        assert.equal(
          await failure(() => storage.insertMany([execution(b, { sleepingTaskUniqueId: 'u1' })])),
          'Uncaught Error: Sleeping task unique id already exists',
        )
        assert.equal(await storage.getById(b), null)
        // An empty unique id is no unique id: it may repeat.
        await storage.insertMany([
          execution(b, { sleepingTaskUniqueId: '' }),
          execution(c, { sleepingTaskUniqueId: '' }),
        ])
        assert.equal((await storage.mustGetAll([b, c])).length, 2)
      })
    })

    describe('updates by id', () => {
      it('applies an update with clamps, skips filtered-out and missing rows, and lets unset win', async () => {
        const [a, b] = [id('a'), id('b')]
        await storage.insertMany([
          execution(a, { executorId: 'ex-1', runOutput: 'r', startedAt: Date.now() + FUTURE_MS }),
          execution(b),
        ])
        const before = Date.now()
        const expiresAt = Date.now() + FUTURE_MS
        await storage.call('updateManyById', {
          requests: [
            {
              executionId: a,
              update: {
                status: 'running',
                startedAt: 1,
                finishedAt: 0,
                expiresAt,
                closeExpiresAt: 2,
                runOutput: 'ignored because unset',
                retryAttempts: 2,
                updatedAt: 3,
                unset: { executorId: true, runOutput: true, error: false },
              },
            },
            { executionId: b, filters: { status: 'running' }, update: { status: 'failed', updatedAt: 0 } },
            { executionId: 'missing', update: { status: 'failed', updatedAt: 0 } },
          ],
        })
        const [docA, docB] = await storage.mustGetAll([a, b])
        assert.equal(docA!.status, 'running')
        assert.equal(docA!.retryAttempts, 2)
        assert.ok(docA!.updatedAt >= before + 50, 'updatedAt is clamped up to the write clock')
        assert.equal(docA!.startedAt, docA!.updatedAt, 'a past startedAt becomes now')
        assert.equal(docA!.finishedAt, 0, 'an instant of exactly 0 is not clamped')
        assert.equal(docA!.expiresAt, expiresAt, 'a future expiresAt stays')
        assert.equal(docA!.closeExpiresAt, docA!.updatedAt + 1000, 'a past expiry becomes now + 1000')
        assert.equal('executorId' in docA!, false)
        assert.equal('runOutput' in docA!, false, 'unset wins over a value in the same request')
        assert.equal(docB!.status, 'ready', 'a filtered-out row is not updated')
      })

      it('inserts children only under updated parents, pointing at the parent document', async () => {
        const [p, q, c1, c2, c3] = [id('p'), id('q'), id('c1'), id('c2'), id('c3')]
        await storage.insertMany([execution(p), execution(q)])
        await storage.call('updateManyByIdAndInsertChildrenIfUpdated', {
          requests: [
            {
              executionId: p,
              update: { status: 'waiting_for_children', acc: 2, updatedAt: 0 },
              childrenTaskExecutionsToInsertIfAnyUpdated: [
                execution(c1, { parentTaskId: 'task', parentExecutionId: p, indexInParentChildren: 0 }),
                execution(c2, { parentTaskId: 'task', parentExecutionId: p, indexInParentChildren: 1 }),
              ],
            },
            {
              executionId: q,
              filters: { status: 'running' },
              update: { status: 'waiting_for_children', updatedAt: 0 },
              childrenTaskExecutionsToInsertIfAnyUpdated: [execution(c3)],
            },
          ],
        })
        const [parent, child1, child2] = await storage.mustGetAll([p, c1, c2])
        assert.equal(parent!.status, 'waiting_for_children')
        assert.equal(parent!.acc, 2)
        assert.equal(child1!.parentExecutionDocId, parent!._id)
        assert.equal(child2!.parentExecutionDocId, parent!._id)
        assert.equal(await storage.getById(c3), null, 'no children under a filtered-out parent')
        assert.equal((await storage.getById(q))!.status, 'ready')
      })

      it('fails the whole call when a child is a duplicate', async () => {
        const [p, c1] = [id('p'), id('c1')]
        await storage.insertMany([execution(p), execution(c1)])
        const detail = await failure(() =>
          storage.call('updateManyByIdAndInsertChildrenIfUpdated', {
            requests: [
              {
                executionId: p,
                update: { status: 'waiting_for_children', updatedAt: 0 },
                childrenTaskExecutionsToInsertIfAnyUpdated: [execution(c1)],
              },
            ],
          }),
        )
        assert.equal(detail, 'Uncaught Error: Execution id already exists')
        assert.equal((await storage.getById(p))!.status, 'ready', 'the parent update rolled back')
      })
    })

    describe('one mutation sees its own writes', () => {
      it('applies repeated requests for one execution in order, filters seeing earlier updates', async () => {
        const a = id('a')
        await storage.insertMany([execution(a)])
        await storage.call('updateManyById', {
          requests: [
            { executionId: a, filters: { status: 'ready' }, update: { status: 'running', updatedAt: 0 } },
            { executionId: a, filters: { status: 'ready' }, update: { status: 'failed', updatedAt: 0 } },
            { executionId: a, filters: { status: 'running' }, update: { retryAttempts: 7, updatedAt: 0 } },
          ],
        })
        const doc = (await storage.getById(a))!
        assert.equal(doc.status, 'running')
        assert.equal(doc.retryAttempts, 7)
      })

      it('lets a later request update a child that an earlier request inserted', async () => {
        const [p, c] = [id('p'), id('c')]
        await storage.insertMany([execution(p)])
        await storage.call('updateManyByIdAndInsertChildrenIfUpdated', {
          requests: [
            {
              executionId: p,
              update: { status: 'waiting_for_children', updatedAt: 0 },
              childrenTaskExecutionsToInsertIfAnyUpdated: [execution(c, { parentExecutionId: p })],
            },
            {
              executionId: c,
              update: { status: 'running', updatedAt: 0 },
              childrenTaskExecutionsToInsertIfAnyUpdated: [],
            },
          ],
        })
        assert.equal((await storage.getById(c))!.status, 'running')
      })

      it('refuses a sleeping task unique id repeated within one insert', async () => {
        const [a, b] = [id('a'), id('b')]
        assert.equal(
          await failure(() =>
            storage.insertMany([
              execution(a, { sleepingTaskUniqueId: `${a}-u` }),
              execution(b, { sleepingTaskUniqueId: `${a}-u` }),
            ]),
          ),
          'Uncaught Error: Sleeping task unique id already exists',
        )
        assert.equal(await storage.getById(a), null)
      })

      it('breaks index ties by insertion order', async () => {
        const ids = [id('t0'), id('t1'), id('t2'), id('t3')]
        const startAt = Date.now() + FUTURE_MS
        await storage.insertMany(ids.slice(0, 2).map((executionId) => execution(executionId, { shard: 11, startAt })))
        await storage.insertMany(ids.slice(2).map((executionId) => execution(executionId, { shard: 11, startAt })))
        const picked = await storage.call<Doc[]>('updateByStatusAndStartAtLessThanAndReturn', {
          shard: 11,
          status: 'ready',
          startAtLessThan: startAt + 1,
          update: { status: 'running', updatedAt: 0 },
          updateExpiresAtWithStartedAt: 0,
          limit: 10,
        })
        assert.deepEqual(picked.map((doc) => doc.executionId), ids)
        const byUniqueId = await storage.call<Array<Doc | null>>('getManyBySleepingTaskUniqueId', {
          requests: [{ sleepingTaskUniqueId: '' }],
        })
        assert.deepEqual(byUniqueId, [null])
      })
    })

    describe('locked selectors', () => {
      it('claims ready executions in startAt order, returning them as they were', async () => {
        const ids = [id('a'), id('b'), id('c')]
        const now = Date.now()
        await storage.insertMany([
          execution(ids[2]!, { shard: 3, startAt: now + 3 * 60_000, timeoutMs: 500 }),
          execution(ids[0]!, { shard: 3, startAt: now + 1 * 60_000, timeoutMs: 500 }),
          execution(ids[1]!, { shard: 3, startAt: now + 2 * 60_000, timeoutMs: 700 }),
          execution(id('other-shard'), { shard: 4 }),
          execution(id('running'), { shard: 3, status: 'running' }),
        ])
        const startedAt = Date.now() + FUTURE_MS
        const claim = (limit: number) =>
          storage.call<Doc[]>('updateByStatusAndStartAtLessThanAndReturn', {
            shard: 3,
            status: 'ready',
            startAtLessThan: now + 5 * 60_000,
            update: { status: 'running', executorId: 'ex', startedAt, updatedAt: 0 },
            updateExpiresAtWithStartedAt: startedAt,
            limit,
          })
        const first = await claim(2)
        assert.deepEqual(first.map((doc) => doc.executionId), [ids[0], ids[1]])
        assert.deepEqual(first.map((doc) => doc.status), ['ready', 'ready'], 'documents as read before the update')
        const stored = await storage.mustGetAll(ids)
        assert.deepEqual(stored.map((doc) => doc.status), ['running', 'running', 'ready'])
        assert.equal(stored[0]!.expiresAt, startedAt + 500, 'expiresAt = updateExpiresAtWithStartedAt + timeoutMs')
        assert.equal(stored[1]!.expiresAt, startedAt + 700)
        assert.equal(stored[0]!.executorId, 'ex')
        const second = await claim(5)
        assert.deepEqual(second.map((doc) => doc.executionId), [ids[2]])
        assert.deepEqual(await claim(5), [], 'nothing is claimed twice')
      })

      it('never hands one execution to two concurrent claimers', async () => {
        const ids = Array.from({ length: 12 }, (_, i) => id(`x${i}`))
        await storage.insertMany(ids.map((executionId) => execution(executionId, { shard: 5 })))
        const claimers = Array.from({ length: 6 }, () => new Storage(server.url, AUTH_SECRET))
        const claimed: string[] = []
        for (let round = 0; round < 4; round++) {
          const results = await Promise.all(
            claimers.map((claimer) =>
              claimer.call<Doc[]>('updateByStatusAndStartAtLessThanAndReturn', {
                shard: 5,
                status: 'ready',
                startAtLessThan: Date.now() + FUTURE_MS,
                update: { status: 'running', updatedAt: 0 },
                updateExpiresAtWithStartedAt: Date.now(),
                limit: 2,
              }),
            ),
          )
          claimed.push(...results.flat().map((doc) => doc.executionId))
        }
        assert.equal(new Set(claimed).size, claimed.length, `claimed twice: ${claimed.join(',')}`)
        // A busy lock makes a claimer come back empty-handed, so not every row need be claimed
        // by now; but every claimed row is running and every running row was claimed.
        const stored = await storage.mustGetAll(ids)
        const running = stored.filter((doc) => doc.status === 'running').map((doc) => doc.executionId)
        assert.deepEqual(running.sort(), [...claimed].sort())
      })

      it('picks stale acc-zero executions by status and ocfpStatus', async () => {
        const [a, b, c, fresh] = [id('a'), id('b'), id('c'), id('fresh')]
        await storage.insertMany([
          execution(a, { shard: 1, status: 'waiting_for_children', ocfpStatus: 'idle', acc: 0 }),
          execution(b, { shard: 1, status: 'waiting_for_children', ocfpStatus: 'idle', acc: 1 }),
          execution(c, { shard: 1, status: 'waiting_for_children', ocfpStatus: 'processing', acc: 0 }),
          execution(fresh, { shard: 1, status: 'waiting_for_children', ocfpStatus: 'idle', acc: 0 }),
        ])
        // A row stamped in the future is not stale however long the test takes.
        await storage.call('updateManyById', {
          requests: [{ executionId: fresh, update: { updatedAt: Date.now() + FUTURE_MS } }],
        })
        await sleep(STALE_AFTER_WRITE_MS)
        const picked = await storage.call<Doc[]>('updateByStatusAndOCFPStatusAndACCZeroAndReturn', {
          shard: 1,
          status: 'waiting_for_children',
          ocfpStatus: 'idle',
          update: { ocfpStatus: 'processing', ocfpExpiresAt: Date.now() + FUTURE_MS, updatedAt: 0 },
          limit: 10,
        })
        assert.deepEqual(picked.map((doc) => doc.executionId), [a])
        assert.equal(picked[0]!.ocfpStatus, 'idle')
        const [afterA, afterFresh] = await storage.mustGetAll([a, fresh])
        assert.equal(afterA!.ocfpStatus, 'processing')
        assert.equal(afterFresh!.ocfpStatus, 'idle')
      })

      it('picks stale executions by close status', async () => {
        const [a, b] = [id('a'), id('b')]
        await storage.insertMany([
          execution(a, { shard: 2, closeStatus: 'ready' }),
          execution(b, { shard: 2, closeStatus: 'idle' }),
        ])
        await sleep(STALE_AFTER_WRITE_MS)
        const picked = await storage.call<Doc[]>('updateByCloseStatusAndReturn', {
          shard: 2,
          closeStatus: 'ready',
          update: { closeStatus: 'closing', updatedAt: 0 },
          limit: 10,
        })
        assert.deepEqual(picked.map((doc) => doc.executionId), [a])
        assert.equal((await storage.getById(a))!.closeStatus, 'closing')
      })

      it('counts expired executions, skipping rows without an expiry', async () => {
        const now = Date.now()
        const [a, b, c, d, e] = [id('a'), id('b'), id('c'), id('d'), id('e')]
        await storage.insertMany([
          execution(a, { status: 'running', isSleepingTask: false, expiresAt: 0 }),
          execution(b, { status: 'running', isSleepingTask: false, expiresAt: now + FUTURE_MS }),
          execution(c, { status: 'running', isSleepingTask: false }),
          execution(d, { status: 'running', isSleepingTask: true, expiresAt: now + FUTURE_MS }),
          execution(e, { status: 'running', isSleepingTask: false, expiresAt: now + 2 * FUTURE_MS }),
        ])
        const count = await storage.call<number>('updateByStatusAndIsSleepingTaskAndExpiresAtLessThan', {
          status: 'running',
          isSleepingTask: false,
          expiresAtLessThan: now + FUTURE_MS + 1,
          update: { status: 'timed_out', updatedAt: 0, unset: { expiresAt: true } },
          limit: 10,
        })
        assert.equal(count, 2)
        const docs = await storage.mustGetAll([a, b, c, d, e])
        assert.deepEqual(docs.map((doc) => doc.status), ['timed_out', 'timed_out', 'running', 'running', 'running'])
        assert.equal('expiresAt' in docs[0]!, false)
      })

      it('counts expired on-children-finished processing and closing', async () => {
        const now = Date.now()
        const [a, b, c, d] = [id('a'), id('b'), id('c'), id('d')]
        await storage.insertMany([
          execution(a, { ocfpStatus: 'processing', ocfpExpiresAt: now + FUTURE_MS }),
          execution(b, { ocfpStatus: 'processing', ocfpExpiresAt: now + 2 * FUTURE_MS }),
          execution(c, { closeStatus: 'closing', closeExpiresAt: now + FUTURE_MS }),
          execution(d, { closeStatus: 'closing' }),
        ])
        const ocfp = await storage.call<number>('updateByOCFPExpiresAt', {
          ocfpExpiresAtLessThan: now + FUTURE_MS + 1,
          update: { ocfpStatus: 'idle', updatedAt: 0, unset: { ocfpExpiresAt: true } },
          limit: 10,
        })
        const close = await storage.call<number>('updateByCloseExpiresAt', {
          closeExpiresAtLessThan: now + FUTURE_MS + 1,
          update: { closeStatus: 'ready', updatedAt: 0, unset: { closeExpiresAt: true } },
          limit: 10,
        })
        assert.equal(ocfp, 1)
        assert.equal(close, 1)
        const docs = await storage.mustGetAll([a, b, c, d])
        assert.deepEqual(docs.map((doc) => doc.ocfpStatus), ['idle', 'processing', 'idle', 'idle'])
        assert.deepEqual(docs.map((doc) => doc.closeStatus), ['idle', 'idle', 'ready', 'closing'])
      })

      it('picks stale executions by executor and npc', async () => {
        const [a, b, c] = [id('a'), id('b'), id('c')]
        await storage.insertMany([
          execution(a, { shard: 6, executorId: 'ex-1', npc: true, status: 'running' }),
          execution(b, { shard: 6, executorId: 'ex-2', npc: true, status: 'running' }),
          execution(c, { shard: 6, executorId: 'ex-1', npc: false, status: 'running' }),
        ])
        await sleep(STALE_AFTER_WRITE_MS)
        const picked = await storage.call<Doc[]>('updateByExecutorIdAndNPCAndReturn', {
          shard: 6,
          executorId: 'ex-1',
          npc: true,
          update: { npc: false, updatedAt: 0 },
          limit: 10,
        })
        assert.deepEqual(picked.map((doc) => doc.executionId), [a])
        assert.equal(picked[0]!.npc, true)
        assert.equal((await storage.getById(a))!.npc, false)
      })

      it('refuses a limit that is not a non-negative integer, as Convex take() does', async () => {
        for (const limit of [-1, 1.5]) {
          const detail = await failure(() =>
            storage.call('updateByCloseStatusAndReturn', {
              shard: 0,
              closeStatus: 'ready',
              update: { updatedAt: 0 },
              limit,
            }),
          )
          assert.equal(detail, 'Uncaught TypeError: Arg 1 `n` to `take` must be a non-negative integer')
        }
      })

      it('returns nothing and changes nothing when limit is 0', async () => {
        const a = id('a')
        await storage.insertMany([execution(a, { shard: 7 })])
        const picked = await storage.call<Doc[]>('updateByStatusAndStartAtLessThanAndReturn', {
          shard: 7,
          status: 'ready',
          startAtLessThan: Date.now() + FUTURE_MS,
          update: { status: 'running', updatedAt: 0 },
          updateExpiresAtWithStartedAt: 0,
          limit: 0,
        })
        assert.deepEqual(picked, [])
        assert.equal((await storage.getById(a))!.status, 'ready')
      })
    })

    describe('children', () => {
      it('lists children unfinished first, then oldest first', async () => {
        const p = id('p')
        const [c1, c2, c3] = [id('c1'), id('c2'), id('c3')]
        await storage.insertMany([
          execution(c1, { parentExecutionId: p, isFinished: true, status: 'completed' }),
          execution(c2, { parentExecutionId: p }),
          execution(c3, { parentExecutionId: p }),
          execution(id('unrelated'), { parentExecutionId: id('other') }),
        ])
        const [children, none] = await storage.call<Doc[][]>('getManyByParentExecutionId', {
          requests: [{ parentExecutionId: p }, { parentExecutionId: 'nobody' }],
        })
        assert.deepEqual(children!.map((doc) => doc.executionId), [c2, c3, c1])
        assert.deepEqual(none, [])
      })

      it('updates children by parent and isFinished', async () => {
        const p = id('p')
        const [c1, c2] = [id('c1'), id('c2')]
        await storage.insertMany([
          execution(c1, { parentExecutionId: p, isFinished: true, status: 'completed' }),
          execution(c2, { parentExecutionId: p, status: 'running' }),
        ])
        await storage.call('updateManyByParentExecutionIdAndIsFinished', {
          requests: [{ parentExecutionId: p, isFinished: false, update: { npc: true, updatedAt: 0 } }],
        })
        const [doc1, doc2] = await storage.mustGetAll([c1, c2])
        assert.equal(doc1!.npc, false)
        assert.equal(doc2!.npc, true)
      })

      it('closes finished children and decrements their parents', async () => {
        const [p, q, gone] = [id('p'), id('q'), id('gone')]
        await storage.insertMany([
          execution(p, { shard: 9, status: 'waiting_for_children', acc: 5 }),
          execution(q, { shard: 9, status: 'waiting_for_children', acc: 1 }),
          execution(gone, { shard: 9, status: 'waiting_for_children', acc: 2 }),
        ])
        const [pDoc, qDoc, goneDoc] = await storage.mustGetAll([p, q, gone])
        const finished = { shard: 9, isFinished: true, status: 'completed', closeStatus: 'ready' }
        const kids = {
          p1: id('p1'),
          p2: id('p2'),
          p3: id('p3'),
          pFinalize: id('pf'),
          q1: id('q1'),
          orphan: id('orphan'),
        }
        await storage.insertMany([
          execution(kids.p1, { ...finished, parentExecutionId: p, parentExecutionDocId: pDoc!._id }),
          execution(kids.p2, { ...finished, parentExecutionId: p, parentExecutionDocId: pDoc!._id }),
          execution(kids.p3, { shard: 9, parentExecutionId: p, parentExecutionDocId: pDoc!._id }),
          execution(kids.pFinalize, {
            ...finished,
            parentExecutionId: p,
            parentExecutionDocId: pDoc!._id,
            isFinalizeOfParent: true,
          }),
          execution(kids.q1, {
            ...finished,
            parentExecutionId: q,
            parentExecutionDocId: qDoc!._id,
            isOnlyChildOfParent: true,
          }),
          execution(kids.orphan, { ...finished, parentExecutionId: gone, parentExecutionDocId: goneDoc!._id }),
        ])
        await storage.call('deleteById', { executionId: gone })
        await sleep(STALE_AFTER_WRITE_MS)
        const count = await storage.call<number>('updateAndDecrementParentACCByIsFinishedAndCloseStatus', {
          shard: 9,
          isFinished: true,
          closeStatus: 'ready',
          update: { closeStatus: 'closed', closedAt: 1, updatedAt: 0 },
          limit: 10,
        })
        assert.equal(count, 5, 'p1, p2, the finalize child, q1 and the orphan')
        const [pAfter, qAfter, p1, p3, finalizeChild] = await storage.mustGetAll([p, q, kids.p1, kids.p3, kids.pFinalize])
        assert.equal(pAfter!.acc, 3, 'two non-finalize children closed')
        assert.equal(qAfter!.acc, 0, 'an only child zeroes its parent')
        assert.equal(p1!.closeStatus, 'closed')
        assert.equal(p1!.closedAt, p1!.updatedAt, 'a past closedAt becomes now')
        assert.equal(p3!.closeStatus, 'idle')
        assert.equal(finalizeChild!.closeStatus, 'closed')
        assert.equal(pAfter!.updatedAt, p1!.updatedAt, 'parents carry the clamped update.updatedAt')
        assert.equal(qAfter!.updatedAt, p1!.updatedAt)
        assert.equal(await storage.getById(gone), null)
        assert.equal(
          await storage.call('updateAndDecrementParentACCByIsFinishedAndCloseStatus', {
            shard: 9,
            isFinished: true,
            closeStatus: 'ready',
            update: { closeStatus: 'closed', updatedAt: 0 },
            limit: 10,
          }),
          0,
        )
      })
    })

    describe('decrement sweep over a chain', () => {
      it('decrements a parent that is itself selected, and zeroes the grandparent', async () => {
        const [g, p, c] = [id('g'), id('p'), id('c')]
        const finished = { shard: 12, isFinished: true, status: 'completed', closeStatus: 'ready' }
        await storage.insertMany([execution(g, { shard: 12, status: 'waiting_for_children', acc: 1 })])
        const gDoc = (await storage.getById(g))!
        await storage.insertMany([
          execution(p, { ...finished, acc: 4, parentExecutionId: g, parentExecutionDocId: gDoc._id, isOnlyChildOfParent: true }),
        ])
        const pDoc = (await storage.getById(p))!
        await storage.insertMany([execution(c, { ...finished, parentExecutionId: p, parentExecutionDocId: pDoc._id })])
        await sleep(STALE_AFTER_WRITE_MS)
        const count = await storage.call<number>('updateAndDecrementParentACCByIsFinishedAndCloseStatus', {
          shard: 12,
          isFinished: true,
          closeStatus: 'ready',
          update: { closeStatus: 'closed', updatedAt: 0 },
          limit: 10,
        })
        assert.equal(count, 2)
        const [gAfter, pAfter, cAfter] = await storage.mustGetAll([g, p, c])
        assert.equal(gAfter!.acc, 0)
        assert.equal(pAfter!.acc, 3)
        assert.equal(pAfter!.closeStatus, 'closed')
        assert.equal(cAfter!.closeStatus, 'closed')
      })
    })

    describe('deletes', () => {
      it('deletes one execution by id, and a missing id is fine', async () => {
        const [a, b] = [id('a'), id('b')]
        await storage.insertMany([execution(a), execution(b)])
        assert.equal(await storage.call('deleteById', { executionId: a }), null)
        assert.equal(await storage.call('deleteById', { executionId: a }), null)
        assert.equal(await storage.getById(a), null)
        assert.notEqual(await storage.getById(b), null)
      })

      it('deletes everything, more than one batch of 100', async () => {
        const ids = Array.from({ length: 250 }, (_, i) => id(`d${i}`))
        for (let i = 0; i < ids.length; i += 50) {
          await storage.insertMany(ids.slice(i, i + 50).map((executionId) => execution(executionId)))
        }
        const before = await storage.call<Array<Doc | null>>('getManyById', {
          requests: ids.map((executionId) => ({ executionId })),
        })
        assert.equal(before.filter((doc) => doc !== null).length, 250)
        assert.equal(await storage.deleteAll(), null)
        const afterDelete = await storage.call<Array<Doc | null>>('getManyById', {
          requests: ids.map((executionId) => ({ executionId })),
        })
        assert.equal(afterDelete.filter((doc) => doc !== null).length, 0)
      })
    })
  })
}
