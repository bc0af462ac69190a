// The node-local subscription table: which sessions on this node receive a PUBLISH, at which QoS,
// with which subscription identifiers. Pure and single-threaded; it runs on the main thread for
// every PUBLISH, so match() reuses its scratch state and allocates only the Deliveries it returns.

import type { Delivery, QoS, SubscriptionOptions } from '../protocol/message.js';
import { InvalidTopicFilterError, ReentrantMatchError } from './errors.js';
import type { Presence } from './presence.js';
import { SharedGroup } from './shared-group.js';
import { parseSharedFilter, validateTopicFilter } from './topic.js';
import { TopicTrie, type TrieVisitor } from './topic-trie.js';

export type { Presence } from './presence.js';

const NO_SUBSCRIPTIONS: ReadonlyMap<string, SubscriptionOptions> = new Map();
/** Placeholder output between matches; never written to (nothing visits outside match()). */
const NO_DELIVERIES: Delivery[] = [];

/**
 * A private copy with a fixed property order, so match() sees at most two object shapes (with and
 * without an identifier) whatever the caller passed. Not frozen: frozen objects made match()
 * about 2.5x slower in V8 in a 10k-subscription benchmark; the copy already isolates the caller.
 */
function normalize(o: SubscriptionOptions): SubscriptionOptions {
  const { qos, noLocal, retainAsPublished, retainHandling, subscriptionId } = o;
  return subscriptionId === undefined
    ? { qos, noLocal, retainAsPublished, retainHandling }
    : { qos, noLocal, retainAsPublished, retainHandling, subscriptionId };
}

/** Keeps `ids` ascending and free of duplicates without sorting (no comparator closure). */
function insertSorted(ids: number[], id: number): void {
  let i = ids.length;
  while (i > 0 && ids[i - 1]! > id) i--;
  if (i > 0 && ids[i - 1] === id) return;
  ids.splice(i, 0, id);
}

/** Per-session state: its subscriptions, and where match() put its Delivery. */
class ClientState {
  /** Filter as subscribed (`$share/...` included) → options. */
  readonly subs = new Map<string, SubscriptionOptions>();
  /** The match() call that last gave this session a Delivery, and that Delivery's index in `out`;
   * stamping the session beats a clientId → index Map that must be filled and cleared per PUBLISH. */
  matchEpoch = 0;
  slot = 0;
}

/** A non-shared subscription as stored in the trie: its options and its session's state. */
interface DirectSub {
  readonly options: SubscriptionOptions;
  readonly client: ClientState;
}

/** Folds a session's matching non-shared subscriptions into a single Delivery per session. */
class DirectCollector implements TrieVisitor<DirectSub> {
  out: Delivery[] = [];
  publisherId = '';
  qos: QoS = 0;
  retain = false;
  added = 0;
  /** Identifies the current match() call; ClientState.matchEpoch is compared with it. */
  epoch = 0;

  visit(clientId: string, sub: DirectSub): void {
    const { options, client } = sub;
    // A No Local subscription never receives its own client's messages [MQTT-3.8.3-3]; the
    // session may still receive through its other matching subscriptions.
    if (options.noLocal && clientId === this.publisherId) return;
    const qos = options.qos < this.qos ? options.qos : this.qos; // [MQTT-3.3.4-2]
    const retain = this.retain && options.retainAsPublished;
    if (client.matchEpoch !== this.epoch) {
      client.matchEpoch = this.epoch;
      client.slot = this.out.length;
      const ids = options.subscriptionId === undefined ? [] : [options.subscriptionId];
      this.out.push({ clientId, qos, retain, subscriptionIds: ids });
      this.added++;
      return;
    }
    // Overlapping subscriptions: one message at the highest QoS, carrying every identifier
    // [MQTT-3.3.4-2, MQTT-3.3.4-3].
    const delivery = this.out[client.slot]!;
    if (qos > delivery.qos) delivery.qos = qos;
    if (retain) delivery.retain = true;
    if (options.subscriptionId !== undefined) insertSorted(delivery.subscriptionIds, options.subscriptionId);
  }
}

/** Picks one member of each matching shared group (MQTT 5.0 §4.8.2). */
class SharedPicker implements TrieVisitor<SharedGroup> {
  out: Delivery[] = [];
  qos: QoS = 0;
  retain = false;
  presence: Presence | null = null;
  added = 0;

  visit(_group: string, group: SharedGroup): void {
    const member = group.pick(this.presence!)!; // empty groups are removed from the trie
    const { options } = member;
    this.out.push({
      clientId: member.clientId,
      qos: options.qos < this.qos ? options.qos : this.qos, // [MQTT-3.3.4-2]
      retain: this.retain && options.retainAsPublished,
      subscriptionIds: options.subscriptionId === undefined ? [] : [options.subscriptionId],
    });
    this.added++;
  }
}

