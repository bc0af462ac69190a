// The global route table: topic filter → the nodes with at least one local subscriber to it
// (never one row per client). Each origin node is the only writer of its own slice; other nodes
// hold copies that they update from its deltas (in sequence order, idempotently) and repair from a
// full slice when a delta is missing. Routes are tagged with the origin's incarnation: a newer
// incarnation purges the older one's slice, and an incarnation at or below a purged one is stale
// forever, so a late delta from a dead node cannot bring its routes back. Pure: no I/O, no clock.

import type { OriginDigest, RouteDelta, RouteSlice } from './peer-messages.js';
import { SetDigest } from './route-digest.js';
import { TopicTrie, type TrieVisitor } from '../routing/topic-trie.js';
import { parseSharedFilter, validateTopicFilter } from '../routing/topic.js';

/** What apply() did with a delta. */
export type ApplyResult =
  /** Applied; the slice is now at delta.seq. */
  | 'applied'
  /** Already applied (seq at or below the slice's): ignored, as a redelivery must be. */
  | 'duplicate'
  /** From an incarnation older than the one held, or one purged as dead: ignored. */
  | 'stale'
  /** A delta is missing before this one: not applied; fetch the origin's full slice. */
  | 'gap';

/** The nodes a PUBLISH on one topic must reach. */
export interface RouteMatch {
  /** Nodes with a matching non-shared subscription, each once. */
  readonly nodes: string[];
  /** Each matching shared group (`$share/{group}/{filter}`) and the nodes holding members of it;
   * the publishing node gives each message to one member of each group cluster-wide. */
  readonly groups: { share: string; nodes: string[] }[];
}

interface OriginSlice {
  incarnation: number;
  lastSeq: number;
  readonly filters: Set<string>;
  readonly digest: SetDigest;
}

/** One shared group (keyed by its inner filter and name) and the nodes with members in it. */
interface SharedRoute {
  readonly share: string;
  readonly nodes: Set<string>;
}

class NodeCollector implements TrieVisitor<true> {
  seen = new Set<string>();
  visit(node: string): void {
    this.seen.add(node);
  }
}

class GroupCollector implements TrieVisitor<SharedRoute> {
  out: { share: string; nodes: string[] }[] = [];
  visit(_group: string, route: SharedRoute): void {
    this.out.push({ share: route.share, nodes: [...route.nodes] });
  }
}

export class RouteTable {
  private readonly slices = new Map<string, OriginSlice>();
  /** Per node name, the highest incarnation purged as dead: anything at or below it is stale. */
  private readonly purgedUpTo = new Map<string, number>();
  /** Non-shared filter → origin → present. */
  private readonly direct = new TopicTrie<true>();
  /** Shared groups: inner filter → group name → nodes with members. */
  private readonly shared = new TopicTrie<SharedRoute>();
  /** Filters received from peers that are not valid MQTT filters (ignored; a peer bug). */
  invalidFilters = 0;

  /** Applies one delta of `delta.origin`'s slice. */
  apply(delta: RouteDelta): ApplyResult {
    const slice = this.sliceFor(delta.origin, delta.incarnation);
    if (slice === null) return 'stale';
    if (delta.seq <= slice.lastSeq) return 'duplicate';
    if (delta.seq !== slice.lastSeq + 1) return 'gap';
    // A batch never names a filter in both lists (the outbox coalesces), so the order of the two
    // loops does not matter; removes first keeps a buggy batch from leaving a filter behind twice.
    for (const filter of delta.removes) this.removeFilter(delta.origin, slice, filter);
    for (const filter of delta.adds) this.addFilter(delta.origin, slice, filter);
    slice.lastSeq = delta.seq;
    return 'applied';
  }

  /**
   * Replaces `slice.origin`'s slice with a full copy (an anti-entropy repair). Ignored, returning
   * false, when it is stale: an older or purged incarnation, or an older point of the same one.
   */
  replaceOrigin(full: RouteSlice): boolean {
    const current = this.slices.get(full.origin);
    if (current !== undefined && current.incarnation === full.incarnation && full.lastSeq < current.lastSeq) {
      return false;
    }
    const slice = this.sliceFor(full.origin, full.incarnation);
    if (slice === null) return false;
    const wanted = new Set(full.filters);
    for (const filter of [...slice.filters]) if (!wanted.has(filter)) this.removeFilter(full.origin, slice, filter);
    for (const filter of wanted) this.addFilter(full.origin, slice, filter);
    slice.lastSeq = full.lastSeq;
    return true;
  }

