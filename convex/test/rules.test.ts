/**
 * Unit tests of the pure rules: the write clamps, update-to-patch, and the argument checker.
 * No server is involved; these pin the rules the official-client suite relies on.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { v } from 'convex/values'

import { clampInsert, clampUpdate, patchFromUpdate } from '../component/writes'
import { insertManyArgs } from '../shared/args'
import { ArgumentValidationError, checkArgs } from '../shared/argumentValidation'
import type { ExecutionInsert } from '../shared/validators'
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

describe('patchFromUpdate', () => {
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
    assert.equal(detail(insertManyArgs, { executions: [execution('a')] }), null)
    assert.equal(detail({}, undefined), null)
    assert.equal(detail({ x: v.optional(v.string()) }, undefined), null)
  })

  it('words missing, extra and mismatched fields as Convex does', () => {
    assert.match(detail({ a: v.string() }, {})!, /^Object is missing the required field `a`\. Consider wrapping/)
    assert.equal(detail({}, { b: 1 }), 'Object contains extra field `b` that is not in the validator.')
    assert.equal(detail({ a: v.string() }, { a: 1 }), 'Value does not match validator.')
    assert.equal(detail({ a: v.union(v.literal('x'), v.literal('y')) }, { a: 'z' }), 'Value does not match validator.')
    assert.equal(detail({ a: v.array(v.number()) }, { a: [1, 'two'] }), 'Value does not match validator.')
    assert.equal(detail({}, 'not an object'), 'Value does not match validator.')
    assert.equal(detail({}, [1]), 'Value does not match validator.')
  })

  it('checks validator fields in sorted order before extra fields', () => {
    assert.match(detail({ b: v.string(), a: v.string() }, { z: 1 })!, /required field `a`/)
    assert.equal(detail({ a: v.string(), b: v.string() }, { a: 1, z: 1 }), 'Value does not match validator.')
    assert.match(detail({ a: v.string() }, { a: 'ok', y: 1, x: 1 })!, /extra field `x`/)
  })
})
