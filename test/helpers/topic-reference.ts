// The reference topic matcher of the property tests, deliberately naive: split strings and compare
// level by level, straight from MQTT 5.0 §4.7 (no `$share/` prefix: callers strip it).

/** Does `filter` (not shared) match `topic`? */
export function refMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] a leading wildcard does not match a topic starting with '$'.
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    // '#' is last and matches the parent level and everything below; reaching it means the
    // first i levels matched, so the topic has at least i levels.
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
