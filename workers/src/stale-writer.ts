/**
 * A write refused because a later start of the same job has begun (this attempt lost its lock). A leaf module:
 * hand-offs throw it and the job runner recognises it, without importing each other.
 */
export class StaleWriterError extends Error {
  readonly code = 'STALE_WRITER';
  /** `what`: the object key refused, or `null` for the job's completion. */
  constructor(jobId: string, what: string | null) {
    super(
      `job ${jobId}: a newer attempt has started, so this attempt's ${what === null ? 'completion' : `output ${what}`} is refused`,
    );
    this.name = 'StaleWriterError';
  }
}
