// Time from `startEmulator()` to the first answered call, as a test suite's globalSetup sees it:
// start the emulator, then one `getManyById` through the official ConvexHttpClient.
//
//   node npm/bench/start.mjs [samples]        (default 30)
//
// Uses the built package (npm/build.sh) and the binary of this machine's platform package, or
// CONVEX_STORAGE_EMULATOR_BIN. Sample 1 runs in a fresh Node process, so it also pays for
// loading Node's fetch (undici) on the first request; the others show the steady state.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { startEmulator } = require('../convex-storage-emulator/dist/index.js')
const { ConvexHttpClient } = require('convex/browser')
const { anyApi } = require('convex/server')

const samples = Number(process.argv[2] ?? 30)
const platformBinary = fileURLToPath(
  new URL(`../platforms/${process.platform}-${process.arch}/bin/convex-storage-emulator`, import.meta.url),
)
const binary = process.env.CONVEX_STORAGE_EMULATOR_BIN || platformBinary
if (!existsSync(binary)) {
  console.error(`no binary at ${binary}: run npm/build.sh first`)
  process.exit(1)
}

const rows = []
for (let i = 0; i < samples; i++) {
  const t0 = performance.now()
  const emulator = await startEmulator({ binary })
  const t1 = performance.now()
  const client = new ConvexHttpClient(emulator.url, { logger: false })
  const answer = await client.query(anyApi.taskExecutionsStorage.getManyById, {
    authSecret: emulator.authSecret,
    args: { requests: [{ executionId: 'none' }] },
  })
  const t2 = performance.now()
  if (JSON.stringify(answer) !== '[null]') throw new Error(`unexpected answer ${JSON.stringify(answer)}`)
  await emulator.stop()
  rows.push({ listening: t1 - t0, firstAnswer: t2 - t0 })
}

const fmt = (ms) => `${ms.toFixed(1)} ms`
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
const [first, ...rest] = rows
console.log(`binary: ${binary}`)
console.log(`sample 1 (fresh process): listening after ${fmt(first.listening)}, first answer after ${fmt(first.firstAnswer)}`)
if (rest.length > 0) {
  const listening = rest.map((r) => r.listening)
  const answer = rest.map((r) => r.firstAnswer)
  console.log(
    `samples 2-${samples}: listening median ${fmt(median(listening))} (min ${fmt(Math.min(...listening))}, max ${fmt(Math.max(...listening))}); ` +
      `first answer median ${fmt(median(answer))} (min ${fmt(Math.min(...answer))}, max ${fmt(Math.max(...answer))})`,
  )
}
