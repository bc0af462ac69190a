// A budget of log lines per event name and second, for the events a client can cause at will: a
// client that sends 40,000 SUBSCRIBEs past --max-subscriptions must not write 40,000 log lines
// (pino's JSON and the stdout writes were the largest cost of a refused subscription). Past the
// budget lines are counted, not written; the next line written says how many were left out.
// Keyed by event name only, a fixed set, so the map never grows with clients.

/** Lines per event name per window: enough to see who is doing what. */
export const LOG_LINES_PER_WINDOW = 20;
export const LOG_WINDOW_MS = 1000;

interface Spent {
  windowStart: number;
  lines: number;
  /** Lines left out since the last one written. */
  suppressed: number;
}

export class LogBudget {
  private readonly spent = new Map<string, Spent>();

  constructor(
    private readonly linesPerWindow = LOG_LINES_PER_WINDOW,
    private readonly windowMs = LOG_WINDOW_MS,
  ) {}

  /**
   * Whether a line of `name` may be written at `now` (epoch ms): null if not (it is counted),
   * else the number of lines of that name left out before it.
   */
  take(name: string, now: number): number | null {
    let s = this.spent.get(name);
    if (s === undefined) this.spent.set(name, (s = { windowStart: now, lines: 0, suppressed: 0 }));
    if (now - s.windowStart >= this.windowMs) {
      s.windowStart = now;
      s.lines = 0;
    }
    if (s.lines >= this.linesPerWindow) {
      s.suppressed++;
      return null;
    }
    s.lines++;
    const left = s.suppressed;
    s.suppressed = 0;
    return left;
  }
}
