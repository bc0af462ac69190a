// The flow scenarios' subscribers, run for real (the scenario's own run() against an in-process
// node): qos1-persistent leaves its subscriber's persistent session behind, qos1 does not. The
// end-to-end bench test only sees rates, which cannot tell the two apart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scenarioByName } from '../../bench/scenarios/index.js';
import type { LoadgenContext } from '../../bench/scenarios/types.js';
import { removeDir, resumeSession, startTestNode } from '../helpers/node.js';

for (const [name, persistent] of [['qos1-persistent', true], ['qos1', false]] as const) {
  test(`${name} ${persistent ? 'leaves' : 'does not leave'} its subscriber's session behind`, { timeout: 60_000 }, async () => {
    const node = await startTestNode();
    try {
      const ctx: LoadgenContext = {
        port: node.handle.mqtt.port,
        params: { durationSec: 1, warmupSec: 0, payloadBytes: 64, holdSec: 0 },
        index: 0,
        processes: 1,
        mark: async () => undefined,
        progress: () => undefined,
        runId: `t${name.length}`,
      };
      const { metrics } = await scenarioByName(name).run(ctx);
      assert.ok(metrics.deliveredPerSec! > 0, `${name} delivered ${metrics.deliveredPerSec}`);
      assert.equal(metrics.lost, 0);
      // runFlow names its subscribers sub-<runId>-<index>-<i>.
      const resumed = await resumeSession(node.url, `sub-${ctx.runId}-0-0`);
      resumed.c.end(true);
      assert.equal(resumed.sessionPresent, persistent);
    } finally {
      await node.stop();
      removeDir(node.dataDir);
    }
  });
}
