/**
 * The text of a failed function call, as a Convex deployment phrases it (common.md):
 *
 *   [Request ID: <16 hex>] Server Error
 *   Uncaught Error: <thrown message>            (an error the function threw; its class
 *                                                name when not Error, e.g. TypeError)
 *   ArgumentValidationError: <detail>           (its arguments did not validate)
 *
 * No stack frames are sent. `convex-test` words its own validator failures differently
 * (`Validator error: Missing required field ...`); those are mapped onto the backend's
 * first-line wording here, so both our pre-validation and convex-test's validators read alike.
 */
import { randomBytes } from 'node:crypto'

import {
  ArgumentValidationError,
  NO_MATCH_DETAIL,
  extraFieldDetail,
  missingFieldDetail,
} from '../shared/argumentValidation'

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
    const detail = convexTestValidatorDetail(error.message)
    if (detail !== null) {
      return `ArgumentValidationError: ${detail}`
    }
    // `Uncaught TypeError: ...` for a TypeError, as the Convex runtime names the class.
    const name = error.name === '' ? 'Error' : error.name
    return `Uncaught ${name}: ${error.message}`
  }
  return `Uncaught ${String(error)}`
}

const CONVEX_TEST_VALIDATOR_PREFIX = 'Validator error: '

/** The backend's wording for a convex-test validator message, or null for other messages. */
function convexTestValidatorDetail(message: string): string | null {
  if (!message.startsWith(CONVEX_TEST_VALIDATOR_PREFIX)) {
    return null
  }
  const missing = /^Validator error: Missing required field `(.*)` in object$/.exec(message)
  if (missing !== null) {
    return missingFieldDetail(missing[1]!)
  }
  const extra = /^Validator error: Unexpected field `(.*)` in object$/.exec(message)
  if (extra !== null) {
    return extraFieldDetail(extra[1]!)
  }
  return NO_MATCH_DETAIL
}
