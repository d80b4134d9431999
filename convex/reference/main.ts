/**
 * The reference server: our Convex functions under `convex-test`, behind the Convex HTTP API.
 *
 *   npm --prefix convex run --silent reference -- --port 0 --auth-secret S [--host 127.0.0.1]
 *
 * Prints exactly one stdout line, `listening on http://HOST:PORT`, once it accepts
 * connections (port 0 picks a free port); everything else goes to stderr. Exits cleanly on
 * SIGTERM or SIGINT. State lives in memory only.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'

import { ReferenceBackend } from './backend'
import { createRequestListener } from './http'

const DEFAULT_HOST = '127.0.0.1'
const DEFAULT_PORT = 3210

const USAGE =
  'usage: reference --auth-secret SECRET [--host 127.0.0.1] [--port 3210]  (port 0 = any free port)'

function main(): void {
  const options = readOptions()
  const backend = ReferenceBackend.create(options.authSecret)
  const server = createServer(createRequestListener(backend))

  server.on('error', (error) => {
    process.stderr.write(`reference server: ${error.message}\n`)
    process.exit(1)
  })
  server.listen(options.port, options.host, () => {
    const { port } = server.address() as AddressInfo
    const host = options.host.includes(':') ? `[${options.host}]` : options.host
    process.stdout.write(`listening on http://${host}:${port}\n`)
  })

  const shutdown = () => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}

type Options = { authSecret: string; host: string; port: number }

function readOptions(): Options {
  let values: { 'auth-secret'?: string; host?: string; port?: string; help?: boolean }
  try {
    ;({ values } = parseArgs({
      options: {
        'auth-secret': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }))
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
  if (values.help) {
    process.stderr.write(`${USAGE}\n`)
    process.exit(0)
  }
  const authSecret = values['auth-secret']
  if (authSecret === undefined || authSecret === '') {
    fail('--auth-secret is required and must not be empty')
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--port must be an integer in 0..65535, got ${values.port}`)
  }
  return { authSecret, host: values.host ?? DEFAULT_HOST, port }
}

function fail(message: string): never {
  process.stderr.write(`reference server: ${message}\n${USAGE}\n`)
  process.exit(2)
}

main()
