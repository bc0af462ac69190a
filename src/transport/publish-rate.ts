// The per-client publish rate (--max-publish-rate): a token bucket per connection, and what
// happens to a PUBLISH that finds it empty. Every PUBLISH takes a token, QoS 0 included; a v5
// retransmission of a QoS 1/2 id still unacknowledged is not a new message and takes none.
//
// Over the rate:
// - QoS 0 (any version): dropped and counted. The client was promised nothing.
// - v5 QoS 1/2: answered PUBACK/PUBREC 0x97 Quota exceeded and not routed; the client knows the
//   message was not accepted and may send it again later. Not 0x96 Message rate too high: the
//   spec allows that code in DISCONNECT only (§3.14.2.1; PUBACK/PUBREC list theirs in §3.4.2.1,
//   §3.5.2.1), mqtt-packet refuses to encode it there and a client may treat it as malformed.
//   EMQX answers its publish quota with 0x97 in PUBACK/PUBREC too.
// - 3.1.1 QoS 1/2: accepted (the bucket goes into debt), and the connection is not read again
//   until a token is back. 3.1.1 has no failure code in PUBACK/PUBREC: a PUBACK for a dropped
//   message would tell the publisher it was delivered, and none at all stalls its inflight
//   window until it resends. Not reading is TCP backpressure, which every client handles.
//   EMQX's publish limiter pauses the socket the same way.

import { TokenBucket } from './token-bucket.js';

/** What was done with a PUBLISH over the rate: stable names, for logs and metrics. */
export type PublishRateAction = 'dropped' | 'refused' | 'paused';

export class PublishRate extends TokenBucket {
  /** Reading stopped until the next token (3.1.1 QoS 1/2). */
  paused = false;
}

/** The action for a PUBLISH of `qos` from a client of `protocolVersion` that found no token. */
export function overRateAction(qos: number, protocolVersion: number): PublishRateAction {
  if (qos === 0) return 'dropped';
  return protocolVersion === 5 ? 'refused' : 'paused';
}
