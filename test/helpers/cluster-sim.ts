// A seeded multi-node simulator for route replication. Each node runs the REAL RouteSync (and
// through it RouteTable, LocalRoutes, RouteOutbox and the anti-entropy decisions); the simulator
// supplies what production gets from gRPC and SWIM: a network that drops, duplicates, delays and
// reorders messages and splits into partitions, and a membership whose per-node views lag the
// truth (and, across a partition, see the other side as down). Time is rounds; randomness comes
// from one seeded PRNG, so a seed replays a run exactly.

import { RouteSync, type SyncEffect } from '../../src/cluster/route-sync.js';
import type { PeerMessage, RouteSlice } from '../../src/cluster/peer-messages.js';
import { prng, SimNetwork, type Faults, type SimMember } from './sim-network.js';

export type { Faults };

/** Rounds between a node's anti-entropy ticks (nodes are staggered). */
export const TICK_EVERY = 4;

export type SimEvent =
  | { kind: 'sub'; node: number; client: number; filter: string }
  | { kind: 'unsub'; node: number; client: number; filter: string }
  /** A subscription that comes and goes (or goes and comes back) within one batching window. */
  | { kind: 'flap'; node: number; client: number; filter: string }
  | { kind: 'crash'; node: number }
  | { kind: 'restart'; node: number }
  | { kind: 'partition'; sides: number[] }
  | { kind: 'heal' }
  | { kind: 'idle' };

export interface SimOptions {
  nodes: number;
  seed: number;
  faults: Faults;
  /** False: no anti-entropy (no ticks, no digests on membership change): deltas and gap fetches only. */
  antiEntropy: boolean;
}

type Payload =
  | { kind: 'peer'; message: PeerMessage }
  | { kind: 'fetch'; origin: string }
  | { kind: 'slice'; origin: string; slice: RouteSlice | null };

export interface SimNode extends SimMember {
  sync: RouteSync;
  /** client → filters: the sessions' subscriptions, kept across restarts (persistent sessions). */
  readonly subs: Map<number, Set<string>>;
}

export class ClusterSim {
  readonly nodes: SimNode[] = [];
  round = 0;
  /** Violations of "a purged incarnation never comes back", with the round seen. */
  readonly resurrections: string[] = [];
  /** Replicas that held something their origin never held at that point of its sequence. */
  readonly inconsistencies: string[] = [];
  /** Reference history: "name@incarnation" → seq → the origin's filters after that delta. */
  private readonly history = new Map<string, Map<number, Set<string>>>();
  private readonly net: SimNetwork<Payload, SimNode>;
  private nextIncarnation = 1000;

  constructor(readonly opts: SimOptions) {
    this.net = new SimNetwork(prng(opts.seed), opts.faults, this.nodes);
    for (let i = 0; i < opts.nodes; i++) {
      const node: SimNode = {
        index: i,
        name: `n${i}`,
        up: true,
        incarnation: this.nextIncarnation++,
        sync: null as unknown as RouteSync,
        subs: new Map(),
        view: new Map(),
        purged: new Set(),
      };
      node.sync = new RouteSync({ name: node.name, incarnation: node.incarnation }, 3);
      this.nodes.push(node);
    }
    // The cluster starts formed: every view complete (tables are empty, so nothing to send yet).
    for (const a of this.nodes) {
      for (const b of this.nodes) {
        if (a === b) continue;
        a.view.set(b.name, b.incarnation);
        a.sync.memberUp(b.name, b.incarnation);
      }
    }
  }

  /** One round: the event, membership, each node's flush and tick, then deliveries due. */
  step(event: SimEvent): void {
    this.apply(event);
    this.membershipStep();
    for (const node of this.nodes) {
      if (!node.up) continue;
      const effects = node.sync.flush();
      this.record(node, effects);
      this.run(node, effects);
      if (this.opts.antiEntropy && (this.round + node.index) % TICK_EVERY === 0) this.run(node, node.sync.tick());
    }
    this.deliver();
    this.checkNoResurrection();
    this.checkSnapshots();
    this.round++;
  }

  /** Faults stop: partitions heal, nothing more is lost or duplicated (delays stay). */
  calm(): void {
    this.net.calm();
  }

  live(): SimNode[] {
    return this.nodes.filter((n) => n.up);
  }

