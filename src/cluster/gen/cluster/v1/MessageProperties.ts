// Original file: proto/cluster.proto

import type { UserProperty as _cluster_v1_UserProperty, UserProperty__Output as _cluster_v1_UserProperty__Output } from '../../cluster/v1/UserProperty.js';

/**
 * The PUBLISH properties forwarded to subscribers unchanged [MQTT-3.3.2-15..20].
 */
export interface MessageProperties {
  'payload_format_utf8'?: (boolean);
  'content_type'?: (string);
  'response_topic'?: (string);
  'correlation_data'?: (Buffer | Uint8Array | string);
  /**
   * In order; a key may repeat [MQTT-3.3.2-18].
   */
  'user_properties'?: (_cluster_v1_UserProperty)[];
  '_payload_format_utf8'?: "payload_format_utf8";
  '_content_type'?: "content_type";
  '_response_topic'?: "response_topic";
  '_correlation_data'?: "correlation_data";
}

/**
 * The PUBLISH properties forwarded to subscribers unchanged [MQTT-3.3.2-15..20].
 */
export interface MessageProperties__Output {
  'payload_format_utf8'?: (boolean);
  'content_type'?: (string);
  'response_topic'?: (string);
  'correlation_data'?: (Buffer);
  /**
   * In order; a key may repeat [MQTT-3.3.2-18].
   */
  'user_properties': (_cluster_v1_UserProperty__Output)[];
  '_payload_format_utf8'?: "payload_format_utf8";
  '_content_type'?: "content_type";
  '_response_topic'?: "response_topic";
  '_correlation_data'?: "correlation_data";
}
