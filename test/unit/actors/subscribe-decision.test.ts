// decideSubscribe: the one decision of a SUBSCRIBE that the main thread (for its router) and the
// session (for its store and SUBACK) both take, over the client's subscriptions before the packet.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideSubscribe } from '../../../src/actors/subscribe-decision.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import { subOptions } from '../../helpers/session-driver.js';

describe('decideSubscribe', () => {
  it('a filter repeated in one packet replaces, counts once against the quota, and gets retained messages once under retain handling 1', () => {
    const d = decideSubscribe(new Set(['x']), 1, [
      { filter: 'a', options: subOptions(1, { retainHandling: 1 }) },
      { filter: 'a', options: subOptions(2, { retainHandling: 1 }) },
      { filter: 'x', options: subOptions(0, { retainHandling: 1 }) },
      { filter: 'b', options: subOptions(1) },
    ], 2);
    assert.deepEqual(d.codes, [1, 2, 0, ReasonCode.QuotaExceeded]);
    assert.deepEqual(d.add.map((r) => `${r.filter}:${r.options.qos}`), ['a:1', 'a:2', 'x:0']);
    assert.deepEqual(d.retained.map((r) => r.filter), ['a'], 'new once; x existed');
    assert.deepEqual(d.refused.map((r) => r.name), ['session.subscribe.quota']);
  });

  it('an invalid filter is refused alone (0x8F); No Local on a shared subscription refuses the whole packet [MQTT-3.8.3-4]', () => {
    const invalid = decideSubscribe(new Set(), 0, [{ filter: 'a/#/b', options: subOptions(1) }, { filter: 'c', options: subOptions(1) }], 0);
    assert.deepEqual(invalid.codes, [ReasonCode.TopicFilterInvalid, 1]);
    assert.equal(invalid.protocolError, null);
    const shared = decideSubscribe(new Set(), 0, [{ filter: 'c', options: subOptions(1) }, { filter: '$share/g/a', options: subOptions(1, { noLocal: true }) }], 0);
    assert.match(shared.protocolError ?? '', /No Local set on shared subscription \$share\/g\/a/);
    assert.deepEqual([shared.codes, shared.add, shared.retained], [[], [], []], 'nothing of the packet applies');
  });

  it('the options it adds are copies: the caller may keep or change its requests', () => {
    const options = subOptions(1);
    const d = decideSubscribe(new Set(), 0, [{ filter: 'a', options }], 0);
    assert.notEqual(d.add[0]!.options, options);
    assert.deepEqual(d.add[0]!.options, options);
  });

  it('filters beyond the topic limits are refused alone (0x8F); the share prefix is not counted as levels', () => {
    const limits = { maxLevels: 3, maxBytes: 20 };
    const d = decideSubscribe(new Set(), 0, [
      { filter: 'a/b/c', options: subOptions(1) },
      { filter: 'a/b/c/d', options: subOptions(1) },
      { filter: '$share/group/a/b/+', options: subOptions(1) },
      { filter: 'x'.repeat(21), options: subOptions(1) },
    ], 0, limits);
    assert.deepEqual(d.codes, [1, ReasonCode.TopicFilterInvalid, 1, ReasonCode.TopicFilterInvalid]);
    assert.match(d.refused[0]!.detail, /4 levels, more than this server's limit of 3 \(max-topic-levels\)/);
    assert.match(d.refused[1]!.detail, /21 bytes in UTF-8, more than this server's limit of 20 \(max-topic-length\)/);
  });
});
