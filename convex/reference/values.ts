/**
 * Convex values on the wire (PROTOCOL.md section 2): arguments are always decoded as
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
