/**
 * Convex values on the wire (docs/PROTOCOL.md section 2): arguments are always decoded as
 * convex-encoded JSON; results are written in the requested output `format`.
 */
import { Base64, convexToJson, jsonToConvex, type JSONValue, type Value } from 'convex/values'

/** The output formats the backend accepts, by name (aliases included). */
const ENCODED_FORMATS = new Set(['convex_encoded_json', 'convex_json'])
const CLEAN_FORMATS = new Set(['json', 'convex_clean_json'])

export type OutputFormat = 'encoded' | 'clean'

/** The output format named by a request's `format` field, or null for an unknown name. */
export function outputFormat(format: unknown): OutputFormat | null {
  if (format === undefined || format === null) {
    // Every client new enough to matter gets clean JSON when it names no format.
    return 'clean'
  }
  if (typeof format !== 'string') {
    return null
  }
  if (ENCODED_FORMATS.has(format)) {
    return 'encoded'
  }
  return CLEAN_FORMATS.has(format) ? 'clean' : null
}

/** Decodes convex-encoded JSON arguments; throws with the decoder's reason when invalid. */
export function decodeArgs(json: JSONValue): Value {
  return jsonToConvex(json)
}

/** Encodes a function's result in `format`. */
export function encodeValue(value: Value, format: OutputFormat): JSONValue {
  return format === 'encoded' ? convexToJson(value) : cleanJson(value)
}

/**
 * The "clean" export: int64 as a decimal string, bytes as base64, non-finite floats as
 * strings, everything else as plain JSON.
 */
function cleanJson(value: Value): JSONValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return value
  }
  if (typeof value === 'bigint') {
    return value.toString()
  }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) {
      return 'NaN'
    }
    if (!Number.isFinite(value)) {
      return value > 0 ? 'Infinity' : '-Infinity'
    }
    return value
  }
  if (value instanceof ArrayBuffer) {
    return Base64.fromByteArray(new Uint8Array(value))
  }
  if (Array.isArray(value)) {
    return value.map(cleanJson)
  }
  const out: Record<string, JSONValue> = {}
  for (const key of Object.keys(value).sort()) {
    const field = (value as Record<string, Value | undefined>)[key]
    if (field !== undefined) {
      out[key] = cleanJson(field)
    }
  }
  return out
}

/**
 * A response envelope (`{status, value}`, `{code, message}`): its own keys in the order
 * given, as the backend's serde structs write them; values inside as {@link stringifyJson}.
 */
export function stringifyEnvelope(fields: Record<string, JSONValue>): string {
  const parts = Object.entries(fields).map(([key, value]) => `${JSON.stringify(key)}:${stringifyJson(value)}`)
  return `{${parts.join(',')}}`
}

/**
 * JSON text as the backend writes it (serde_json): object keys in byte order, and every
 * number as an f64, so an integral one keeps its `.0` (`5.0`, `1795726517728.0`) and large
 * or tiny ones use an exponent (`1e+16`, `1e-6`). Clients parse either form alike; the
 * difference matters only to byte-for-byte comparisons.
 */
export function stringifyJson(value: JSONValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value)
  }
  if (typeof value === 'number') {
    return serdeJsonNumber(value)
  }
  if (Array.isArray(value)) {
    return `[${value.map(stringifyJson).join(',')}]`
  }
  const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const fields = keys
    .filter((key) => value[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${stringifyJson(value[key]!)}`)
  return `{${fields.join(',')}}`
}

/** serde_json's text of a finite f64 (ryu's shortest digits); non-finite ones become null. */
export function serdeJsonNumber(x: number): string {
  if (!Number.isFinite(x)) {
    return 'null'
  }
  if (x === 0) {
    return Object.is(x, -0) ? '-0.0' : '0.0'
  }
  const sign = x < 0 ? '-' : ''
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e') as [string, string]
  const digits = mantissa.replace('.', '')
  // The value is 0.<digits> * 10^point.
  const point = Number(exponentText) + 1
  const length = digits.length
  let text: string
  if (length <= point && point <= 16) {
    text = `${digits}${'0'.repeat(point - length)}.0`
  } else if (0 < point && point <= 16) {
    text = `${digits.slice(0, point)}.${digits.slice(point)}`
  } else if (-5 < point && point <= 0) {
    text = `0.${'0'.repeat(-point)}${digits}`
  } else {
    const exponent = point - 1
    const shortMantissa = length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`
    text = `${shortMantissa}e${exponent < 0 ? '-' : '+'}${Math.abs(exponent)}`
  }
  return `${sign}${text}`
}
