/**
 * The reference server as a process: one stdout line, and a clean exit on SIGTERM or SIGINT
 * sent to `npm` alone (as the Rust testkit does), leaving no process of its group behind.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, describe, it } from 'node:test'

import { PACKAGE_DIR, START_TIMEOUT_MS, STOP_TIMEOUT_MS } from './servers'

describe('reference server process', () => {
  /** Process groups to kill at the end, even when a test timed out mid-way. */
  const groups: number[] = []
  after(() => {
    for (const group of groups) {
      try {
        process.kill(-group, 'SIGKILL')
      } catch {
        // Already gone, as it should be.
      }
    }
  })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // The timeout turns "npm never exits" (the signal did not reach node) into a failure.
    const timeout = START_TIMEOUT_MS + 2 * STOP_TIMEOUT_MS
    it(`prints one listening line and exits 0 on ${signal} to npm`, { timeout }, async () => {
      const child = spawn(
        'npm',
        ['--prefix', PACKAGE_DIR, 'run', '--silent', 'reference', '--', '--port', '0', '--auth-secret', 's'],
        { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      )
      groups.push(child.pid!)
      let stdout = ''
      let stderr = ''
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
      })
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk
      })
      const exited = once(child, 'exit')
      const deadline = Date.now() + START_TIMEOUT_MS
      while (!stdout.includes('\n') && Date.now() < deadline && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      assert.match(stdout, /^listening on http:\/\/127\.0\.0\.1:\d+\n$/, stderr)
      const url = stdout.slice('listening on '.length).trim()
      assert.equal((await fetch(`${url}/`)).status, 200)

      process.kill(child.pid!, signal)
      const [code] = await exited
      assert.equal(code, 0, stderr)
      assert.equal(stdout.split('\n').filter((line) => line !== '').length, 1, 'nothing else on stdout')
      // tsx's esbuild helper process ends on its own once node is gone; give it a moment.
      assert.ok(await groupEnds(child.pid!, STOP_TIMEOUT_MS), 'no process of the group is left')
    })
  }
})

/** Whether process group `group` has no process left within `timeoutMs`. */
async function groupEnds(group: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      process.kill(-group, 0)
    } catch {
      return true
    }
    if (Date.now() > deadline) {
      return false
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
