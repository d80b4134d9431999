/**
 * Strict checking of a public function's inner `args` against a Convex validator.
 *
 * Why not Convex's own `args` validators? The public functions take an envelope
 * `{authSecret, args}` whose secret must be checked before anything else, and whose extra
 * fields are ignored, so the public functions cannot declare validators. The inner `args`
 * are then checked here, with the same rules and the same first-line wording as the Convex
 * backend's validator (`Object is missing the required field ...`, `Object contains extra
 * field ...`, `Value does not match validator.`), in the same order: an object's validator
 * fields in sorted name order (recursing into each present one before looking further), then
 * its extra fields in sorted order. Only that first line is produced; the backend's extra
 * `Path:`/`Object:`/`Validator:` lines are left out.
 *
 * Invariant: this module knows validators and values, never auth, locks or the database.
 */
import type { GenericValidator, PropertyValidators } from 'convex/values'

/**
 * A failed argument check. Its `name` makes the reference server (and a deployment's error
 * text) say `ArgumentValidationError: <detail>`.
 */
export class ArgumentValidationError extends Error {
  override name = 'ArgumentValidationError'
}

/** The detail for a required field that is absent. */
export function missingFieldDetail(field: string): string {
  return (
    `Object is missing the required field \`${field}\`. Consider wrapping the field ` +
    'validator in `v.optional(...)` if this is expected.'
  )
}

/** The detail for a field the validator does not know. */
export function extraFieldDetail(field: string): string {
  return `Object contains extra field \`${field}\` that is not in the validator.`
}

/** The detail for a value of the wrong type (including a union no member accepts). */
export const NO_MATCH_DETAIL = 'Value does not match validator.'

/**
 * Checks `value` against the object validator made of `fields`; throws
 * {@link ArgumentValidationError} on the first mismatch.
 *
 * `undefined` counts as `{}`, as Convex treats a call without arguments.
 */
export function checkArgs(fields: PropertyValidators, value: unknown): void {
  const detail = objectMismatch(fields, value === undefined ? {} : value)
  if (detail !== null) {
    throw new ArgumentValidationError(detail)
  }
}

/** The mismatch detail, or null when the value fits. */
function mismatch(validator: GenericValidator, value: unknown): string | null {
  switch (validator.kind) {
    case 'any':
      return null
    case 'null':
      return value === null ? null : NO_MATCH_DETAIL
    case 'float64':
      return typeof value === 'number' ? null : NO_MATCH_DETAIL
    case 'int64':
      return typeof value === 'bigint' ? null : NO_MATCH_DETAIL
    case 'boolean':
      return typeof value === 'boolean' ? null : NO_MATCH_DETAIL
    case 'string':
      return typeof value === 'string' ? null : NO_MATCH_DETAIL
    case 'bytes':
      return value instanceof ArrayBuffer ? null : NO_MATCH_DETAIL
    case 'id':
      // Whether the string names a document of the right table is left to the component's
      // own validator, which can resolve ids; here it only has to be a string.
      return typeof value === 'string' ? null : NO_MATCH_DETAIL
    case 'literal':
      return value === validator.value ? null : literalDetail(value, validator.value)
    case 'array':
      if (!Array.isArray(value)) {
        return NO_MATCH_DETAIL
      }
      for (const element of value) {
        const detail = mismatch(validator.element, element)
        if (detail !== null) {
          return detail
        }
      }
      return null
    case 'object':
      return objectMismatch(validator.fields, value)
    case 'record':
      return recordMismatch(validator.key, validator.value, value)
    case 'union':
      if (validator.members.length === 1) {
        return mismatch(validator.members[0]!, value)
      }
      return validator.members.some((member) => mismatch(member, value) === null)
        ? null
        : NO_MATCH_DETAIL
    case 'commitTs':
      return typeof value === 'bigint' ? null : NO_MATCH_DETAIL
  }
}

function objectMismatch(fields: PropertyValidators, value: unknown): string | null {
  if (!isPlainObject(value)) {
    return NO_MATCH_DETAIL
  }
  for (const name of Object.keys(fields).sort(compareNames)) {
    const fieldValidator = fields[name]!
    const fieldValue = value[name]
    if (fieldValue !== undefined) {
      const detail = mismatch(fieldValidator, fieldValue)
      if (detail !== null) {
        return detail
      }
    } else if (fieldValidator.isOptional !== 'optional') {
      return missingFieldDetail(name)
    }
  }
  for (const name of Object.keys(value).sort(compareNames)) {
    if (!Object.hasOwn(fields, name)) {
      return extraFieldDetail(name)
    }
  }
  return null
}

function recordMismatch(
  keyValidator: GenericValidator,
  valueValidator: GenericValidator,
  value: unknown,
): string | null {
  if (!isPlainObject(value)) {
    return NO_MATCH_DETAIL
  }
  for (const [key, fieldValue] of Object.entries(value)) {
    const detail = mismatch(keyValidator, key) ?? mismatch(valueValidator, fieldValue)
    if (detail !== null) {
      return detail
    }
  }
  return null
}

/** The backend's wording for a literal mismatch (values shown as JSON, as it does). */
function literalDetail(value: unknown, literal: unknown): string {
  return `\`${JSON.stringify(value)}\` does not match literal validator \`v.literal(${JSON.stringify(literal)})\`.`
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false
  }
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** Field names sort as the backend's `BTreeMap` keys do: by UTF-8 bytes (ASCII here). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
