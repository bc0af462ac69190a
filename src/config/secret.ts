// A configured secret (--cluster-secret). It must never reach a log line or an error message:
// JSON (so pino and config.effective), String() and util.inspect all show "[redacted]"; the one
// place that needs the value calls reveal().
import { inspect } from 'node:util';

export const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    Object.freeze(this);
  }

  reveal(): string {
    return this.#value;
  }

  /** Compares values without revealing them (deepEqual cannot see the private field). */
  equals(other: Secret | null | undefined): boolean {
    return other instanceof Secret && other.#value === this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
