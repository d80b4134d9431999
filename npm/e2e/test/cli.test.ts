// `npx convex-storage-emulator [flags]` and the bin behind it: arguments, stdio, exit codes and
// signals pass through to the platform binary.
import { execFile, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

import { Storage, firstLine } from './support.js'

const run = promisify(execFile)
// This file is in <project>/e2e/test; the bin is the shim npm made in <project>/node_modules/.bin.
const project = fileURLToPath(new URL('../..', import.meta.url))
const bin = `${project}node_modules/.bin/convex-storage-emulator`
const { version } = createRequire(import.meta.url)('convex-storage-emulator/package.json') as { version: string }

/** The environment without a secret, so each test says whether it gives one. */
function envWithout(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.CONVEX_STORAGE_AUTH_SECRET
  return env
}

describe('npx convex-storage-emulator', () => {
  it('--version prints the version of the package that shipped it', async () => {
    const { stdout } = await run('npx', ['convex-storage-emulator', '--version'], {
      cwd: project,
      env: envWithout(),
    })
    expect(stdout.trim()).toBe(`convex-storage-emulator ${version}`)
  })

  it("passes the binary's exit code and stderr through", async () => {
    const child = spawn(bin, ['--port', '0', '--db', ':memory:'], { env: envWithout(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const [code] = await new Promise<[number | null]>((resolve) => child.once('close', (c) => resolve([c])))
    expect(code).toBe(2)
    expect(stderr).toMatch(/no auth secret/)
  })

  it('exec -- CMD: CMD sees a working emulator in its environment, and its status is the exit code', async () => {
    // CMD checks both variables by calling the emulator's guarded health route with them.
    const script = `
      const url = process.env.CONVEX_URL, secret = process.env.CONVEX_STORAGE_AUTH_SECRET
      fetch(url + '/_emulator/health', { headers: { authorization: 'Bearer ' + secret } })
        .then((r) => r.json())
        .then((body) => { console.log(JSON.stringify({ url, body })); process.exit(3) })`
    const child = spawn(bin, ['exec', '--', process.execPath, '-e', script], {
      env: envWithout(),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    const [code] = await new Promise<[number | null]>((resolve) => child.once('close', (c) => resolve([c])))
    expect(code).toBe(3)
    const { url, body } = JSON.parse(stdout) as { url: string; body: unknown }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(body).toEqual({ ok: true })
  })

  it('serves until SIGTERM, which it forwards; then the port is closed', async () => {
    const child = spawn(bin, ['--port', '0', '--db', ':memory:'], {
      env: { ...envWithout(), CONVEX_STORAGE_AUTH_SECRET: 'cli-secret' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    )
    const line = await firstLine(child.stdout)
    const url = /^listening on (http:\/\/\S+)$/.exec(line)?.[1]
    expect(url).toBeDefined()
    const storage = new Storage(url!, 'cli-secret')
    await storage.insert(['via-cli'])
    expect((await storage.get(['via-cli']))[0]?.status).toBe('ready')

    child.kill('SIGTERM')
    // The emulator shuts down cleanly on SIGTERM and exits 0; the bin exits the same way.
    expect(await exited).toEqual([0, null])
    await expect(fetch(`${url}/version`)).rejects.toThrow()
  })
})