  /**
   * Purges `origin`'s slice if its incarnation is at or below `incarnation` (the node went down,
   * or came back as a newer incarnation), and refuses that incarnation and older ones from now on.
   * True if routes were dropped.
   */
  removeOrigin(origin: string, incarnation: number): boolean {
    const floor = this.purgedUpTo.get(origin);
    if (floor === undefined || incarnation > floor) this.purgedUpTo.set(origin, incarnation);
    const slice = this.slices.get(origin);
    if (slice === undefined || slice.incarnation > incarnation) return false;
    this.dropSlice(origin, slice);
    return true;
  }

  /**
   * Accepts `origin`'s `incarnation` again after removeOrigin() refused it: membership saw that
   * same incarnation alive again (a false down, or a healed partition). Its slice is then rebuilt
   * by anti-entropy, since deltas sent while it was refused were dropped.
   */
  readmit(origin: string, incarnation: number): void {
    const floor = this.purgedUpTo.get(origin);
    if (floor !== undefined && floor >= incarnation) this.purgedUpTo.set(origin, incarnation - 1);
  }

  /** The nodes a PUBLISH on `topic` must reach (the local node included if it subscribes). */
  match(topic: string): RouteMatch {
    const nodes = new NodeCollector();
    this.direct.match(topic, nodes);
    const groups = new GroupCollector();
    if (this.shared.size > 0) this.shared.match(topic, groups);
    return { nodes: [...nodes.seen], groups: groups.out };
  }

  digest(origin: string): OriginDigest | null {
    const slice = this.slices.get(origin);
    if (slice === undefined) return null;
    return {
      origin,
      incarnation: slice.incarnation,
      lastSeq: slice.lastSeq,
      count: slice.filters.size,
      hash: slice.digest.hex(),
    };
  }

  digests(): OriginDigest[] {
    const out: OriginDigest[] = [];
    for (const origin of this.slices.keys()) out.push(this.digest(origin)!);
    return out;
  }

  /** `origin`'s whole slice (for answering a FullSync), or null when none is held. */
  sliceOf(origin: string): RouteSlice | null {
    const slice = this.slices.get(origin);
    if (slice === undefined) return null;
    return { origin, incarnation: slice.incarnation, lastSeq: slice.lastSeq, filters: [...slice.filters] };
  }

  origins(): string[] {
    return [...this.slices.keys()];
  }

  /** Total (filter, origin) routes held. */
  get size(): number {
    let n = 0;
    for (const slice of this.slices.values()) n += slice.filters.size;
    return n;
  }

  /**
   * The slice to write `origin`'s `incarnation` into: the current one, or a fresh empty one when
   * the incarnation is newer (the old incarnation's routes are purged); null when stale.
   */
  private sliceFor(origin: string, incarnation: number): OriginSlice | null {
    const floor = this.purgedUpTo.get(origin);
    if (floor !== undefined && incarnation <= floor) return null;
    const current = this.slices.get(origin);
    if (current !== undefined) {
      if (incarnation < current.incarnation) return null;
      if (incarnation === current.incarnation) return current;
      this.dropSlice(origin, current);
      this.purgedUpTo.set(origin, current.incarnation);
    }
    const fresh: OriginSlice = { incarnation, lastSeq: 0, filters: new Set(), digest: new SetDigest() };
    this.slices.set(origin, fresh);
    return fresh;
  }

  private dropSlice(origin: string, slice: OriginSlice): void {
    for (const filter of [...slice.filters]) this.removeFilter(origin, slice, filter);
    this.slices.delete(origin);
  }

  private addFilter(origin: string, slice: OriginSlice, filter: string): void {
    if (slice.filters.has(filter)) return;
    if (validateTopicFilter(filter) !== null) {
      this.invalidFilters++;
      return;
    }
    slice.filters.add(filter);
    slice.digest.add(filter);
    const share = parseSharedFilter(filter);
    if (share === null) {
      this.direct.set(filter, origin, true);
      return;
    }
    let route = this.shared.get(share.filter, share.group);
    if (route === undefined) {
      route = { share: filter, nodes: new Set() };
      this.shared.set(share.filter, share.group, route);
    }
    route.nodes.add(origin);
  }

  private removeFilter(origin: string, slice: OriginSlice, filter: string): void {
    if (!slice.filters.delete(filter)) return;
    slice.digest.remove(filter);
    const share = parseSharedFilter(filter);
    if (share === null) {
      this.direct.delete(filter, origin);
      return;
    }
    const route = this.shared.get(share.filter, share.group);
    if (route !== undefined && route.nodes.delete(origin) && route.nodes.size === 0) {
      this.shared.delete(share.filter, share.group);
    }
  }
}
