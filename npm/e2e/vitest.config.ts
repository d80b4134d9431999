import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Paths below are relative to this folder, wherever vitest is started from.
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    // The README's recipe: one emulator for the whole run, its URL and secret handed to the tests.
    globalSetup: ['./globalSetup.ts'],
    include: ['test/**/*.test.ts'],
    // Tests here start and stop their own emulators too; a slow CI machine gets room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
