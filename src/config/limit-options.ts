// The abuse limits: connections (in all and per source address), the connection rate per
// address, topic levels and length, and the publish rate per client. options.ts spreads these
// rows into its table and these defaults into its own; docs/operations/limits.md says what a
// client sees at each limit.
import { MAX_TOPIC_BYTES } from '../routing/topic.js';
import { int } from './field-kinds.js';
import type { SpecInput } from './options.js';

export interface LimitConfig {
  /** Open connections in all; 0 = unlimited. */
  readonly maxConnections: number;
  /** Open connections from one source IP address; 0 = unlimited. */
  readonly maxConnectionsPerAddress: number;
  /** New connections a second from one source IP address (a second's worth may come at once); 0 = unlimited. */
  readonly maxConnectionRate: number;
  /** Levels of a topic name or filter; 0 = unlimited. */
  readonly maxTopicLevels: number;
  /** UTF-8 bytes of a topic name or filter. */
  readonly maxTopicLength: number;
  /** PUBLISH packets a second per client (a second's worth may come at once); 0 = unlimited. */
  readonly maxPublishRate: number;
}

type LimitKey = keyof LimitConfig;

export const DEFAULT_LIMITS = Object.freeze({
  maxConnections: 0,
  maxConnectionsPerAddress: 0,
  maxConnectionRate: 0,
  // EMQX's default (max_topic_levels); deeper topics are rare and cost trie depth per match.
  maxTopicLevels: 128,
  maxTopicLength: MAX_TOPIC_BYTES,
  maxPublishRate: 0,
} as const satisfies LimitConfig);

const COUNT_MAX = 10_000_000;

export const LIMIT_SPECS: { [K in LimitKey]: SpecInput<K> } = {
  maxConnections: {
    flag: '--max-connections',
    kind: int(0, COUNT_MAX),
    description: 'Open client connections in all; a new one past it is closed at accept, before its CONNECT is read. 0 = unlimited.',
  },
  maxConnectionsPerAddress: {
    flag: '--max-connections-per-address',
    kind: int(0, COUNT_MAX),
    description: 'Open client connections from one source IP address; a new one past it is closed at accept. 0 = unlimited.',
  },
  maxConnectionRate: {
    flag: '--max-connection-rate',
    kind: int(0, COUNT_MAX, '<per-sec>'),
    description: 'New connections a second from one source IP address (token bucket, a second\'s worth at once); one past it is closed at accept. 0 = unlimited.',
  },
  maxTopicLevels: {
    flag: '--max-topic-levels',
    kind: int(0, MAX_TOPIC_BYTES),
    description: 'Levels of a topic name or filter. A PUBLISH past it closes the connection (v5 DISCONNECT 0x90), a filter past it is refused in SUBACK (0x8F, 3.1.1 0x80). 0 = unlimited.',
  },
  maxTopicLength: {
    flag: '--max-topic-length',
    kind: int(1, MAX_TOPIC_BYTES, '<bytes>'),
    description: 'UTF-8 bytes of a topic name or filter; handled as --max-topic-levels.',
  },
  maxPublishRate: {
    flag: '--max-publish-rate',
    kind: int(0, COUNT_MAX, '<per-sec>'),
    description:
      'PUBLISH packets a second per client (token bucket, a second\'s worth at once). Past it QoS 0 is dropped, v5 QoS 1/2 is answered 0x97 Quota exceeded, and a 3.1.1 client is not read until it is back under the rate. 0 = unlimited.',
  },
};
