import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anonymousAllowed } from '../../../src/config/auth-options.js';
import { parseConfig } from '../../../src/config/options.js';

test("--allow-anonymous auto: allowed only with no password file and every listener on loopback", () => {
  const decide = (o: Record<string, unknown>): { allowed: boolean; why: string } => anonymousAllowed(parseConfig(o, 'test'));
  assert.equal(decide({ listen: '127.0.0.1:1883' }).allowed, true);
  assert.equal(decide({ listen: '[::1]:1883', ws: 'localhost:9001' }).allowed, true);
  const exposed = decide({ listen: '127.0.0.1:1883', ws: '0.0.0.0:9001' });
  assert.deepEqual(exposed, { allowed: false, why: '--allow-anonymous auto with a listener on 0.0.0.0, not loopback' });
  assert.equal(decide({}).allowed, true, 'the default listener is loopback (Mosquitto 2.0 local-only mode)');
  assert.equal(decide({ listen: '0.0.0.0:1883' }).allowed, false, 'a listener on every interface wants authentication');
  assert.match(decide({ listen: '127.0.0.1:1883', passwordFile: '/etc/shoal/passwd' }).why, /with a password file/);
  assert.equal(decide({ listen: '0.0.0.0:1883', allowAnonymous: 'true' }).allowed, true);
  assert.equal(decide({ listen: '127.0.0.1:1883', allowAnonymous: 'false' }).allowed, false);
});
