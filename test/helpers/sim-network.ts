// The network and membership of the seeded multi-node simulators (cluster-sim.ts for route
// replication, cluster-session-sim.ts for sessions and takeover): messages that are dropped,
// duplicated, delayed and reordered and stopped by partitions, and per-node membership views that
// lag the truth (and, across a partition, see the other side as down). Time is rounds; randomness
// comes from one seeded PRNG, so a seed replays a run exactly. What a message carries and what a
// view change does is the simulator's business (payload type P, callbacks).

export interface Faults {
  /** Probability that a message is lost. */
  drop: number;
  /** Probability that a message is delivered twice. */
  dup: number;
  /** Messages take 0..maxDelay extra rounds (so they overtake each other). */
  maxDelay: number;
  /** Probability per round that a lagging membership view catches up on one member. */
  membershipCatchUp: number;
}

/** What the network and membership need to know of a simulated node. */
export interface SimMember {
  readonly index: number;
  readonly name: string;
  up: boolean;
  incarnation: number;
  /** The membership view: name → incarnation believed alive. */
  readonly view: Map<string, number>;
  /** (name, incarnation) pairs this node was told are dead and not readmitted since. */
  readonly purged: Set<string>;
}

/** mulberry32: small, fast, good enough for choosing faults. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * How a message travels: `lossy` may be lost or duplicated (a retried call); `once` may be lost,
 * never duplicated; `retried` may be duplicated, never lost; `stream` is neither lost nor
 * duplicated nor overtaken by a later `stream` message between the same two nodes (a gRPC
 * stream). Every kind is cut by a partition or the receiver's restart.
 */
export type Delivery = 'lossy' | 'once' | 'retried' | 'stream';

interface InFlight<P> {
  at: number;
  /** Send order, for `stream` messages (null: any order). */
  order: number | null;
  from: number;
  to: number;
  /** The receiver's incarnation when sent: a restarted receiver drops it (its streams broke). */
  toIncarnation: number;
  payload: P;
}

export interface MembershipChange<M> {
  /** `other` left the observer's view (it was seen at `seen`). */
  down(observer: M, other: M, seen: number): void;
  /** The observer now sees `other` alive at `incarnation`. */
  up(observer: M, other: M, incarnation: number): void;
}

export class SimNetwork<P, M extends SimMember> {
  /** False once calm(): nothing more is lost, duplicated or cut off (delays stay). */
  faulty = true;
  private inFlight: InFlight<P>[] = [];
  private sides: number[] | null = null;
  private sent = 0;

  constructor(
    readonly random: () => number,
    readonly faults: Faults,
    private readonly members: readonly M[],
  ) {}

  /** Splits the nodes: `sides[i]` is node i's side (missing: side 0). Ignored once calm. */
  partition(sides: number[]): void {
    if (this.faulty) this.sides = sides;
  }

  heal(): void {
    this.sides = null;
  }

  calm(): void {
    this.faulty = false;
    this.sides = null;
  }

  get partitioned(): boolean {
    return this.sides !== null;
  }

  reachable(a: number, b: number): boolean {
    return this.sides === null || (this.sides[a] ?? 0) === (this.sides[b] ?? 0);
  }

  /** Sends `payload` in round `round`. */
  send(from: number, to: number, payload: P, round: number, delivery: Delivery = 'lossy'): void {
    const f = this.faults;
    if (this.faulty && !this.reachable(from, to)) return;
    if (this.faulty && (delivery === 'lossy' || delivery === 'once') && this.random() < f.drop) return;
    const copies = (delivery === 'lossy' || delivery === 'retried') && this.faulty && this.random() < f.dup ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = round + Math.floor(this.random() * (f.maxDelay + 1));
      this.inFlight.push({ at, order: delivery === 'stream' ? this.sent++ : null, from, to, toIncarnation: this.members[to]!.incarnation, payload });
    }
  }

  /** The messages due by `round`, in a seeded random order, minus those whose receiver is down
   * or restarted since they were sent. */
  due(round: number): { from: number; to: number; payload: P }[] {
    // A stream message is due no earlier than every earlier one on its stream.
    const held = new Set<string>();
    for (const m of [...this.inFlight].sort((a, b) => (a.order ?? 0) - (b.order ?? 0))) {
      if (m.order === null) continue;
      const key = `${m.from}>${m.to}`;
      if (held.has(key) || m.at > round) {
        held.add(key);
        if (m.at <= round) m.at = round + 1;
      }
    }
    const due = this.inFlight.filter((m) => m.at <= round);
    this.inFlight = this.inFlight.filter((m) => m.at > round);
    // Shuffle (Fisher-Yates with the seeded PRNG): same-round messages arrive in any order.
    for (let i = due.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    // Stream messages keep their send order among the places the shuffle gave them.
    const slots = due.flatMap((m, i) => (m.order === null ? [] : [i]));
    const streamed = slots.map((i) => due[i]!).sort((a, b) => a.order! - b.order!);
    slots.forEach((slot, k) => (due[slot] = streamed[k]!));
    return due.filter((m) => {
      const to = this.members[m.to]!;
      return to.up && to.incarnation === m.toIncarnation;
    });
  }

  /** Messages still on their way. */
  get pending(): number {
    return this.inFlight.length;
  }

  /** Each live node's view moves toward what SWIM would tell it: live, reachable nodes. */
  membershipStep(change: MembershipChange<M>): void {
    for (const observer of this.members) {
      if (!observer.up) continue;
      for (const other of this.members) {
        if (other === observer) continue;
        const target = other.up && this.reachable(observer.index, other.index) ? other.incarnation : undefined;
        const seen = observer.view.get(other.name);
        if (seen === target) continue;
        if (this.faulty && this.random() >= this.faults.membershipCatchUp) continue;
        if (seen !== undefined && (target === undefined || target > seen)) {
          observer.purged.add(`${other.name}@${seen}`);
        }
        if (target === undefined) {
          observer.view.delete(other.name);
          change.down(observer, other, seen!);
        } else {
          observer.view.set(other.name, target);
          observer.purged.delete(`${other.name}@${target}`);
          change.up(observer, other, target);
        }
      }
    }
  }
}
