// The inspector page in a real browser: headless Chromium (Debian's `chromium`) driven through
// the DevTools protocol by puppeteer-core, against the debug emulator binary on port 0.
//
// The store is seeded through the official ConvexHttpClient; the test then signs in with the
// keyboard, checks the overview against the seed, filters the list, opens an execution and
// follows a child link, watches a ConvexHttpClient call arrive in the live request log, and
// checks that a wrong secret is refused. Each view is saved as a PNG under
// target/inspector-screenshots/.
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'

import { ConvexHttpClient } from 'convex/browser'
import { makeFunctionReference } from 'convex/server'
import puppeteer from 'puppeteer-core'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..', '..')
const EMULATOR = process.env.CONVEX_STORAGE_EMULATOR_BIN ?? join(root, 'target', 'debug', 'convex-storage-emulator')
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const SCREENSHOTS = join(root, 'target', 'inspector-screenshots')
const SECRET = 'inspector-test-secret'
/** How long any one wait in the page may take before the test fails (a hang, not a timing check). */
const WAIT_MS = 20_000

let emulator
let url
let browser
let page
let client

/** Starts the emulator on port 0 and resolves to its URL once it prints `listening on`. */
function startEmulator() {
  const child = spawn(EMULATOR, ['--auth-secret', SECRET, '--port', '0', '--db', ':memory:', '--request-log-size', '500'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the emulator exited with ${code}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/.exec(line)
      if (match) resolvePromise({ child, url: match[1] })
    })
  })
}

const ref = (name) => makeFunctionReference(`taskExecutionsStorage:${name}`)

function execution(executionId, fields = {}) {
  return {
    shard: 0, taskId: 'task', executionId, isSleepingTask: false, retryOptions: { maxAttempts: 1 },
    sleepMsBeforeRun: 0, timeoutMs: 1000, areChildrenSequential: false, input: 'input',
    status: 'ready', isFinished: false, retryAttempts: 0, startAt: 0, acc: 0, ocfpStatus: 'idle',
    closeStatus: 'idle', npc: false, createdAt: 0, updatedAt: 0, ...fields,
  }
}

/** What the test stores: 12 executions on 2 shards, one parent with two children. */
function seed() {
  const far = Date.now() + 86_400_000
  const rows = [
    execution('ready-0'), execution('ready-1'), execution('ready-2', { shard: 1 }),
    execution('later-0', { startAt: far }),
    execution('done-0', { status: 'completed', isFinished: true, closeStatus: 'closed' }),
    execution('done-1', { shard: 1, status: 'completed', isFinished: true, closeStatus: 'closed' }),
    execution('failed-0', { shard: 1, status: 'failed', isFinished: true, closeStatus: 'ready' }),
    execution('run-0', { status: 'running', executorId: 'ex-1', startedAt: 1, expiresAt: far }),
    execution('parent-0', {
      status: 'waiting_for_children', acc: 2, taskId: 'parent-task',
      children: [{ taskId: 'child-task', executionId: 'child-0' }, { taskId: 'child-task', executionId: 'child-1' }],
    }),
  ]
  const child = (id, index) => execution(id, {
    shard: 1, taskId: 'child-task', rootTaskId: 'parent-task', rootExecutionId: 'parent-0',
    parentTaskId: 'parent-task', parentExecutionId: 'parent-0', indexInParentChildren: index,
    isOnlyChildOfParent: false, isFinalizeOfParent: false,
  })
  return [rows, [child('child-0', 0), child('child-1', 1), execution('ready-3', { shard: 1 })]]
}

const SEEDED = seed().flat()

function expected(filter) {
  return SEEDED.filter(filter).length
}

