// The members of one shared subscription group `$share/{group}/{filter}` (MQTT 5.0 §4.8.2) and
// its round-robin position. Members form a circular list in join order so that joining, leaving
// and picking are O(1) per member visited, whatever the group size.

import type { SubscriptionOptions } from '../protocol/message.js';
import type { Presence } from './presence.js';

/** A member as seen from outside the group. */
export interface SharedMember {
  readonly clientId: string;
  readonly options: SubscriptionOptions;
}

interface Member extends SharedMember {
  options: SubscriptionOptions;
  prev: Member;
  next: Member;
}

export class SharedGroup {
  private readonly byClient = new Map<string, Member>();
  /** First member in join order; null when the group is empty. */
  private head: Member | null = null;
  /** Where the next round-robin search starts. */
  private cursor: Member | null = null;

  get size(): number {
    return this.byClient.size;
  }

  /** Adds a member at the end of the rotation, or replaces the options of an existing one (it
   * keeps its place). True if the member is new. */
  add(clientId: string, options: SubscriptionOptions): boolean {
    const existing = this.byClient.get(clientId);
    if (existing !== undefined) {
      existing.options = options;
      return false;
    }
    const member = { clientId, options } as Member;
    const head = this.head;
    if (head === null) {
      member.prev = member.next = member;
      this.head = this.cursor = member;
    } else {
      member.next = head;
      member.prev = head.prev;
      head.prev.next = member;
      head.prev = member;
    }
    this.byClient.set(clientId, member);
    return true;
  }

  /** True if the member existed. The rotation continues with whoever followed a removed member. */
  remove(clientId: string): boolean {
    const member = this.byClient.get(clientId);
    if (member === undefined) return false;
    this.byClient.delete(clientId);
    if (member.next === member) {
      this.head = this.cursor = null;
      return true;
    }
    member.prev.next = member.next;
    member.next.prev = member.prev;
    if (this.head === member) this.head = member.next;
    if (this.cursor === member) this.cursor = member.next;
    return true;
  }

  /**
   * The next member in turn that `presence` reports online, advancing the rotation past it.
   * When none is online it still returns the next member in turn rather than dropping the
   * message: a member that is offline but still subscribed has a persistent session that queues
   * it (MQTT 5.0 §4.8.2 allows delivering to a disconnected member's session), and rotating
   * keeps that backlog spread over the group instead of piling onto one member.
   * Returns null only for an empty group.
   */
  pick(presence: Presence): SharedMember | null {
    const start = this.cursor;
    if (start === null) return null;
    let chosen = start;
    let member = start;
    do {
      if (presence.isOnline(member.clientId)) {
        chosen = member;
        break;
      }
      member = member.next;
    } while (member !== start);
    this.cursor = chosen.next;
    return chosen;
  }

  /** Members in join order (for tests and inspection, not the hot path). */
  *members(): IterableIterator<[clientId: string, options: SubscriptionOptions]> {
    const head = this.head;
    if (head === null) return;
    let member = head;
    do {
      yield [member.clientId, member.options];
      member = member.next;
    } while (member !== head);
  }
}
