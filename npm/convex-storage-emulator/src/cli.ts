#!/usr/bin/env node
/**
 * `npx convex-storage-emulator [flags]`: runs the platform binary with these flags and this
 * terminal, forwards termination signals to it, and ends the way it ended (same exit code, or
 * killed by the same signal).
 */
import { spawn } from 'node:child_process'

import { binaryPath } from './binary.js'

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

let binary: string
try {
  binary = binaryPath()
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}

const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit', windowsHide: true })
const forward = (signal: NodeJS.Signals) => {
  child.kill(signal)
}
for (const signal of FORWARDED_SIGNALS) process.on(signal, forward)

child.once('error', (error) => {
  console.error(`convex-storage-emulator: cannot run ${binary}: ${error.message}`)
  process.exit(1)
})
child.once('exit', (code, signal) => {
  for (const s of FORWARDED_SIGNALS) process.off(s, forward)
  if (signal !== null) {
    // Die of the same signal, so a shell or CI sees what really happened (for example 130).
    process.kill(process.pid, signal)
    return
  }
  process.exit(code ?? 1)
})
