// Decisions over the rules of an ACL file (acl-file.ts), with Mosquitto's semantics
// (mosquitto_acl_check_default in Mosquitto 2.0): for a client with a user name, that user's
// `topic` rules, for one without, the anonymous rules; then the `pattern` rules with %c and %u
// substituted. In each list deny rules come first; the first rule whose filter matches the topic
// either denies (deny) or grants, if it has the access asked for; a match without that access
// goes on to the next rule. Nothing granted: denied. Pattern rules never apply to a client whose
// id or user name contains '+' or '#' (it could otherwise widen its own rules), and rules with %u
// never to a client without a user name.
//
// Subscriptions: Mosquitto's ACL file does not check SUBSCRIBE at all and filters each message at
// delivery. Shoal filters at delivery too (every copy, retained and forwarded ones included), and
// also refuses a filter that a deny rule covers entirely, or that no read rule overlaps — a
// subscription that could never deliver anything — so the client learns it in its SUBACK.
// Pure: no I/O.

import { parseSharedFilter } from '../routing/topic.js';
import { ACL_DENY, ACL_READ, ACL_WRITE, type AclRule, type AclRules } from './acl-file.js';

export class TopicAcl {
  /**
   * The last topic checked, split: a delivery checks one topic for every matched subscriber, so
   * it is split once per message rather than once per copy.
   */
  private lastTopic = '';
  private lastLevels: readonly string[] = [''];

  constructor(readonly rules: AclRules) {}

  /** Whether the client may PUBLISH to `topic` (a topic name, no wildcards). */
  mayPublish(username: string | null, clientId: string, topic: string): boolean {
    return this.check(username, clientId, topic, ACL_WRITE);
  }

  /** Whether the client may receive a message on `topic` (a topic name, no wildcards). */
  mayRead(username: string | null, clientId: string, topic: string): boolean {
    return this.check(username, clientId, topic, ACL_READ);
  }

  /** Whether a SUBSCRIBE to `filter` (`$share/{group}/` stripped) is granted; see the header. */
  maySubscribe(username: string | null, clientId: string, filter: string): boolean {
    const inner = parseSharedFilter(filter)?.filter ?? filter;
    const levels = inner.split('/');
    const own = username === null ? this.rules.anonymous : (this.rules.users.get(username) ?? NO_RULES);
    for (const rule of own) {
      const d = subscribeStep(rule.levels, rule.access, levels);
      if (d !== null) return d;
    }
    if (!patternsApply(username, clientId)) return false;
    for (const rule of this.rules.patterns) {
      if (rule.usesUser && username === null) continue;
      const d = subscribeStep(substitute(rule, username, clientId), rule.access, levels);
      if (d !== null) return d;
    }
    return false;
  }

  private check(username: string | null, clientId: string, topic: string, access: number): boolean {
    if (topic !== this.lastTopic) {
      this.lastTopic = topic;
      this.lastLevels = topic.split('/');
    }
    const levels = this.lastLevels;
    const own = username === null ? this.rules.anonymous : (this.rules.users.get(username) ?? NO_RULES);
    for (const rule of own) {
      if (!matches(rule.levels, levels)) continue;
      if (rule.access === ACL_DENY) return false;
      if ((rule.access & access) !== 0) return true;
    }
    if (!patternsApply(username, clientId)) return false;
    for (const rule of this.rules.patterns) {
      if (rule.usesUser && username === null) continue;
      if (!matchesPattern(rule, username, clientId, levels)) continue;
      if (rule.access === ACL_DENY) return false;
      if ((rule.access & access) !== 0) return true;
    }
    return false;
  }
}

const NO_RULES: readonly AclRule[] = [];

function patternsApply(username: string | null, clientId: string): boolean {
  return !/[+#]/.test(clientId) && (username === null || !/[+#]/.test(username));
}

/**
 * matches() of a pattern rule with %c / %u substituted, substituting only the levels it reaches
 * (most rules fail on a literal level first), unless an id or name holds a '/', which changes the
 * rule's levels: then the whole rule is substituted first, as Mosquitto does.
 */
function matchesPattern(rule: AclRule, username: string | null, clientId: string, topic: readonly string[]): boolean {
  if (!rule.filter.includes('%')) return matches(rule.levels, topic);
  if (clientId.includes('/') || (username !== null && username.includes('/'))) return matches(substitute(rule, username, clientId), topic);
  const filter = rule.levels;
  if (topic[0]!.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    let f = filter[i]!;
    if (f === '#') return true;
    if (i >= topic.length) return false;
    if (f.includes('%')) f = f.replace(/%[cu]/g, (m) => (m === '%c' ? clientId : (username ?? m)));
    if (f !== '+' && f !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

function substitute(rule: AclRule, username: string | null, clientId: string): readonly string[] {
  if (!rule.filter.includes('%')) return rule.levels;
  // Mosquitto substitutes into the string, then matches: a '/' in the id adds levels.
  return rule.filter.replace(/%[cu]/g, (m) => (m === '%c' ? clientId : (username ?? m))).split('/');
}

/** A SUBSCRIBE's step through one rule: false (denied), true (granted), null (next rule). */
function subscribeStep(rule: readonly string[], access: number, filter: readonly string[]): boolean | null {
  if (access === ACL_DENY) return covers(rule, filter) ? false : null;
  return (access & ACL_READ) !== 0 && overlaps(rule, filter) ? true : null;
}

/** MQTT topic matching of a filter's levels against a topic's [MQTT-4.7.1], with the `$` rule [MQTT-4.7.2-1]. */
export function matches(filter: readonly string[], topic: readonly string[]): boolean {
  if (topic[0]!.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]!;
    if (f === '#') return true; // also the parent level: `a/#` matches `a` [MQTT-4.7.1-2]
    if (i >= topic.length) return false;
    if (f !== '+' && f !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

/** Whether every topic `inner` matches is matched by `outer` (both filters). */
export function covers(outer: readonly string[], inner: readonly string[]): boolean {
  // A leading wildcard matches no '$' topic [MQTT-4.7.2-1]; the literal cases fall out below.
  if (inner[0]!.startsWith('$') && (outer[0] === '+' || outer[0] === '#')) return false;
  for (let i = 0; i < outer.length; i++) {
    const o = outer[i]!;
    if (o === '#') return true;
    if (i >= inner.length) return false;
    const n = inner[i]!;
    if (n === '#') return false; // only '#' covers '#'
    if (o !== '+' && o !== n) return false; // '+' covers any one level, a literal only itself
  }
  return outer.length === inner.length;
}

/** Whether some topic is matched by both filters. */
export function overlaps(a: readonly string[], b: readonly string[]): boolean {
  // A topic starting with '$' is matched only by filters whose first level is that literal.
  const aDollar = a[0]!.startsWith('$');
  const bDollar = b[0]!.startsWith('$');
  if (aDollar !== bDollar) return false;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === '#' || y === '#') return true;
    if (x === undefined || y === undefined) return false;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
  return true;
}
