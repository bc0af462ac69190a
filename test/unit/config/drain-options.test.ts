import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mqttAdvertiseAddress } from '../../../src/config/drain-options.js';
import { parseConfig } from '../../../src/config/options.js';

test('the gossiped MQTT address: --advertise-mqtt, else the --listen host (the --advertise host for a wildcard) and the bound port', () => {
  const wildcard = parseConfig({ listen: '0.0.0.0:0', advertise: 'broker-1.example' }, 't.json');
  assert.equal(mqttAdvertiseAddress(wildcard, 41883), 'broker-1.example:41883');
  const v6wildcard = parseConfig({ listen: '[::]:1883', advertise: '2001:db8::7' }, 't.json');
  assert.equal(mqttAdvertiseAddress(v6wildcard, 1883), '[2001:db8::7]:1883');
  const specific = parseConfig({ listen: '10.0.0.5:1883', advertise: 'broker-1.example' }, 't.json');
  assert.equal(mqttAdvertiseAddress(specific, 1883), '10.0.0.5:1883');
  const given = parseConfig({ listen: '0.0.0.0:1883', advertiseMqtt: 'mqtt.example.com:8883' }, 't.json');
  assert.equal(mqttAdvertiseAddress(given, 1883), 'mqtt.example.com:8883');
});
