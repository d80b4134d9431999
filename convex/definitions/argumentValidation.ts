/**
 * Strict checking of a public function's inner `args` against a Convex validator.
 *
 * Why not Convex's own `args` validators? The public functions take an envelope
 * `{authSecret, args}` whose secret must be checked before anything else, and whose extra
 * fields are ignored, so the public functions cannot declare validators. The inner `args`
 * are then checked here, with the Convex backend's rules and its exact wording:
 *
 * - an object's validator fields are visited in sorted name order, recursing into each
 *   present one before looking further, then its extra fields in sorted order; the first
 *   problem wins;
 * - messages are the backend's `ValidationError` texts, with their `Path:`, `Object:`/`Value:`
 *   and `Validator:` lines, values rendered as the backend renders them (Rust `Debug` floats
 *   such as `5.0`, quoted strings, `{a: 1.0}` objects with sorted keys);
 * - a value that is not an object fails as the backend fails a top-level call with such
 *   arguments: `Expected to receive an object as the function's argument. ...` (the public
 *   functions never get here with one: `functionArgs` refuses it first, as upstream's
 *   nested call does).
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

/**
 * What Convex's own `ctx.runQuery` / `ctx.runMutation` / `ctx.runAction` do with their
 * argument before anything is sent: `undefined` becomes `{}`, a plain object passes, and
 * anything else fails in the calling function, with the library's words. Its prototype test
 * throws a TypeError for null (`Cannot convert undefined or null to object`), and other
 * values print as a template literal prints them (`Received: 5`, `Received: 1,2` for an array).
 * Upstream's public functions hand the inner args to such a call, so ours check here first,
 * to fail the same way under convex-test and on a deployment.
 */
export function functionArgs(value: unknown): Record<string, unknown> {
  if (value === undefined) {
    return {}
  }
  const prototype: unknown = Object.getPrototypeOf(value)
  const plain =
    typeof value === 'object' &&
    (prototype === null ||
      prototype === Object.prototype ||
      (prototype as { constructor?: { name?: string } } | undefined)?.constructor?.name === 'Object')
  if (!plain) {
    throw new Error(`The arguments to a Convex function must be an object. Received: ${String(value)}`)
  }
  return value as Record<string, unknown>
}

/**
 * Checks `value` against the object validator made of `fields`; throws
 * {@link ArgumentValidationError} on the first mismatch. `undefined` counts as `{}`, as
 * Convex treats a call without arguments.
 */
export function checkArgs(fields: PropertyValidators, value: unknown): void {
  if (value === undefined) {
    value = {}
  }
  if (!isPlainObject(value)) {
    throw new ArgumentValidationError(
      `Expected to receive an object as the function's argument. Instead received: ${formatValue(value)}`,
    )
  }
  const detail = objectMismatch(fields, value, '')
  if (detail !== null) {
    throw new ArgumentValidationError(detail)
  }
}

/** The mismatch text, or null when the value fits. `path` is the backend's context path. */
function mismatch(validator: GenericValidator, value: unknown, path: string): string | null {
  const noMatch = () => noMatchDetail(value, validator, path)
  switch (validator.kind) {
    case 'any':
      return null
    case 'null':
      return value === null ? null : noMatch()
    case 'float64':
      return typeof value === 'number' ? null : noMatch()
    case 'int64':
    case 'commitTs':
      return typeof value === 'bigint' ? null : noMatch()
    case 'boolean':
      return typeof value === 'boolean' ? null : noMatch()
    case 'string':
      return typeof value === 'string' ? null : noMatch()
    case 'bytes':
      return value instanceof ArrayBuffer ? null : noMatch()
    case 'id':
      return typeof value === 'string' ? idMismatch(value, validator.tableName, path) : noMatch()
    case 'literal':
      return value === validator.value
        ? null
        : `\`${formatValue(value)}\` does not match literal validator \`v.literal(${formatLiteral(validator.value)})\`.${pathLine(path)}`
    case 'array':
      if (!Array.isArray(value)) {
        return noMatch()
      }
      for (const [i, element] of value.entries()) {
        const detail = mismatch(validator.element, element, `${path}[${i}]`)
        if (detail !== null) {
          return detail
        }
      }
      return null
    case 'object':
      return isPlainObject(value) ? objectMismatch(validator.fields, value, path) : noMatch()
    case 'record':
      if (!isPlainObject(value)) {
        return noMatch()
      }
      for (const [key, fieldValue] of Object.entries(value)) {
        const detail =
          mismatch(validator.key, key, `${path}.keys()`) ??
          mismatch(validator.value, fieldValue, `${path}.values()`)
        if (detail !== null) {
          return detail
        }
      }
      return null
    case 'union':
      if (validator.members.length === 1) {
        return mismatch(validator.members[0]!, value, path)
      }
      return validator.members.some((member) => mismatch(member, value, path) === null)
        ? null
        : noMatch()
  }
}

