// Configuration errors. The CLI prints `message` alone (no stack) and exits 2, so the message has
// to say everything an operator needs: which setting, where it came from, what was wrong.

export type ConfigErrorCode =
  | 'CONFIG_INVALID_VALUE'
  | 'CONFIG_UNKNOWN_KEY'
  | 'CONFIG_UNKNOWN_FLAG'
  | 'CONFIG_MISSING_VALUE'
  | 'CONFIG_FILE_UNREADABLE'
  | 'CONFIG_FILE_INVALID'
  | 'CONFIG_CLUSTER_SECRET_REQUIRED'
  | 'CONFIG_HTTP_TOKEN_REQUIRED';

export interface ConfigErrorDetails {
  code: ConfigErrorCode;
  /** camelCase config key, when the error is about one. */
  field?: string;
  /** Where the value came from: `flag --shards`, `env SHOAL_SHARDS`, `config file ./x.json`. */
  source: string;
  value?: unknown;
  /** Human description of what would have been accepted, e.g. `integer 1..64`. */
  allowed?: string;
  cause?: unknown;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  readonly field: string | undefined;
  readonly source: string;
  readonly value: unknown;
  readonly allowed: string | undefined;

  constructor(message: string, details: ConfigErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.field = details.field;
    this.source = details.source;
    this.value = details.value;
    this.allowed = details.allowed;
  }
}

/** Renders a rejected value for an error message; strings are quoted so empty ones are visible. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