  /** What each live node's table should hold: name → its local filters. */
  expectedSlices(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const n of this.live()) out.set(n.name, new Set(n.sync.localFilters()));
    return out;
  }

  /** Nodes whose table differs from the union of the live nodes' local filters, with why. */
  divergence(): string[] {
    const want = this.expectedSlices();
    const problems: string[] = [];
    for (const n of this.live()) {
      for (const origin of n.sync.table.origins()) {
        const owner = this.nodes.find((x) => x.name === origin);
        const slice = n.sync.sliceOf(origin)!;
        if (owner === undefined || !owner.up || owner.incarnation !== slice.incarnation) {
          problems.push(`${n.name} holds ${origin}@${slice.incarnation} (dead incarnation): ${slice.filters.join(',')}`);
        }
      }
      for (const [origin, filters] of want) {
        const held = new Set(n.sync.sliceOf(origin)?.filters ?? []);
        const missing = [...filters].filter((f) => !held.has(f));
        const extra = [...held].filter((f) => !filters.has(f));
        if (missing.length + extra.length > 0) {
          problems.push(`${n.name} on ${origin}: missing [${missing.join(',')}] extra [${extra.join(',')}]`);
        }
      }
    }
    return problems;
  }

  private apply(e: SimEvent): void {
    const node = 'node' in e ? this.nodes[e.node % this.nodes.length]! : null;
    switch (e.kind) {
      case 'sub': {
        if (!node!.up) return;
        let filters = node!.subs.get(e.client);
        if (filters === undefined) node!.subs.set(e.client, (filters = new Set()));
        if (filters.has(e.filter)) return; // a re-subscribe only changes options: not a new route
        filters.add(e.filter);
        node!.sync.subscribe(e.filter);
        return;
      }
      case 'unsub': {
        if (!node!.up || node!.subs.get(e.client)?.delete(e.filter) !== true) return;
        node!.sync.unsubscribe(e.filter);
        return;
      }
      case 'flap': {
        const has = node!.subs.get(e.client)?.has(e.filter) === true;
        const [first, second] = has ? (['unsub', 'sub'] as const) : (['sub', 'unsub'] as const);
        this.apply({ ...e, kind: first });
        this.apply({ ...e, kind: second });
        return;
      }
      case 'crash':
        if (this.live().length > 1) node!.up = false;
        return;
      case 'restart': {
        if (node!.up) return;
        node!.up = true;
        node!.incarnation = this.nextIncarnation++;
        node!.sync = new RouteSync({ name: node!.name, incarnation: node!.incarnation }, 3);
        node!.view.clear();
        node!.purged.clear();
        // Persistent sessions come back with their subscriptions.
        for (const filters of node!.subs.values()) for (const f of filters) node!.sync.subscribe(f);
        return;
      }
      case 'partition':
        this.net.partition(e.sides);
        return;
      case 'heal':
        this.net.heal();
        return;
      case 'idle':
        return;
    }
  }

  /** Each live node's view moves toward what SWIM would tell it: live, reachable nodes. */
  private membershipStep(): void {
    this.net.membershipStep({
      down: (observer, other, seen) => observer.sync.memberDown(other.name, seen),
      up: (observer, other, incarnation) => this.run(observer, observer.sync.memberUp(other.name, incarnation)),
    });
  }

  private run(node: SimNode, effects: SyncEffect[]): void {
    for (const e of effects) {
      if (e.kind === 'broadcast') {
        for (const peer of node.sync.peers()) this.send(node.index, this.indexOf(peer), { kind: 'peer', message: e.message });
      } else if (e.kind === 'send') {
        this.send(node.index, this.indexOf(e.to), { kind: 'peer', message: e.message });
      } else {
        this.send(node.index, this.indexOf(e.from), { kind: 'fetch', origin: e.origin });
      }
    }
  }

  private indexOf(name: string): number {
    return Number(name.slice(1));
  }

  private send(from: number, to: number, payload: Payload): void {
    if (!this.opts.antiEntropy && payload.kind === 'peer' && payload.message.kind === 'digests') return;
    this.net.send(from, to, payload, this.round);
  }

  private deliver(): void {
    for (const m of this.net.due(this.round)) {
      const to = this.nodes[m.to]!;
      const fromName = this.nodes[m.from]!.name;
      if (m.payload.kind === 'peer') this.run(to, to.sync.receive(fromName, m.payload.message));
      else if (m.payload.kind === 'fetch') {
        const { origin } = m.payload;
        this.send(m.to, m.from, { kind: 'slice', origin, slice: to.sync.sliceOf(origin) });
      } else this.run(to, to.sync.receiveSlice(m.payload.origin, m.payload.slice));
    }
  }

  /** The reference model of an origin's slice: the previous point, minus removes, plus adds. */
  private record(node: SimNode, effects: SyncEffect[]): void {
    const key = `${node.name}@${node.incarnation}`;
    let points = this.history.get(key);
    if (points === undefined) this.history.set(key, (points = new Map([[0, new Set<string>()]])));
    for (const e of effects) {
      if (e.kind !== 'broadcast' || e.message.kind !== 'route-delta') continue;
      const { seq, adds, removes } = e.message.delta;
      const next = new Set(points.get(seq - 1));
      for (const f of removes) next.delete(f);
      for (const f of adds) next.add(f);
      points.set(seq, next);
    }
  }

  /** Every slice any node holds is its origin's slice at the sequence number it claims. */
  private checkSnapshots(): void {
    for (const n of this.live()) {
      for (const origin of n.sync.table.origins()) {
        const slice = n.sync.sliceOf(origin)!;
        const want = this.history.get(`${origin}@${slice.incarnation}`)?.get(slice.lastSeq) ?? new Set<string>();
        const held = new Set(slice.filters);
        if (held.size !== want.size || [...held].some((f) => !want.has(f))) {
          this.inconsistencies.push(`round ${this.round}: ${n.name} holds ${origin}@${slice.incarnation}#${slice.lastSeq} = [${slice.filters.join(',')}], the origin held [${[...want].join(',')}]`);
        }
      }
    }
  }

  private checkNoResurrection(): void {
    for (const n of this.live()) {
      for (const origin of n.sync.table.origins()) {
        const key = `${origin}@${n.sync.sliceOf(origin)!.incarnation}`;
        if (n.purged.has(key)) this.resurrections.push(`round ${this.round}: ${n.name} holds purged ${key}`);
      }
    }
  }
}