function objectMismatch(
  fields: PropertyValidators,
  value: Record<string, unknown>,
  path: string,
): string | null {
  const names = Object.keys(fields).sort(compareNames)
  for (const name of names) {
    const fieldValidator = fields[name]!
    const fieldValue = value[name]
    if (fieldValue !== undefined) {
      const detail = mismatch(fieldValidator, fieldValue, `${path}.${name}`)
      if (detail !== null) {
        return detail
      }
    } else if (fieldValidator.isOptional !== 'optional') {
      return (
        `Object is missing the required field \`${name}\`. Consider wrapping the field ` +
        `validator in \`v.optional(...)\` if this is expected.\n${pathLine(path)}\n` +
        `Object: ${formatValue(value)}\nValidator: ${formatObjectValidator(fields)}`
      )
    }
  }
  for (const name of Object.keys(value).sort(compareNames)) {
    if (!Object.hasOwn(fields, name)) {
      return (
        `Object contains extra field \`${name}\` that is not in the validator.\n${pathLine(path)}\n` +
        `Object: ${formatValue(value)}\nValidator: ${formatObjectValidator(fields)}`
      )
    }
  }
  return null
}

/**
 * Tells which table an id string belongs to (null: not an id at all). A deployment's public
 * functions cannot resolve ids (they hold no table mapping), so by default an id only has to
 * be a string and the component's own `v.id` validator has the last word; the reference
 * server installs a resolver for convex-test's id format.
 */
export type IdTableResolver = (id: string) => string | null

let idTableResolver: IdTableResolver | null = null

/** Installs (or, with null, removes) the id resolver used for `v.id` fields. */
export function setIdTableResolver(resolver: IdTableResolver | null): void {
  idTableResolver = resolver
}

function idMismatch(id: string, table: string, path: string): string | null {
  if (idTableResolver === null) {
    return null
  }
  const found = idTableResolver(id)
  if (found === null) {
    return noMatchDetail(id, { kind: 'id', tableName: table } as GenericValidator, path)
  }
  if (found !== table) {
    return `Found ID ${JSON.stringify(id)} from table \`${found}\`, which does not match the table name in validator \`v.id(${JSON.stringify(table)})\`.${pathLine(path)}`
  }
  return null
}

function noMatchDetail(value: unknown, validator: GenericValidator, path: string): string {
  return `Value does not match validator.\n${pathLine(path)}\nValue: ${formatValue(value)}\nValidator: ${formatValidator(validator)}`
}

/** `Path: .a[0].b`, or nothing at the top level. */
function pathLine(path: string): string {
  return path === '' ? '' : `Path: ${path}`
}

// ---------------------------------------------------------------------------------------
// Rendering, as the backend's `Display` impls do

