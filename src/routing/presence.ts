// What the router needs to know about connections: only whether a session is connected, to skip
// disconnected members when picking a shared-subscription member. The session registry
// implements it; tests pass a Set-backed object.

export interface Presence {
  isOnline(clientId: string): boolean;
}
