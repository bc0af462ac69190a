// What one SUBSCRIBE does to a session's subscriptions, as one pure function. The main thread
// calls it when it reads the packet, to update the router before the next PUBLISH it reads; the
// session actor calls it when the event reaches it, to store the subscriptions and answer SUBACK.
// Both see the same subscriptions for the client at that point (the README's "Subscriptions in
// read order" says why), so the two decisions are the same.
import { ReasonCode } from '../protocol/reason-codes.js';
import { NO_TOPIC_LIMITS, parseSharedFilter, validateTopicFilter, type TopicLimits } from '../routing/topic.js';
import type { SubscribeRequest } from './session-types.js';

/** The client's subscriptions before the packet: only membership is asked. */
export interface SubscriptionView {
  has(filter: string): boolean;
}

export interface SubscribeDecision {
  /** Set when the packet is refused whole and the connection closes (see decideSubscribe). */
  protocolError: string | null;
  /** One per request, in order: the granted QoS or a v5 failure reason code. */
  codes: number[];
  /** Subscriptions added or replaced, in request order. */
  add: SubscribeRequest[];
  /** Of those, the ones whose retained messages are sent [MQTT-3.3.1-9..11]. */
  retained: SubscribeRequest[];
  /** Refused filters, for the session's observability events. */
  refused: { name: 'session.subscribe.invalid' | 'session.subscribe.quota' | 'session.subscribe.denied'; detail: string }[];
}

/**
 * Decides a SUBSCRIBE's requests against the client's `current` subscriptions, of which there
 * are `count` (read only when `maxSubscriptions` > 0, so the caller may pass 0 then). A filter
 * beyond `topicLimits` is refused like an invalid one (0x8F; 3.1.1 0x80), as EMQX does.
 */
export function decideSubscribe(
  current: SubscriptionView,
  count: number,
  requests: readonly SubscribeRequest[],
  maxSubscriptions: number,
  topicLimits: TopicLimits = NO_TOPIC_LIMITS,
): SubscribeDecision {
  const decision: SubscribeDecision = { protocolError: null, codes: [], add: [], retained: [], refused: [] };
  // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error. Checked before any
  // request is applied: the packet is refused whole, not half-applied without its SUBACK.
  const bad = requests.find(({ filter, options }) => options.noLocal && validateTopicFilter(filter) === null && parseSharedFilter(filter) !== null);
  if (bad !== undefined) {
    decision.protocolError = `No Local set on shared subscription ${bad.filter}`;
    return decision;
  }
  /** Filters this packet added: a repeated filter then replaces, and counts once. */
  let added: Set<string> | null = null;
  for (const { filter, options, denied } of requests) {
    const invalid = validateTopicFilter(filter, topicLimits);
    if (invalid !== null) {
      decision.refused.push({ name: 'session.subscribe.invalid', detail: `${filter}: ${invalid}` });
      decision.codes.push(ReasonCode.TopicFilterInvalid);
      continue;
    }
    if (denied === true) {
      decision.refused.push({ name: 'session.subscribe.denied', detail: `${filter}: the ACL does not let this client read it` });
      decision.codes.push(ReasonCode.NotAuthorized);
      continue;
    }
    const exists = current.has(filter) || (added !== null && added.has(filter));
    if (!exists && maxSubscriptions > 0 && count >= maxSubscriptions) {
      decision.refused.push({ name: 'session.subscribe.quota', detail: `${filter}: over the limit of ${maxSubscriptions} subscriptions` });
      decision.codes.push(ReasonCode.QuotaExceeded);
      continue;
    }
    if (!exists) {
      count++;
      (added ??= new Set()).add(filter);
    }
    const effective = { ...options };
    decision.add.push({ filter, options: effective });
    decision.codes.push(effective.qos);
    // Retained messages on subscribe [MQTT-3.3.1-9..11]; never for shared subscriptions [MQTT-4.8.2-?]
    if (parseSharedFilter(filter) === null && (effective.retainHandling === 0 || (effective.retainHandling === 1 && !exists))) {
      decision.retained.push({ filter, options: effective });
    }
  }
  return decision;
}
