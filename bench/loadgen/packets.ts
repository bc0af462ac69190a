// Packets the load generator sends, encoded once with mqtt-packet. A PUBLISH template records
// where its packet id and payload sit, so a batch can be copied and patched (ids, send
// timestamps) without re-encoding.
import mqtt from 'mqtt-packet';

export type MqttVersion = 4 | 5;

export function encodeConnect(clientId: string, opts: { clean: boolean; keepalive: number; version: MqttVersion; sessionExpirySec?: number }): Buffer {
  const packet: mqtt.IConnectPacket = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: opts.version,
    clientId,
    clean: opts.clean,
    keepalive: opts.keepalive,
  };
  if (opts.version === 5 && opts.sessionExpirySec !== undefined) packet.properties = { sessionExpiryInterval: opts.sessionExpirySec };
  return mqtt.generate(packet, { protocolVersion: opts.version });
}

export function encodeSubscribe(messageId: number, filters: readonly string[], qos: 0 | 1 | 2, version: MqttVersion): Buffer {
  return mqtt.generate(
    { cmd: 'subscribe', messageId, subscriptions: filters.map((topic) => ({ topic, qos })) },
    { protocolVersion: version },
  );
}

export interface PublishTemplate {
  bytes: Buffer;
  /** Offset of the 2-byte packet id within `bytes`, -1 for QoS 0. */
  idOffset: number;
  /** Offset of the payload within `bytes`. */
  payloadOffset: number;
}

/** Bytes of the send timestamp (float64 LE, performance.now() of the sending process) at payload start. */
export const STAMP_BYTES = 8;

export function publishTemplate(topic: string, payloadBytes: number, qos: 0 | 1 | 2, version: MqttVersion, retain = false): PublishTemplate {
  const payload = Buffer.alloc(payloadBytes, 0x61);
  const bytes = mqtt.generate(
    { cmd: 'publish', topic, payload, qos, retain, dup: false, ...(qos > 0 ? { messageId: 1 } : {}) },
    { protocolVersion: version },
  );
  const payloadOffset = bytes.length - payloadBytes;
  // Fixed header, 2-byte topic length, topic, then the packet id (then v5 properties).
  let headerLen = 2;
  while ((bytes[headerLen - 1]! & 0x80) !== 0) headerLen++;
  const idOffset = qos > 0 ? headerLen + 2 + Buffer.byteLength(topic) : -1;
  return { bytes, idOffset, payloadOffset };
}

/** PUBACK, PUBREC, PUBCOMP (first byte 0x40, 0x50, 0x70) or PUBREL (0x62) for `id`, written at `at`. */
export function writeAck(target: Buffer, at: number, firstByte: number, id: number): void {
  target[at] = firstByte;
  target[at + 1] = 2;
  target[at + 2] = id >> 8;
  target[at + 3] = id & 0xff;
}

export const ACK = { PUBACK: 0x40, PUBREC: 0x50, PUBREL: 0x62, PUBCOMP: 0x70 } as const;
export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);