export class Router {
  /** Non-shared subscriptions: filter → clientId → (options, session state). */
  private readonly direct = new TopicTrie<DirectSub>();
  /** Shared subscriptions: inner filter → group name → group. */
  private readonly shared = new TopicTrie<SharedGroup>();
  /** Sessions with at least one subscription; makes removeSession O(that session's subscriptions). */
  private readonly clients = new Map<string, ClientState>();
  private count = 0;
  private readonly collector = new DirectCollector();
  private readonly picker = new SharedPicker();
  private matching = false;

  /** Total subscriptions over all sessions (each shared membership counts once). */
  get subscriptionCount(): number {
    return this.count;
  }

  /**
   * Adds or replaces `clientId`'s subscription to `filter` (which may be `$share/{group}/{f}`);
   * true if it is new. The caller has validated the filter and rejected No Local on shared
   * subscriptions [MQTT-3.8.3-4]; an invalid filter here is a bug and throws.
   */
  subscribe(clientId: string, filter: string, options: SubscriptionOptions): boolean {
    const problem = validateTopicFilter(filter);
    if (problem !== null) throw new InvalidTopicFilterError(filter, problem);
    const stored = normalize(options);
    let client = this.clients.get(clientId);
    if (client === undefined) {
      client = new ClientState();
      this.clients.set(clientId, client);
    }
    const isNew = !client.subs.has(filter);
    client.subs.set(filter, stored);
    if (isNew) this.count++;

    const share = parseSharedFilter(filter);
    if (share === null) {
      this.direct.set(filter, clientId, { options: stored, client });
      return isNew;
    }
    // Groups are keyed by (inner filter, name): the same name under another filter is another group.
    let group = this.shared.get(share.filter, share.group);
    if (group === undefined) {
      group = new SharedGroup();
      this.shared.set(share.filter, share.group, group);
    }
    group.add(clientId, stored);
    return isNew;
  }

  /** Removes one subscription; true if it existed. `filter` is as subscribed. */
  unsubscribe(clientId: string, filter: string): boolean {
    const client = this.clients.get(clientId);
    if (client === undefined || !client.subs.delete(filter)) return false;
    if (client.subs.size === 0) this.clients.delete(clientId);
    this.count--;
    this.detach(clientId, filter);
    return true;
  }

  /** Removes every subscription of `clientId`; returns how many there were. */
  removeSession(clientId: string): number {
    const subs = this.clients.get(clientId)?.subs;
    if (subs === undefined) return 0;
    this.clients.delete(clientId);
    this.count -= subs.size;
    for (const filter of subs.keys()) this.detach(clientId, filter);
    return subs.size;
  }

  /** The session's subscriptions, keyed by filter as subscribed. Read-only view; do not keep it
   * across later subscribe/unsubscribe calls for that client. */
  subscriptionsOf(clientId: string): ReadonlyMap<string, Readonly<SubscriptionOptions>> {
    return this.clients.get(clientId)?.subs ?? NO_SUBSCRIPTIONS;
  }

  /** The sessions with at least one subscription. */
  clientIds(): IterableIterator<string> {
    return this.clients.keys();
  }

  /** True when no subscription and no trie node beyond the roots is left (a leak check too). */
  isEmpty(): boolean {
    return this.count === 0 && this.clients.size === 0 && this.nodeCount() === 2;
  }

  /** Nodes in both tries, roots included (2 when empty); for leak tests. */
  nodeCount(): number {
    return this.direct.nodeCount() + this.shared.nodeCount();
  }

  /**
   * Appends the Deliveries for a PUBLISH on `topic` to `out` and returns how many it appended.
   * First one Delivery per session matched through non-shared subscriptions, then one per
   * matching shared group (a session can get both; they are independent copies [MQTT-4.8.2]).
   * Advances the round-robin position of every matching shared group.
   */
  match(topic: string, publisherId: string, qos: QoS, retain: boolean, presence: Presence, out: Delivery[]): number {
    // The collector and picker are single-use scratch: a Presence calling back into the router
    // would overwrite them mid-walk.
    if (this.matching) throw new ReentrantMatchError(topic);
    this.matching = true;
    const collector = this.collector;
    const picker = this.picker;
    collector.out = out;
    collector.publisherId = publisherId;
    collector.qos = qos;
    collector.retain = retain;
    collector.added = 0;
    collector.epoch++;
    picker.out = out;
    picker.qos = qos;
    picker.retain = retain;
    picker.presence = presence;
    picker.added = 0;
    try {
      this.direct.match(topic, collector);
      if (this.shared.size > 0) this.shared.match(topic, picker);
      return collector.added + picker.added;
    } finally {
      // Drop references to the caller's objects so the router does not keep them alive.
      collector.out = picker.out = NO_DELIVERIES;
      picker.presence = null;
      this.matching = false;
    }
  }

  private detach(clientId: string, filter: string): void {
    const share = parseSharedFilter(filter);
    if (share === null) {
      this.direct.delete(filter, clientId);
      return;
    }
    const group = this.shared.get(share.filter, share.group);
    if (group !== undefined && group.remove(clientId) && group.size === 0) {
      this.shared.delete(share.filter, share.group);
    }
  }
}
