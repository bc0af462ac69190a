// Shared fast-check settings for every property test: SHOAL_RUNS sets the number of runs (default
// small enough for CI) and SHOAL_SEED replays a failure. fast-check prints the seed and the
// shrunk counterexample of a failing property; `verbose` adds the failing steps.

const DEFAULT_RUNS = 200;

export interface PropertyParams {
  numRuns: number;
  seed?: number;
  verbose: boolean;
}

export class PropertyEnvError extends Error {
  override readonly name = 'PropertyEnvError';

  constructor(
    readonly variable: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`${variable}=${JSON.stringify(value)} is not ${expected}`);
  }
}

function readInt(variable: string, min: number): number | undefined {
  const raw = process.env[variable];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new PropertyEnvError(variable, raw, `an integer >= ${min}`);
  }
  return value;
}

export function propertyParams(): PropertyParams {
  const numRuns = readInt('SHOAL_RUNS', 1) ?? DEFAULT_RUNS;
  const seed = readInt('SHOAL_SEED', Number.MIN_SAFE_INTEGER);
  return seed === undefined ? { numRuns, verbose: true } : { numRuns, seed, verbose: true };
}
