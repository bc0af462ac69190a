// Topic name and topic filter rules (MQTT 5.0 §4.7, §4.8.2; MQTT 3.1.1 §4.7).
// Validation is done once, when a PUBLISH or SUBSCRIBE arrives; the trie and router then trust
// their input, so these functions scan each string exactly once and use no regexes.

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

/** UTF-8 encoded strings in MQTT carry a two-byte length prefix [MQTT-1.5.4]. */
export const MAX_TOPIC_BYTES = 65535;

const SHARE_PREFIX = '$share/';

/** The node's own bounds on topic names and filters, below what the protocol allows. */
export interface TopicLimits {
  /** Most levels (parts between '/'); a shared filter's `$share/{group}/` does not count. 0 = unlimited. */
  readonly maxLevels: number;
  /** Most UTF-8 bytes, the whole string as sent; at most MAX_TOPIC_BYTES. */
  readonly maxBytes: number;
}

export const NO_TOPIC_LIMITS: TopicLimits = Object.freeze({ maxLevels: 0, maxBytes: MAX_TOPIC_BYTES });

/** A `$share/{group}/{filter}` subscription split into its parts. */
export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * Checks the characters common to names and filters: no U+0000 [MQTT-4.7.3-2], no lone
 * surrogates (they cannot be encoded as UTF-8 [MQTT-1.5.4-1]), and the UTF-8 length limit.
 * `wildcards` says whether `+`/`#` are allowed as whole levels (filters) or not at all (names).
 */
function scan(text: string, wildcards: boolean, limits: TopicLimits, prefixLevels: number): string | null {
  let bytes = 0;
  let levels = 1;
  let levelStart = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === 0) return 'topic contains U+0000';
      if (c === SLASH) {
        levelStart = i + 1;
        levels++;
      } else if (c === PLUS) {
        if (!wildcards) return "topic name contains the wildcard '+'"; // [MQTT-3.3.2-2]
        const next = i + 1 < n ? text.charCodeAt(i + 1) : SLASH;
        if (i !== levelStart || next !== SLASH) {
          return "'+' must occupy a whole level"; // [MQTT-4.7.1-3]
        }
      } else if (c === HASH) {
        if (!wildcards) return "topic name contains the wildcard '#'"; // [MQTT-3.3.2-2]
        if (i !== levelStart || i !== n - 1) {
          return "'#' must be the whole last level"; // [MQTT-4.7.1-2]
        }
      }
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const low = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (low < 0xdc00 || low > 0xdfff) return 'topic contains a lone surrogate';
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return 'topic contains a lone surrogate';
    } else {
      bytes += 3;
    }
  }
  if (bytes > MAX_TOPIC_BYTES) return `topic is ${bytes} bytes in UTF-8, more than ${MAX_TOPIC_BYTES}`;
  // Counted in the same pass as the checks above: the limits cost a compare per '/' and none
  // per character.
  if (bytes > limits.maxBytes) return `topic is ${bytes} bytes in UTF-8, more than this server's limit of ${limits.maxBytes} (max-topic-length)`;
  levels -= prefixLevels;
  if (limits.maxLevels > 0 && levels > limits.maxLevels) return `topic has ${levels} levels, more than this server's limit of ${limits.maxLevels} (max-topic-levels)`;
  return null;
}

/** Returns null when `topic` may be published to, otherwise why not. */
export function validateTopicName(topic: string, limits: TopicLimits = NO_TOPIC_LIMITS): string | null {
  if (topic.length === 0) return 'topic name is empty'; // [MQTT-4.7.3-1]
  return scan(topic, false, limits, 0);
}

/** Returns null when `filter` may be subscribed to (including `$share/...`), otherwise why not. */
export function validateTopicFilter(filter: string, limits: TopicLimits = NO_TOPIC_LIMITS): string | null {
  if (filter.length === 0) return 'topic filter is empty'; // [MQTT-4.7.3-1]
  if (filter.startsWith(SHARE_PREFIX)) {
    const slash = filter.indexOf('/', SHARE_PREFIX.length);
    if (slash < 0) return 'shared subscription has no topic filter after the share name'; // [MQTT-4.8.2-2]
    if (slash === SHARE_PREFIX.length) return 'shared subscription share name is empty'; // [MQTT-4.8.2-1]
    for (let i = SHARE_PREFIX.length; i < slash; i++) {
      const c = filter.charCodeAt(i);
      if (c === PLUS || c === HASH) {
        return "shared subscription share name contains '+' or '#'"; // [MQTT-4.8.2-2]
      }
    }
    if (slash === filter.length - 1) {
      return 'shared subscription topic filter is empty'; // [MQTT-4.8.2-2]
    }
    // The length limit applies to the whole filter as sent, so scan all of it; the share prefix
    // and name contain no wildcards (checked above), so only the inner filter can trip `+`/`#`.
    return scan(filter, true, limits, 2); // '$share' and the share name are not levels of the filter
  }
  return scan(filter, true, limits, 0);
}

/**
 * Splits `$share/{group}/{filter}`; null for a filter without the `$share/` prefix or without a
 * `/` after the share name. It does not validate: call validateTopicFilter first.
 */
export function parseSharedFilter(filter: string): SharedFilter | null {
  if (!filter.startsWith(SHARE_PREFIX)) return null;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash < 0) return null;
  return { group: filter.slice(SHARE_PREFIX.length, slash), filter: filter.slice(slash + 1) };
}

/** Topics starting with `$` are server-specific and hidden from leading wildcards [MQTT-4.7.2-1]. */
export function isSysTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR;
}
