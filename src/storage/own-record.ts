// Records keyed by client-supplied strings (topic filters, topics): a key such as '__proto__' is
// a valid MQTT filter, and plain assignment would change the record's prototype instead of
// adding an entry. Define the property instead.
export function defineOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