async function screenshot(name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** The text of every element matching `selector`. */
function texts(selector) {
  return page.$$eval(selector, (els) => els.map((el) => el.textContent.trim()))
}

/** Clicks the link or button whose text is exactly `text`, by focusing it and pressing Enter. */
async function press(selector, text) {
  const handle = await page.waitForFunction(
    (sel, t) => [...document.querySelectorAll(sel)].find((el) => el.textContent.trim() === t),
    { timeout: WAIT_MS }, selector, text)
  await handle.focus()
  await page.keyboard.press('Enter')
}

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  ;({ child: emulator, url } = await startEmulator())
  client = new ConvexHttpClient(url, { logger: false })
  for (const batch of seed()) {
    await client.mutation(ref('insertMany'), { authSecret: SECRET, args: { executions: batch } })
  }
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  })
  page = await browser.newPage()
  await page.setViewport({ width: 1280, height: 860 })
  page.setDefaultTimeout(WAIT_MS)
})

after(async () => {
  await browser?.close()
  emulator?.kill('SIGTERM')
})

test('signs in with the keyboard', async () => {
  await page.goto(`${url}/_emulator/`)
  await page.waitForSelector('#secret:focus')
  await screenshot('login')
  await page.keyboard.type(SECRET)
  await page.keyboard.press('Enter')
  await page.waitForSelector('.cards')
  assert.equal(page.url(), `${url}/_emulator/`, 'the secret is not in the URL')
  assert.equal(await page.evaluate(() => sessionStorage.length), 1)
})

test('the overview counts match the seeded store', async () => {
  const cards = await page.$$eval('.cards a', (as) =>
    Object.fromEntries(as.map((a) => [a.lastElementChild.textContent, Number(a.firstElementChild.textContent.replace(/,/g, ''))])))
  assert.equal(cards.Executions, SEEDED.length)
  assert.equal(cards['Ready, due now'], expected((e) => e.status === 'ready' && e.startAt === 0))
  assert.equal(cards['Ready, in the future'], 1)
  assert.equal(cards['Waiting for children'], 1)
  assert.equal(cards['Parents with acc > 0'], 1)
  assert.equal(cards['Running past expiresAt'], 0)
  // Every status × shard cell, against the seed.
  const cells = await page.$$eval('table.grid tbody tr', (rows) => rows.map((row) =>
    [...row.children].map((cell) => cell.textContent.trim())))
  assert.ok(cells.length > 0)
  for (const [status, shard0, shard1, all] of cells) {
    const n = (shard) => expected((e) => e.status === status && (shard === undefined || e.shard === shard))
    assert.deepEqual([shard0, shard1, all].map((c) => (c === '·' ? 0 : Number(c))), [n(0), n(1), n()], status)
  }
  await screenshot('overview')
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }])
  await screenshot('overview-dark')
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }])
})

test('filters the executions list', async () => {
  await press('nav a', 'Executions')
  await page.waitForSelector('#executions tbody tr')
  assert.equal((await texts('#executions tbody tr')).length, SEEDED.length)
  // Choose a status with the keyboard: "r" picks "ready", and the list follows at once.
  await page.focus('#f-status')
  await page.keyboard.press('r')
  await page.waitForFunction(() => location.hash === '#/executions?status=ready')
  await page.waitForFunction((n) => document.querySelectorAll('#executions tbody tr').length === n,
    {}, expected((e) => e.status === 'ready'))
  assert.deepEqual(new Set(await texts('#executions tbody td:nth-child(4)')), new Set(['ready']))
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-status', 'focus stays on the filter')
  // Narrow to shard 1 by typing and pressing Enter in the form.
  await page.focus('#f-shard')
  await page.keyboard.type('1')
  await page.keyboard.press('Enter')
  const n = expected((e) => e.status === 'ready' && e.shard === 1)
  await page.waitForFunction((n) => location.hash.includes('shard=1') &&
    document.querySelectorAll('#executions tbody tr').length === n, {}, n)
  assert.deepEqual(new Set(await texts('#executions tbody td:nth-child(3)')), new Set(['1']))
  await screenshot('executions-filtered')
  // Find one by executionId.
  await page.focus('#find-q')
  await page.keyboard.type('parent-0')
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => document.querySelectorAll('#executions tbody tr').length === 1 &&
    document.querySelector('#executions tbody td').textContent === 'parent-0')
})

