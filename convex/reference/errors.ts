/**
 * The text of a failed function call, as a Convex deployment phrases it (docs/PROTOCOL.md):
 *
 *   [Request ID: <16 hex>] Server Error
 *   Uncaught Error: <thrown message>            (an error the function threw; its class
 *                                                name when not Error, e.g. TypeError)
 *   ArgumentValidationError: <detail>           (its arguments did not validate)
 *
 * No stack frames are sent. Argument checks happen in our own code (definitions/argumentValidation),
 * which already words them as the backend does; convex-test's own validators are never the
 * first to see a bad argument.
 */
import { randomBytes } from 'node:crypto'

import { ArgumentValidationError } from '../definitions/argumentValidation'

/** Bytes of a request id (printed as 16 hex digits, as Convex does). */
const REQUEST_ID_BYTES = 8

/** A fresh request id. */
export function newRequestId(): string {
  return randomBytes(REQUEST_ID_BYTES).toString('hex')
}

/** The `errorMessage` of a failed call. */
export function serverErrorMessage(requestId: string, detail: string): string {
  return `[Request ID: ${requestId}] Server Error\n${detail}`
}

/** The second line of a failed call's message, for an error thrown while running it. */
export function describeThrown(error: unknown): string {
  if (error instanceof ArgumentValidationError) {
    return `ArgumentValidationError: ${error.message}`
  }
  if (error instanceof Error) {
    // `Uncaught TypeError: ...` for a TypeError, as the Convex runtime names the class.
    const name = error.name === '' ? 'Error' : error.name
    return `Uncaught ${name}: ${error.message}`
  }
  return `Uncaught ${String(error)}`
}
