/**
 * Unit tests of the pure rules: the write clamps, update-to-patch, and the argument checker.
 * No server is involved; these pin the rules the official-client suite relies on.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { v } from 'convex/values'

import { clampInsert, clampUpdate, clampUpdateInPlace, patchFromUpdate } from '../component/writes'
import { BadFunctionPath, parseFunctionPath, strippedPath } from '../reference/functionPath'
import { serdeJsonNumber, stringifyJson } from '../reference/values'
import { OPERATIONS } from '../definitions/operations'
import {
  ArgumentValidationError,
  checkArgs,
  formatValue,
  rustDebugFloat,
  rustDebugString,
  setIdTableResolver,
} from '../definitions/argumentValidation'
import type { ExecutionInsert, Update } from '../definitions/validators'
import { execution } from './fixtures'

const NOW = 1_000_000

describe('clampInsert', () => {
  const value = execution('a') as ExecutionInsert

  it('overwrites createdAt and updatedAt and raises a past startAt, even 0', () => {
    const clamped = clampInsert({ ...value, startAt: 0, createdAt: 5, updatedAt: 5 }, NOW)
    assert.equal(clamped.createdAt, NOW)
    assert.equal(clamped.updatedAt, NOW)
    assert.equal(clamped.startAt, NOW)
    assert.equal(clampInsert({ ...value, startAt: NOW + 1 }, NOW).startAt, NOW + 1)
  })

  it('pushes past expiries to now + 1000 but leaves 0 and absent ones', () => {
    const clamped = clampInsert({ ...value, expiresAt: NOW - 1, ocfpExpiresAt: 0, closeExpiresAt: -5 }, NOW)
    assert.equal(clamped.expiresAt, NOW + 1000)
    assert.equal(clamped.ocfpExpiresAt, 0)
    assert.equal(clamped.closeExpiresAt, NOW + 1000)
    assert.equal(clampInsert(value, NOW).expiresAt, undefined)
  })
})

describe('clampUpdate', () => {
  it('raises updatedAt and past instants to now, past expiries to now + 1000, and keeps 0', () => {
    const clamped = clampUpdate(
      { updatedAt: 1, startAt: 2, startedAt: 0, finishedAt: NOW + 5, closedAt: 3, expiresAt: 4, closeExpiresAt: 0 },
      NOW,
    )
    assert.equal(clamped.updatedAt, NOW)
    assert.equal(clamped.startAt, NOW)
    assert.equal(clamped.startedAt, 0)
    assert.equal(clamped.finishedAt, NOW + 5)
    assert.equal(clamped.closedAt, NOW)
    assert.equal(clamped.expiresAt, NOW + 1000)
    assert.equal(clamped.closeExpiresAt, 0)
  })
})

describe('clampUpdateInPlace', () => {
  it('clamps the request it is given, so a second write of it sees the clamped values', () => {
    const update: Update = { updatedAt: 0, startedAt: 1, ocfpExpiresAt: 2, finishedAt: NaN }
    clampUpdateInPlace(update, NOW)
    assert.deepEqual(update, { updatedAt: NOW, startedAt: NOW, ocfpExpiresAt: NOW + 1000, finishedAt: NaN })
    clampUpdateInPlace(update, NOW)
    assert.equal(update.ocfpExpiresAt, NOW + 1000, 'idempotent for one clock')
  })

  it('throws the TypeError of the first read for a null update, as upstream', () => {
    assert.throws(() => clampUpdateInPlace(null as unknown as Update, NOW), {
      name: 'TypeError',
      message: "Cannot read properties of null (reading 'updatedAt')",
    })
  })
})

describe('patchFromUpdate', () => {
  it('counts truthy unset flags, as upstream', () => {
    const patch = patchFromUpdate({ updatedAt: 7, unset: { expiresAt: 1 as unknown as boolean, startedAt: 0 as unknown as boolean } })
    assert.deepEqual(Object.keys(patch).sort(), ['expiresAt', 'updatedAt'])
    assert.equal(patch.expiresAt, undefined)
  })

  it('sets given fields and removes unset ones, unset winning', () => {
    const patch = patchFromUpdate({
      updatedAt: 7,
      status: 'running',
      runOutput: 'x',
      unset: { runOutput: true, executorId: true, error: false },
    })
    assert.deepEqual(Object.keys(patch).sort(), ['executorId', 'runOutput', 'status', 'updatedAt'])
    assert.equal(patch.runOutput, undefined)
    assert.equal(patch.executorId, undefined)
    assert.equal(patch.status, 'running')
    assert.equal('error' in patch, false)
  })
})

describe('checkArgs', () => {
  const detail = (fields: Parameters<typeof checkArgs>[0], value: unknown): string | null => {
    try {
      checkArgs(fields, value)
      return null
    } catch (error) {
      assert.ok(error instanceof ArgumentValidationError)
      return error.message
    }
  }

  it('accepts a valid value and treats undefined as {}', () => {
    assert.equal(detail(OPERATIONS.insertMany.args, { executions: [execution('a')] }), null)
    assert.equal(detail({}, undefined), null)
    assert.equal(detail({ x: v.optional(v.string()) }, undefined), null)
  })

  it('words missing, extra and mismatched fields as Convex does', () => {
    assert.equal(
      detail({ a: v.string() }, {}),
      'Object is missing the required field `a`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {}\nValidator: v.object({a: v.string()})',
    )
    assert.equal(
      detail({}, { b: 1 }),
      'Object contains extra field `b` that is not in the validator.\n\nObject: {b: 1.0}\nValidator: v.object({})',
    )
    assert.equal(detail({ a: v.string() }, { a: 1 }), 'Value does not match validator.\nPath: .a\nValue: 1.0\nValidator: v.string()')
    assert.equal(
      detail({ a: v.union(v.literal('x'), v.literal('y')) }, { a: 'z' }),
      'Value does not match validator.\nPath: .a\nValue: "z"\nValidator: v.union(v.literal("x"), v.literal("y"))',
    )
    assert.equal(
      detail({ a: v.literal('x') }, { a: 'z' }),
      '`"z"` does not match literal validator `v.literal("x")`.Path: .a',
    )
    assert.equal(
      detail({ a: v.array(v.number()) }, { a: [1, 'two'] }),
      'Value does not match validator.\nPath: .a[1]\nValue: "two"\nValidator: v.float64()',
    )
    assert.equal(detail({}, 'text'), 'Expected to receive an object as the function\'s argument. Instead received: "text"')
    assert.equal(detail({}, [1]), "Expected to receive an object as the function's argument. Instead received: [1.0]")
  })

  it('checks validator fields in sorted order before extra fields', () => {
    assert.match(detail({ b: v.string(), a: v.string() }, { z: 1 })!, /required field `a`/)
    assert.match(detail({ a: v.string(), b: v.string() }, { a: 1, z: 1 })!, /^Value does not match validator\.\nPath: \.a\n/)
    assert.match(detail({ a: v.string() }, { a: 'ok', y: 1, x: 1 })!, /extra field `x`/)
  })

  it('resolves ids only when a resolver is installed', () => {
    const fields = { id: v.id('taskExecutions') }
    assert.equal(detail(fields, { id: 'anything' }), null)
    setIdTableResolver((id) => (id.startsWith('t:') ? 'taskExecutions' : id.startsWith('l:') ? 'locks' : null))
    try {
      assert.equal(detail(fields, { id: 't:1' }), null)
      assert.equal(
        detail(fields, { id: 'l:1' }),
        'Found ID "l:1" from table `locks`, which does not match the table name in validator `v.id("taskExecutions")`.Path: .id',
      )
      assert.equal(detail(fields, { id: 'x' }), 'Value does not match validator.\nPath: .id\nValue: "x"\nValidator: v.id("taskExecutions")')
    } finally {
      setIdTableResolver(null)
    }
  })
})

describe('value rendering', () => {
  it('prints floats as Rust Debug does', () => {
    const cases: Array<[number, string]> = [
      [0, '0.0'],
      [-0, '-0.0'],
      [5, '5.0'],
      [-2.5, '-2.5'],
      [0.1, '0.1'],
      [0.0001, '0.0001'],
      [0.00001, '1e-5'],
      [1.5e-7, '1.5e-7'],
      [123456789.125, '123456789.125'],
      [1795726517728, '1795726517728.0'],
      [9999999999999998, '9999999999999998.0'],
      [1e16, '1e16'],
      [1.25e21, '1.25e21'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'inf'],
      [Number.NEGATIVE_INFINITY, '-inf'],
    ]
    for (const [value, text] of cases) {
      assert.equal(rustDebugFloat(value), text, String(value))
    }
  })

  it('prints strings, arrays and objects as the backend does', () => {
    assert.equal(rustDebugString('a"b\\c\nd\u0001é'), '"a\\"b\\\\c\\nd\\u{1}é"')
    assert.equal(formatValue({ b: [null, true], a: 'x', c: undefined }), '{a: "x", b: [null, true]}')
  })
})

describe('reference server wire text', () => {
  it('writes numbers as serde_json does', () => {
    // Each pair was checked against serde_json::to_string on an f64.
    const cases: Array<[number, string]> = [
      [0, '0.0'],
      [-0, '-0.0'],
      [5, '5.0'],
      [-2.5, '-2.5'],
      [0.1, '0.1'],
      [0.0001, '0.0001'],
      [0.00001, '0.00001'],
      [0.000015, '0.000015'],
      [0.000001, '1e-6'],
      [1.5e-7, '1.5e-7'],
      [123456789.125, '123456789.125'],
      [1795726517728, '1795726517728.0'],
      [1795726517728.5, '1795726517728.5'],
      [9999999999999998, '9999999999999998.0'],
      [1e15, '1000000000000000.0'],
      [1e16, '1e+16'],
      [12345678901234567, '1.2345678901234568e+16'],
      [1.25e21, '1.25e+21'],
      [1e300, '1e+300'],
      [2 / 3, '0.6666666666666666'],
      [100, '100.0'],
    ]
    for (const [value, text] of cases) {
      assert.equal(serdeJsonNumber(value), text, String(value))
    }
    assert.equal(stringifyJson({ b: [1, null], a: 'x', _c: true }), '{"_c":true,"a":"x","b":[1.0,null]}')
  })

  it('parses function paths with the backend rules', () => {
    assert.deepEqual(parseFunctionPath('taskExecutionsStorage:insertMany'), { module: 'taskExecutionsStorage', name: 'insertMany' })
    assert.deepEqual(parseFunctionPath('taskExecutionsStorage.js:insertMany'), { module: 'taskExecutionsStorage', name: 'insertMany' })
    assert.deepEqual(parseFunctionPath('dir/./mod:f'), { module: 'dir/mod', name: 'f' })
    assert.deepEqual(parseFunctionPath('mod'), { module: 'mod', name: 'default' })
    const reason = (path: string) => {
      try {
        parseFunctionPath(path)
        return null
      } catch (error) {
        assert.ok(error instanceof BadFunctionPath)
        return error.message.replace(`${path} is not a valid path to a Convex function. `, '')
      }
    }
    assert.equal(reason('m.ts:ok'), "Module path (m.ts) has an extension that isn't 'js'.")
    assert.equal(reason('/m:ok'), 'Module paths must be relative (/m is absolute).')
    assert.equal(reason('a/../m:ok'), 'Invalid path component ParentDir in a/../m.')
    assert.equal(reason('./m:ok'), 'Invalid path component CurDir in ./m.')
    assert.equal(reason(':ok'), "Module path  doesn't have a filename.")
    assert.equal(reason('m:o-k'), "Identifier o-k has invalid character '-': Identifiers can only contain alphanumeric characters or underscores")
    assert.equal(reason('m:1x'), "Invalid first character '1' in 1x: Identifiers must start with an alphabetic character or underscore")
    assert.equal(reason('m:__'), 'Identifier __ cannot have exclusively underscores')
    assert.equal(reason('m/ok:'), 'Identifier cannot be empty')
    assert.equal(reason('a b:ok'), 'Path component a b.js can only contain alphanumeric characters, underscores, or periods.')
    assert.equal(strippedPath(parseFunctionPath('mod')), 'mod')
  })
})
