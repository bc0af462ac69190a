// Errors of the HTTP layer. An HttpError becomes a JSON answer `{ "error": { "code", "message" } }`
// with its status; anything else thrown by a handler is a 500 with its message logged.

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    /** Stable, machine-readable: `bad_request`, `unauthorized`, `client_not_found`, ... */
    readonly code: string,
    message: string,
    /** Extra headers, e.g. Allow on a 405, WWW-Authenticate on a 401. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The HTTP listener could not bind. */
export class HttpListenError extends Error {
  override readonly name = 'HttpListenError';
  constructor(
    readonly address: string,
    readonly code: string | undefined,
    cause: unknown,
  ) {
    const hint = code === 'EADDRINUSE' ? 'another process uses that port: pick another with --http host:port, or --http off' : 'check the --http address';
    super(`cannot listen for HTTP on ${address}: ${code ?? String(cause)}; ${hint}`, { cause });
  }
}
