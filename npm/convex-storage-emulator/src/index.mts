/**
 * The ES module entry: the same single instance as the CommonJS one (`index.js`), re-exported,
 * so `import` and `require` in one process share one set of running emulators and handlers.
 */
export {
  AUTH_SECRET_ENV,
  BINARY_ENV,
  EmulatorRequestError,
  PLATFORMS,
  binaryPath,
  startEmulator,
} from './index.js'
export type { Emulator, EmulatorClock, StartEmulatorOptions } from './index.js'