/** A validator as Convex prints it: `v.float64()`, `v.object({a: v.optional(v.string())})`. */
export function formatValidator(validator: GenericValidator): string {
  switch (validator.kind) {
    case 'float64':
    case 'int64':
    case 'boolean':
    case 'string':
    case 'bytes':
    case 'null':
    case 'any':
      return `v.${validator.kind}()`
    case 'commitTs':
      return 'v.commitTs()'
    case 'id':
      return `v.id(${JSON.stringify(validator.tableName)})`
    case 'literal':
      return `v.literal(${formatLiteral(validator.value)})`
    case 'array':
      return `v.array(${formatValidator(validator.element)})`
    case 'object':
      return formatObjectValidator(validator.fields)
    case 'record':
      return `v.record(${formatValidator(validator.key)}, ${formatValidator(validator.value)})`
    case 'union':
      return `v.union(${validator.members.map(formatValidator).join(', ')})`
  }
}

function formatObjectValidator(fields: PropertyValidators): string {
  const parts = Object.keys(fields)
    .sort(compareNames)
    .map((name) => {
      const field = fields[name]!
      const inner = formatValidator(field)
      return `${name}: ${field.isOptional === 'optional' ? `v.optional(${inner})` : inner}`
    })
  return `v.object({${parts.join(', ')}})`
}

/** A literal validator's value: JSON for strings, booleans and finite numbers. */
function formatLiteral(value: unknown): string {
  if (typeof value === 'bigint') {
    return '<bigint>'
  }
  if (typeof value === 'number') {
    // serde_json's float text; the same as Rust `Debug` for ordinary magnitudes.
    return Number.isFinite(value) ? rustDebugFloat(value) : '<number>'
  }
  return JSON.stringify(value)
}

/** A value as Convex prints it: `null`, `5.0`, `"text"`, `[1.0, true]`, `{a: 1.0}`. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return 'null'
  }
  switch (typeof value) {
    case 'bigint':
      return value.toString()
    case 'number':
      return rustDebugFloat(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'string':
      return rustDebugString(value)
  }
  if (value instanceof ArrayBuffer) {
    return `b"${[...new Uint8Array(value)].map((b) => b.toString(16).padStart(2, '0')).join('')}"`
  }
  if (Array.isArray(value)) {
    return `[${value.map(formatValue).join(', ')}]`
  }
  const record = value as Record<string, unknown>
  const parts = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort(compareNames)
    .map((key) => `${key}: ${formatValue(record[key])}`)
  return `{${parts.join(', ')}}`
}

/**
 * Rust's `{:?}` of an f64: the shortest round-trip digits, as a decimal with at least one
 * fractional digit (`5.0`, `0.25`), or in exponent form (`1e16`, `1.5e-7`) when the magnitude
 * is at least 1e16 or below 1e-4.
 */
export function rustDebugFloat(x: number): string {
  if (Number.isNaN(x)) {
    return 'NaN'
  }
  if (!Number.isFinite(x)) {
    return x > 0 ? 'inf' : '-inf'
  }
  if (x === 0) {
    return Object.is(x, -0) ? '-0.0' : '0.0'
  }
  const sign = x < 0 ? '-' : ''
  const abs = Math.abs(x)
  const [mantissa, exponentText] = abs.toExponential().split('e') as [string, string]
  const exponent = Number(exponentText)
  const digits = mantissa.replace('.', '')
  if (abs >= 1e16 || abs < 1e-4) {
    const shortMantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${sign}${shortMantissa}e${exponent}`
  }
  if (exponent < 0) {
    return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`
  }
  const integerDigits = exponent + 1
  if (digits.length <= integerDigits) {
    return `${sign}${digits}${'0'.repeat(integerDigits - digits.length)}.0`
  }
  return `${sign}${digits.slice(0, integerDigits)}.${digits.slice(integerDigits)}`
}

/** Rust's `{:?}` of a string: double-quoted, with `\"`, `\\`, `\n`, `\r`, `\t`, `\0`, `\u{..}`. */
export function rustDebugString(text: string): string {
  let out = '"'
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (char === '"' || char === '\\') {
      out += `\\${char}`
    } else if (char === '\n') {
      out += '\\n'
    } else if (char === '\r') {
      out += '\\r'
    } else if (char === '\t') {
      out += '\\t'
    } else if (code === 0) {
      out += '\\0'
    } else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) {
      out += `\\u{${code.toString(16)}}`
    } else {
      out += char
    }
  }
  return `${out}"`
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
