// Errors raised by the storage layer. A failed apply() has rolled its whole batch back, so the
// caller may retry the same batch or restart the shard from what loadAll() returns.

export interface StorageErrorContext {
  /** Database file, or null for the memory implementations. */
  file: string | null;
  /** What failed: an op kind ('putMessage', 'put', ...) or a lifecycle step ('open', 'migrate', 'commit', 'close', 'loadAll'). */
  operation: string;
  cause?: unknown;
}

export class StorageError extends Error {
  readonly file: string | null;
  readonly operation: string;
  override readonly cause: unknown;

  constructor(message: string, context: StorageErrorContext) {
    const where = context.file === null ? 'memory store' : context.file;
    const why = context.cause instanceof Error ? `: ${context.cause.message}` : '';
    super(`${where}: ${context.operation}: ${message}${why}`, { cause: context.cause });
    this.name = 'StorageError';
    this.file = context.file;
    this.operation = context.operation;
    this.cause = context.cause;
  }
}
