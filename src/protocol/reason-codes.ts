// Every MQTT reason code Shoal sends, in one table (MQTT 5.0 §2.4). MQTT 3.1.1 clients get the
// v3 CONNACK return codes and SUBACK 0x80 through the mapping functions at the bottom.

export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

export type ReasonCodeValue = (typeof ReasonCode)[keyof typeof ReasonCode];

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const ConnackReturnCodeV3 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

/** Maps a v5 CONNACK reason code to the closest 3.1.1 return code. */
export function connackCodeForV3(code: number): number {
  switch (code) {
    case ReasonCode.Success: return ConnackReturnCodeV3.Accepted;
    case ReasonCode.UnsupportedProtocolVersion: return ConnackReturnCodeV3.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid: return ConnackReturnCodeV3.IdentifierRejected;
    case ReasonCode.BadUserNameOrPassword: return ConnackReturnCodeV3.BadUserNameOrPassword;
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned: return ConnackReturnCodeV3.NotAuthorized;
    default: return ConnackReturnCodeV3.ServerUnavailable;
  }
}

/** SUBACK: 3.1.1 knows only granted QoS 0..2 and failure 0x80 (§3.9.3). */
export function subackCodeForV3(code: number): number {
  return code <= 2 ? code : 0x80;
}

const names = new Map<number, string>();
for (const [name, value] of Object.entries(ReasonCode)) if (!names.has(value)) names.set(value, name);
/** A readable name for logs: `0x8e SessionTakenOver`. */
export function reasonName(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')} ${names.get(code) ?? 'Unknown'}`;
}
