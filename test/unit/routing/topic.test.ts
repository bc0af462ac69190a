import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isSysTopic,
  MAX_TOPIC_BYTES,
  parseSharedFilter,
  validateTopicFilter,
  validateTopicName,
} from '../../../src/routing/topic.js';

describe('validateTopicName', () => {
  it('accepts ordinary names, including empty levels and $-topics', () => {
    for (const t of ['a', 'a/b', 'a//b', '/a', 'a/', '/', '//', '$SYS/x', 'sport/tennis/player1', 'ü/€/😀']) {
      assert.equal(validateTopicName(t), null, t);
    }
  });

  it('rejects the empty name [MQTT-4.7.3-1]', () => {
    assert.match(validateTopicName('') ?? '', /empty/);
  });

  it('rejects wildcards anywhere [MQTT-3.3.2-2]', () => {
    for (const t of ['+', '#', 'a/+', 'a/#', 'a+b', 'a#', 'sport/+/player']) {
      assert.notEqual(validateTopicName(t), null, t);
    }
  });

  it('rejects U+0000 [MQTT-4.7.3-2] and lone surrogates', () => {
    assert.notEqual(validateTopicName('a\u0000b'), null);
    assert.notEqual(validateTopicName('a\ud800'), null);
    assert.notEqual(validateTopicName('\udc00a'), null);
    assert.notEqual(validateTopicName('a\ud800b'), null);
    assert.equal(validateTopicName('a\ud83d\ude00'), null); // a valid pair
  });

  it('limits the UTF-8 length, not the UTF-16 length, to 65535 bytes', () => {
    assert.equal(validateTopicName('a'.repeat(MAX_TOPIC_BYTES)), null);
    assert.notEqual(validateTopicName('a'.repeat(MAX_TOPIC_BYTES + 1)), null);
    // 'é' is 2 bytes: 32768 of them are 65536 bytes in 32768 UTF-16 units.
    assert.notEqual(validateTopicName('é'.repeat(32768)), null);
    assert.equal(validateTopicName('é'.repeat(32767)), null);
    // '€' is 3 bytes, '😀' 4 bytes (two UTF-16 units).
    assert.equal(validateTopicName('€'.repeat(21845)), null);
    assert.notEqual(validateTopicName('€'.repeat(21845) + 'a'), null);
    assert.equal(validateTopicName('😀'.repeat(16383) + 'abc'), null);
    assert.notEqual(validateTopicName('😀'.repeat(16384)), null);
  });
});

describe('validateTopicFilter', () => {
  it('accepts wildcards as whole levels and empty levels', () => {
    for (const f of ['#', '+', '+/+', '/+', '+/', 'a/#', 'a/+/b', '+/#', 'sport/tennis/#', 'a//b', '/', '$SYS/#', '$share']) {
      assert.equal(validateTopicFilter(f), null, f);
    }
  });

  it('rejects the empty filter', () => {
    assert.notEqual(validateTopicFilter(''), null);
  });

  it("allows '#' only as the whole last level [MQTT-4.7.1-2]", () => {
    for (const f of ['sport/tennis#', 'sport/tennis/#/ranking', '#/', 'a/#b', 'a/b#', '##']) {
      assert.notEqual(validateTopicFilter(f), null, f);
    }
  });

  it("allows '+' only as a whole level [MQTT-4.7.1-3]", () => {
    for (const f of ['sport+', 'a/+b', 'a/b+/c', '++', '+a']) {
      assert.notEqual(validateTopicFilter(f), null, f);
    }
  });

  it('rejects U+0000 and overlong filters', () => {
    assert.notEqual(validateTopicFilter('a/\u0000'), null);
    assert.notEqual(validateTopicFilter('a'.repeat(MAX_TOPIC_BYTES + 1)), null);
    assert.equal(validateTopicFilter('a'.repeat(MAX_TOPIC_BYTES)), null);
  });

  it('validates shared subscriptions [MQTT-4.8.2-1, MQTT-4.8.2-2]', () => {
    for (const f of ['$share/g/a', '$share/g/#', '$share/g/+/x', '$share/g//', '$share/g/$SYS/#']) {
      assert.equal(validateTopicFilter(f), null, f);
    }
    for (const f of ['$share/', '$share/g', '$share/g/', '$share//a', '$share/g+/a', '$share/+/a', '$share/#/a', '$share/g/a#', '$share/g/a/#/b']) {
      assert.notEqual(validateTopicFilter(f), null, f);
    }
  });
});

describe('parseSharedFilter', () => {
  it('splits group and inner filter at the first slash after the group', () => {
    assert.deepEqual(parseSharedFilter('$share/g/a/b'), { group: 'g', filter: 'a/b' });
    assert.deepEqual(parseSharedFilter('$share/grp/#'), { group: 'grp', filter: '#' });
    assert.deepEqual(parseSharedFilter('$share/g//x'), { group: 'g', filter: '/x' });
  });

  it('returns null for non-shared filters', () => {
    assert.equal(parseSharedFilter('a/b'), null);
    assert.equal(parseSharedFilter('$share'), null);
    assert.equal(parseSharedFilter('$sharex/g/a'), null);
    assert.equal(parseSharedFilter('$share/g'), null);
  });
});

describe('isSysTopic', () => {
  it('is true exactly for topics starting with $', () => {
    assert.equal(isSysTopic('$SYS/x'), true);
    assert.equal(isSysTopic('$'), true);
    assert.equal(isSysTopic('a/$SYS'), false);
    assert.equal(isSysTopic('/$SYS'), false);
    assert.equal(isSysTopic(''), false);
  });
});

describe('topic limits (--max-topic-levels, --max-topic-length)', () => {
  const limits = { maxLevels: 3, maxBytes: 10 };
  it('counts levels as separators + 1, empty levels included', () => {
    assert.equal(validateTopicName('a/b/c', limits), null);
    assert.equal(validateTopicName('//', limits), null);
    assert.match(validateTopicName('///', limits) ?? '', /4 levels/);
    assert.match(validateTopicFilter('a/+/#/', { maxLevels: 3, maxBytes: 100 }) ?? '', /'#' must be the whole last level/, 'validity first');
    assert.match(validateTopicFilter('a/+/b/#', { maxLevels: 3, maxBytes: 100 }) ?? '', /4 levels/);
    assert.equal(validateTopicFilter('$share/g/a/+/#', { maxLevels: 3, maxBytes: 100 }), null);
    assert.equal(validateTopicName('a/b/c/d/e', { maxLevels: 0, maxBytes: 100 }), null, '0 = unlimited');
  });
  it('counts UTF-8 bytes, not characters', () => {
    assert.equal(validateTopicName('é'.repeat(5), limits), null);
    assert.match(validateTopicName('é'.repeat(5) + 'x', limits) ?? '', /11 bytes .* limit of 10/);
    assert.match(validateTopicFilter('$share/g/x', { maxLevels: 0, maxBytes: 9 }) ?? '', /10 bytes/, 'the whole filter as sent');
  });
});
