/**
 * Runs async jobs one at a time, in arrival order.
 *
 * A Convex deployment is serializable, and `convex-test` is not safe when two functions'
 * steps interleave (its transactions share one in-memory store and one clock, and an action's
 * mutations may interleave with another action's). The reference server therefore runs
 * every function call to completion before starting the next; a consequence is that a
 * selector lock is never seen busy here unless a previous holder crashed.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()

  /** Runs `job` after every job queued before it has settled; resolves with its result. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job)
    this.tail = result.catch(() => undefined)
    return result
  }
}
