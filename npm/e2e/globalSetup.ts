import type { TestProject } from 'vitest/node'
import { type Emulator, startEmulator } from 'convex-storage-emulator'

let emulator: Emulator | undefined

export async function setup(project: TestProject) {
  emulator = await startEmulator()
  project.provide('convexUrl', emulator.url)
  project.provide('convexAuthSecret', emulator.authSecret)
  // For code that reads the environment instead (vitest's workers inherit it):
  process.env.CONVEX_URL = emulator.url
  process.env.CONVEX_STORAGE_AUTH_SECRET = emulator.authSecret
}

export async function teardown() {
  await emulator?.stop()
}

declare module 'vitest' {
  export interface ProvidedContext {
    convexUrl: string
    convexAuthSecret: string
  }
}
