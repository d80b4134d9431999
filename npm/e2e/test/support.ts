/**
 * The storage functions as a durable-execution app calls them: the official ConvexHttpClient,
 * `anyApi` function references, and the `{authSecret, args}` envelope.
 */
import { ConvexHttpClient } from 'convex/browser'
import { anyApi } from 'convex/server'
import { readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'

export type Doc = Record<string, unknown> & {
  _id: string
  executionId: string
  status: string
  createdAt: number
  executorId?: string
}

const fns = anyApi.taskExecutionsStorage

export class Storage {
  readonly client: ConvexHttpClient

  constructor(
    url: string,
    private readonly authSecret: string,
  ) {
    this.client = new ConvexHttpClient(url, { logger: false })
  }

  async insert(executionIds: string[]): Promise<void> {
    await this.client.mutation(fns.insertMany, {
      authSecret: this.authSecret,
      args: { executions: executionIds.map((id) => execution(id)) },
    })
  }

  /** Claims up to `limit` ready executions of shard 0 for `executorId`, as an executor does. */
  async claim(executorId: string, limit: number): Promise<Doc[]> {
    const startedAt = Date.now()
    return await this.client.action(fns.updateByStatusAndStartAtLessThanAndReturn, {
      authSecret: this.authSecret,
      args: {
        shard: 0,
        status: 'ready',
        startAtLessThan: startedAt + 60_000,
        update: { status: 'running', executorId, startedAt, updatedAt: 0 },
        updateExpiresAtWithStartedAt: startedAt,
        limit,
      },
    })
  }

  async get(executionIds: string[]): Promise<Array<Doc | null>> {
    return await this.client.query(fns.getManyById, {
      authSecret: this.authSecret,
      args: { requests: executionIds.map((executionId) => ({ executionId })) },
    })
  }
}

/** A minimal ready execution on shard 0. */
export function execution(executionId: string): Record<string, unknown> {
  return {
    shard: 0,
    taskId: 'task',
    executionId,
    isSleepingTask: false,
    retryOptions: { maxAttempts: 1 },
    sleepMsBeforeRun: 0,
    timeoutMs: 1_000,
    areChildrenSequential: false,
    input: 'input',
    status: 'ready',
    isFinished: false,
    retryAttempts: 0,
    startAt: 0,
    acc: 0,
    ocfpStatus: 'idle',
    closeStatus: 'idle',
    npc: false,
    createdAt: 0,
    updatedAt: 0,
  }
}

/** Whether process `pid` is gone (a zombie waiting for a reaper counts as gone: it runs nothing). */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true
    throw error
  }
  if (process.platform !== 'linux') return false
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return /^State:\s+Z/m.test(status)
  } catch {
    return true
  }
}

/** Polls until `pid` is gone; fails after `limitMs` (a hang guard, not a speed check). */
export async function waitGone(pid: number, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!isGone(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} is still running`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The first line `stream` prints (without its newline); fails if it ends first. */
export function firstLine(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      buffered += chunk
      const end = buffered.indexOf('\n')
      if (end >= 0) resolve(buffered.slice(0, end))
    })
    stream.once('end', () => reject(new Error(`the stream ended before a whole line: ${JSON.stringify(buffered)}`)))
  })
}