test('opens an execution and follows a child link', async () => {
  await press('#executions a', 'parent-0')
  await page.waitForFunction(() => document.querySelector('#view h2')?.textContent.includes('parent-0'))
  const tree = await texts('.tree a')
  assert.deepEqual(tree, ['child-0', 'child-1'])
  const fields = await texts('.fields th')
  for (const name of ['_id', '_creationTime', 'acc', 'children', 'executionId', 'input', 'status']) {
    assert.ok(fields.includes(name), `${name} is shown`)
  }
  assert.ok((await texts('.timeline strong')).includes('createdAt'))
  await screenshot('execution-parent')
  await press('.tree a', 'child-1')
  await page.waitForFunction(() => document.querySelector('#view h2')?.textContent.includes('child-1'))
  assert.ok((await texts('.tree li')).some((t) => t.startsWith('parent: parent-0')))
  await screenshot('execution-child')
})

test('the request log shows a ConvexHttpClient call made while it is open', async () => {
  await press('nav a', 'Request log')
  await page.waitForSelector('#requests tbody tr')
  assert.match(await page.$eval('[role=status]', (el) => el.textContent), /keeps the last 500 calls/, '--request-log-size')
  const before = await page.$$eval('#requests tbody tr', (rows) => rows.length)
  await client.query(ref('getManyById'), { authSecret: SECRET, args: { requests: [{ executionId: 'ready-1' }] } })
  await page.waitForFunction((n) => document.querySelectorAll('#requests tbody tr').length === n + 1, {}, before)
  const newest = await page.$eval('#requests tbody tr', (row) => [...row.children].map((c) => c.textContent.trim()))
  assert.match(newest[2], /^getManyById query$/)
  assert.equal(newest[3], 'success')
  assert.deepEqual([newest[5], newest[6]], ['1', '0'], 'one document read, none written')
  // Its arguments and result, on request, with the secret redacted.
  await press('#requests tbody tr:first-child button', 'Details')
  await page.waitForSelector('.payload pre')
  const [args, result] = await texts('.payload pre')
  assert.match(args, /"authSecret": "\[redacted\]"/)
  assert.ok(!args.includes(SECRET))
  assert.match(result, /"executionId": "ready-1"/)
  await screenshot('request-log')
  // Paused, a new call does not appear until resumed.
  await press('button', 'Pause live updates')
  await client.query(ref('getManyById'), { authSecret: SECRET, args: { requests: [{ executionId: 'ready-2' }] } })
  const paused = await page.$$eval('#requests > tbody > tr:not(.payload)', (rows) => rows.length)
  // Two poll periods pass with no new row (a paused log that still polled would show it).
  await new Promise((r) => setTimeout(r, 2_500))
  assert.equal(await page.$$eval('#requests > tbody > tr:not(.payload)', (rows) => rows.length), paused)
  await press('button', 'Resume live updates')
  await page.waitForFunction((n) => document.querySelectorAll('#requests > tbody > tr:not(.payload)').length === n + 1, {}, paused)
})

test('a wrong secret is refused', async () => {
  await press('nav button', 'Forget secret')
  await page.waitForSelector('#secret:focus')
  await page.keyboard.type('not-the-secret')
  await page.keyboard.press('Enter')
  await page.waitForSelector('#login-error:not([hidden])')
  assert.equal(await page.$eval('#login-error', (el) => el.textContent), 'The auth secret is wrong.')
  assert.equal(await page.evaluate(() => sessionStorage.length), 0)
  assert.equal(await page.$('.cards'), null)
  const status = await page.evaluate(async () =>
    (await fetch('/_emulator/api/overview', { headers: { Authorization: 'Bearer not-the-secret' } })).status)
  assert.equal(status, 401)
  await screenshot('login-refused')
})
