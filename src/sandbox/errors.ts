/**
 * Thrown when no job with the given name is declared (CLI, HTTP service, `enqueueByName`).
 */
export class UnknownJobError extends Error {
  override readonly name = 'UnknownJobError';
  constructor(
    readonly job: string,
    readonly known: readonly string[],
  ) {
    super(`Unknown job "${job}". Known jobs: ${known.join(', ')}`);
  }
}

/**
 * Thrown when the Temporal server cannot be reached: within the connect timeout, or during an enqueue after the
 * connection was made (`outcome` then says whether the job may have started).
 */
export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';
  constructor(
    readonly address: string,
    cause: unknown,
    readonly outcome = 'nothing was enqueued',
  ) {
    super(
      `Cannot reach the Temporal server at ${address} ` +
        `(${cause instanceof Error ? cause.message : String(cause)}); ${outcome}. ` +
        'Is it running? Start one with `jobctl server`, or set TEMPORAL_ADDRESS.',
      { cause },
    );
  }
}

/** Thrown by `status` when no workflow has the given ID. */
export class JobNotFoundError extends Error {
  override readonly name = 'JobNotFoundError';
  constructor(readonly workflowId: string) {
    super(`No job run with workflow ID "${workflowId}"`);
  }
}

/**
 * A bad option of an enqueue (`delay`, `runAt`, `expiresAfter`, `fairnessKey`, …); `field` is the option's name, which
 * is also its HTTP query parameter's. Thrown before any RPC; the HTTP service answers 400 naming the parameter.
 */
export class InvalidEnqueueOptionError extends TypeError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field} ${message}`);
    this.name = 'InvalidEnqueueOptionError';
  }
}
