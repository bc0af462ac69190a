// When to re-sync with an address that is not a live member (a seed never reached, a member
// declared down): swim never probes a faulty member again, so this is how the two sides of a
// healed partition find each other. Pure: the caller passes the time.

export interface RejoinTimings {
  /** The first wait, and the doubling's base. */
  readonly seedRetryMs: number;
  /** The cap: the longest wait between two re-syncs with one address. */
  readonly rejoinIntervalMs: number;
}

/**
 * Wait before the next re-sync with an address, after `attempts` of them: seedRetryMs, doubling,
 * capped at rejoinIntervalMs. The first attempts come soon (a node declared down by a short stall
 * answers at once); the cap bounds how long after a partition heals the two sides find each other
 * (plus one join round), at one sealed datagram per address per period.
 */
export function rejoinDelayMs(t: RejoinTimings, attempts: number): number {
  const doubled = t.seedRetryMs * 2 ** Math.min(Math.max(0, attempts - 1), 30);
  return Math.max(t.seedRetryMs, Math.min(doubled, t.rejoinIntervalMs));
}

/** An attempt worth a log line (attempts 1, 2, 4, 8, ...). */
export interface RejoinMilestone {
  readonly host: string;
  readonly attempt: number;
  readonly nextInMs: number;
}

export class RejoinSchedule {
  /** Per address: re-syncs made and when the next one is due. */
  private readonly backoff = new Map<string, { attempts: number; nextAt: number }>();

  constructor(private readonly timings: RejoinTimings) {}

  /**
   * The `candidates` (addresses not live now) whose next re-sync is due at `now`, each then
   * rescheduled; an address no longer a candidate starts over if it becomes one again.
   */
  due(candidates: ReadonlySet<string>, now: number): { hosts: string[]; milestones: RejoinMilestone[] } {
    for (const host of this.backoff.keys()) if (!candidates.has(host)) this.backoff.delete(host);
    const hosts: string[] = [];
    const milestones: RejoinMilestone[] = [];
    for (const host of candidates) {
      let b = this.backoff.get(host);
      if (b === undefined) {
        b = { attempts: 0, nextAt: now };
        this.backoff.set(host, b);
      }
      if (b.nextAt > now) continue;
      b.attempts++;
      const delay = rejoinDelayMs(this.timings, b.attempts);
      b.nextAt = now + delay;
      hosts.push(host);
      if ((b.attempts & (b.attempts - 1)) === 0) milestones.push({ host, attempt: b.attempts, nextInMs: delay });
    }
    return { hosts, milestones };
  }
}
