// The reference topic matcher the property tests check the real trie against: deliberately naive,
// splitting strings and comparing level by level (MQTT 5.0 §4.7).

/** Does `filter` (not shared) match `topic`? */
export function refMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false; // [MQTT-4.7.2-1]
  for (let i = 0; i < f.length; i++) {
    // '#' is last and matches the parent level and everything below [MQTT-4.7.1-2]; reaching it
    // means the first i levels matched, so the topic has at least i levels.
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
