/**
 * The Convex HTTP function-call API (docs/PROTOCOL.md section 1) in front of a `ReferenceBackend`.
 *
 * Routes:
 *
 * | method + path                         | body                   | runs                      |
 * |---------------------------------------|------------------------|---------------------------|
 * | POST /api/query, /mutation, /action   | {path, args, format?}  | that kind only            |
 * | POST /api/run/<module...>/<function>  | {args, format?}        | any kind                  |
 * | GET /, GET /instance_name             | -                      | health texts              |
 *
 * A function that ran (or failed while running, or does not exist, or has another kind)
 * answers HTTP 200 `{status: "success", value}` or `{status: "error", errorMessage}`. Only a
 * request that never reaches a function gets a non-2xx `{code, message}`.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'

import type { JSONValue, Value } from 'convex/values'

import type { CallOutcome, FunctionKind, ReferenceBackend } from './backend'
import { newRequestId, serverErrorMessage } from './errors'
import { BadFunctionPath, parseFunctionPath, strippedPath, type FunctionPath } from './functionPath'
import { decodeArgs, encodeValue, outputFormat, stringifyEnvelope } from './values'

/** The public API's request body limit: 16 MiB plus 2000 bytes, as the backend's. */
export const BODY_BYTES_MAX = 16 * 1024 * 1024 + 2000

const KIND_ROUTES: Record<string, FunctionKind> = {
  '/api/query': 'query',
  '/api/mutation': 'mutation',
  '/api/action': 'action',
}

const RUN_ROUTE_PREFIX = '/api/run/'

const HEALTH_TEXTS: Record<string, string> = {
  '/': 'This Convex deployment is running. See https://docs.convex.dev/.',
  '/instance_name': 'convex-storage-reference',
}

/** A request that cannot reach a function: answered with a non-2xx `{code, message}`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The request listener for `node:http`. */
export function createRequestListener(backend: ReferenceBackend): RequestListener {
  return (request, response) => {
    handle(backend, request, response).catch((error: unknown) => {
      const failure =
        error instanceof HttpError
          ? error
          : new HttpError(500, 'InternalServerError', "Your request couldn't be completed. Try again later.")
      if (!response.headersSent) {
        sendJson(response, failure.status, { code: failure.code, message: failure.message })
      } else {
        response.destroy()
      }
    })
  }
}

async function handle(
  backend: ReferenceBackend,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://reference.invalid')
  const kind = KIND_ROUTES[url.pathname]
  const isRun = url.pathname.startsWith(RUN_ROUTE_PREFIX)
  const healthText = HEALTH_TEXTS[url.pathname]

  if (request.method === 'GET' && healthText !== undefined) {
    response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
    response.end(healthText)
    return
  }
  if (kind === undefined && !isRun) {
    await drain(request)
    response.writeHead(404).end()
    return
  }
  if (request.method !== 'POST') {
    await drain(request)
    response.writeHead(405).end()
    return
  }

  const body = await readJsonBody(request)
  const path = isRun ? runRoutePath(url.pathname) : bodyPath(body)
  if (!('args' in body)) {
    throw badJsonBody('Failed to deserialize the JSON body into the target type: missing field `args`')
  }

  const requestId = newRequestId()
  const outcome = await callWithJsonArgs(backend, path, body.args as JSONValue, kind)
  // Like the backend, the output format is looked at only after the function ran.
  const format = outputFormat(body.format)
  if (format === null) {
    throw new HttpError(400, 'BadFormat', `Invalid format: ${String(body.format)}`)
  }
  if (outcome.ok) {
    sendJson(response, 200, { status: 'success', value: encodeValue(outcome.value, format) })
  } else {
    sendJson(response, 200, {
      status: 'error',
      errorMessage: serverErrorMessage(requestId, outcome.detail),
    })
  }
}

/**
 * Unwraps and decodes the arguments, then calls the backend.
 *
 * `args` is either the positional array the TS client sends (`[{...}]`) or a bare object.
 * The public functions declare no validators, so, as in the Convex runtime, the handler gets
 * the first positional argument and the rest are ignored. A first argument that is missing or
 * not an object is replaced by `{}`: the envelope then has no secret, and the public function
 * fails with `Invalid auth secret`, as its first check demands.
 */
async function callWithJsonArgs(
  backend: ReferenceBackend,
  path: FunctionPath,
  json: JSONValue,
  kind: FunctionKind | undefined,
): Promise<CallOutcome> {
  let args: Value
  try {
    const values = Array.isArray(json) ? json : [json]
    args = values.length === 0 ? {} : decodeArgs(values[0]!)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return { ok: false, detail: `Invalid arguments for ${strippedPath(path)}: ${reason}` }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args) || args instanceof ArrayBuffer) {
    args = {}
  }
  return await backend.call(path, args, kind)
}

/** The function path of `/api/run/<module segments>/<function>`. */
function runRoutePath(pathname: string): FunctionPath {
  const segments = pathname.slice(RUN_ROUTE_PREFIX.length).split('/').map(decodeURIComponent)
  if (segments.length < 2 || segments.some((segment) => segment === '')) {
    throw new HttpError(400, 'MissingIdentifier', `Invalid function path: ${pathname}`)
  }
  const name = segments.pop()!
  return parseOrReject(`${segments.join('/')}:${name}`)
}

function bodyPath(body: Record<string, unknown>): FunctionPath {
  if (!('path' in body)) {
    throw badJsonBody('Failed to deserialize the JSON body into the target type: missing field `path`')
  }
  if (typeof body.path !== 'string') {
    throw badJsonBody('Failed to deserialize the JSON body into the target type: path: invalid type, expected a string')
  }
  return parseOrReject(body.path)
}

function parseOrReject(path: string): FunctionPath {
  try {
    return parseFunctionPath(path)
  } catch (error) {
    if (error instanceof BadFunctionPath) {
      throw new HttpError(400, 'BadConvexFunctionIdentifier', error.message)
    }
    throw error
  }
}

/** Reads the body as a JSON object, enforcing the content type and the size limit. */
async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  const isJson =
    contentType === 'application/json' ||
    (contentType.startsWith('application/') && contentType.endsWith('+json'))
  if (!isJson) {
    await drain(request)
    throw badJsonBody('Expected request with `Content-Type: application/json`')
  }
  const text = await readBody(request)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw badJsonBody(`Failed to parse the request body as JSON: ${reason}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badJsonBody('Failed to deserialize the JSON body into the target type: expected a JSON object')
  }
  return body as Record<string, unknown>
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let bytes = 0
  let tooLarge = false
  for await (const chunk of request) {
    const buffer = chunk as Buffer
    bytes += buffer.length
    if (bytes > BODY_BYTES_MAX) {
      tooLarge = true
      chunks.length = 0
    } else if (!tooLarge) {
      chunks.push(buffer)
    }
  }
  if (tooLarge) {
    throw badJsonBody(`Failed to buffer the request body: length limit exceeded (${BODY_BYTES_MAX} bytes)`)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function drain(request: IncomingMessage): Promise<void> {
  for await (const _chunk of request) {
    // Discard: the answer does not depend on the body.
  }
}

function badJsonBody(message: string): HttpError {
  return new HttpError(400, 'BadJsonBody', message)
}

function sendJson(response: ServerResponse, status: number, body: Record<string, JSONValue>): void {
  const text = stringifyEnvelope(body)
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  })
  response.end(text)
}
