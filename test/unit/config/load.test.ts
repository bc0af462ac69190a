import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { showValue } from '../../../src/config/errors.js';
import { loadConfig, loadConfigWithSources } from '../../../src/config/load.js';
import { OPTIONS, defaultConfig, type ConfigKey } from '../../../src/config/options.js';
import { BAD_JSON, BAD_TEXT, COMPANIONS, GOOD, configError } from './cases.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function writeConfig(content: unknown): string {
  const path = join(dir, `config-${fileCounter++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const keys = OPTIONS.map((o) => o.key);
const spec = (key: ConfigKey) => OPTIONS.find((o) => o.key === key)!;
/** A rejected secret is neither quoted in the message nor kept in the error. */
const shownValue = (key: ConfigKey, value: unknown): unknown => (spec(key).kind.sensitive ? '[redacted]' : value);
const shownText = (key: ConfigKey, value: unknown): string => (spec(key).kind.sensitive ? '[redacted]' : showValue(value));

test('no flags, env or file gives the defaults, all sourced from "default"', () => {
  const { config, sources, configFile } = loadConfigWithSources({ argv: [], env: {} });
  assert.deepEqual(config, defaultConfig());
  assert.ok(Object.isFrozen(config));
  assert.equal(configFile, undefined);
  for (const key of keys) if (key !== 'advertise') assert.equal(sources[key], 'default');
  // A defaulted --advertise says what it resolved to.
  assert.match(sources.advertise, /^default: --gossip binds 0\.0\.0\.0: /);
});

test('every option can be set by "--flag value", "--flag=value", env var and JSON file', () => {
  for (const key of keys) {
    const { flag, env } = spec(key);
    const { text, json, expected } = GOOD[key];
    // Settings this one needs to pass the rules between fields come from a config file.
    const companions = COMPANIONS[key];
    const base = companions ? ['--config', writeConfig(companions)] : [];
    const viaFlag = loadConfigWithSources({ argv: [...base, flag, text], env: {} });
    assert.deepEqual(viaFlag.config[key], expected, `${flag} value`);
    assert.equal(viaFlag.sources[key], `flag ${flag}`);
    assert.deepEqual(loadConfig({ argv: [...base, `${flag}=${text}`], env: {} })[key], expected, `${flag}=value`);

    const viaEnv = loadConfigWithSources({ argv: base, env: { [env]: text } });
    assert.deepEqual(viaEnv.config[key], expected, env);
    assert.equal(viaEnv.sources[key], `env ${env}`);

    const path = writeConfig({ ...companions, [key]: json });
    const viaFile = loadConfigWithSources({ argv: ['--config', path], env: {} });
    assert.deepEqual(viaFile.config[key], expected, `file key ${key}`);
    assert.equal(viaFile.sources[key], `config file ${path}`);
    assert.equal(viaFile.configFile, path);
  }
});

test('the config file can also be named by SHOAL_CONFIG; --config wins over it', () => {
  const a = writeConfig({ shards: 3 });
  const b = writeConfig({ shards: 5 });
  assert.equal(loadConfig({ argv: [], env: { SHOAL_CONFIG: a } }).shards, 3);
  assert.equal(loadConfig({ argv: ['--config', b], env: { SHOAL_CONFIG: a } }).shards, 5);
  assert.equal(loadConfig({ argv: [`--config=${b}`], env: {} }).shards, 5);
});

test('precedence is flags > env > file > defaults, for every combination of layers', () => {
  const path = writeConfig({ shards: 2, listen: '10.0.0.2:1002' });
  for (let mask = 0; mask < 8; mask++) {
    const useFile = (mask & 1) !== 0;
    const useEnv = (mask & 2) !== 0;
    const useFlag = (mask & 4) !== 0;
    const argv = [...(useFile ? ['--config', path] : []), ...(useFlag ? ['--shards', '4', '--listen=10.0.0.4:1004'] : [])];
    const env = useEnv ? { SHOAL_SHARDS: '3', SHOAL_LISTEN: '10.0.0.3:1003' } : {};
    const { config, sources } = loadConfigWithSources({ argv, env });
    const [shards, port, source] =
      useFlag ? [4, 1004, 'flag --shards']
      : useEnv ? [3, 1003, 'env SHOAL_SHARDS']
      : useFile ? [2, 1002, `config file ${path}`]
      : [defaultConfig().shards, 1883, 'default'];
    assert.equal(config.shards, shards, `mask ${mask}`);
    assert.equal(config.listen.port, port, `mask ${mask}`);
    assert.equal(sources.shards, source, `mask ${mask}`);
  }
});

test('layers merge per key: each key takes its highest source', () => {
  const path = writeConfig({ dataDir: '/from/file', maxInflight: 7, logLevel: 'warn' });
  const { config, sources } = loadConfigWithSources({
    argv: ['--config', path, '--log-level', 'error'],
    env: { SHOAL_MAX_INFLIGHT: '9' },
  });
  assert.equal(config.dataDir, '/from/file');
  assert.equal(config.maxInflight, 9);
  assert.equal(config.logLevel, 'error');
  assert.equal(config.maxTopicAlias, 1024);
  assert.equal(sources.dataDir, `config file ${path}`);
  assert.equal(sources.maxInflight, 'env SHOAL_MAX_INFLIGHT');
  assert.equal(sources.logLevel, 'flag --log-level');
});

test('an empty env var counts as unset; a repeated flag takes its last value', () => {
  assert.equal(loadConfig({ argv: [], env: { SHOAL_SHARDS: '', SHOAL_CONFIG: '' } }).shards, defaultConfig().shards);
  assert.equal(loadConfig({ argv: ['--shards', '2', '--shards=3'], env: {} }).shards, 3);
});

test('env vars outside the table (e.g. SHOAL_SEED) are ignored', () => {
  assert.deepEqual(loadConfig({ argv: [], env: { SHOAL_SEED: '42', SHOAL_RUNS: 'x', SHOAL_FOO: 'bar' } }), defaultConfig());
});

test('every invalid flag value names the field, the flag, the value and the range', () => {
  for (const key of keys) {
    const { flag, kind } = spec(key);
    for (const value of BAD_TEXT[key]) {
      for (const argv of [[flag, value], [`${flag}=${value}`]]) {
        const err = configError(() => loadConfig({ argv, env: {} }));
        assert.equal(err.code, 'CONFIG_INVALID_VALUE', `${flag} ${value}`);
        assert.equal(err.field, key);
        assert.equal(err.source, `flag ${flag}`);
        assert.equal(err.value, shownValue(key, value));
        assert.equal(err.allowed, kind.allowed);
        assert.ok(err.message.includes(key) && err.message.includes(`flag ${flag}`), err.message);
        assert.ok(err.message.includes(shownText(key, value)) && err.message.includes(kind.allowed), err.message);
      }
    }
  }
});

test('every invalid env value names the field, the variable, the value and the range', () => {
  for (const key of keys) {
    const { env, kind } = spec(key);
    for (const value of BAD_TEXT[key]) {
      const err = configError(() => loadConfig({ argv: [], env: { [env]: value } }));
      assert.equal(err.field, key, `${env}=${value}`);
      assert.equal(err.source, `env ${env}`);
      assert.ok(err.message.includes(key) && err.message.includes(`env ${env}`), err.message);
      assert.ok(err.message.includes(shownText(key, value)) && err.message.includes(kind.allowed), err.message);
    }
  }
});

test('every invalid file value names the field, the file path, the value and the range', () => {
  for (const key of keys) {
    const { kind } = spec(key);
    for (const value of BAD_JSON[key]) {
      const path = writeConfig({ [key]: value });
      const err = configError(() => loadConfig({ argv: ['--config', path], env: {} }));
      assert.equal(err.field, key, `${key}=${showValue(value)}`);
      assert.equal(err.source, `config file ${path}`);
      assert.ok(err.message.includes(key) && err.message.includes(path), err.message);
      assert.ok(err.message.includes(shownText(key, value)) && err.message.includes(kind.allowed), err.message);
    }
  }
});

test('a bad value is reported even when a higher layer overrides it', () => {
  const path = writeConfig({ shards: 0 });
  const err = configError(() => loadConfig({ argv: ['--config', path, '--shards', '2'], env: {} }));
  assert.equal(err.source, `config file ${path}`);
  const envErr = configError(() => loadConfig({ argv: ['--shards', '2'], env: { SHOAL_SHARDS: 'many' } }));
  assert.equal(envErr.source, 'env SHOAL_SHARDS');
});

test('command-line mistakes: unknown flag, missing value, stray argument', () => {
  const unknown = configError(() => loadConfig({ argv: ['--shard', '2'], env: {} }));
  assert.equal(unknown.code, 'CONFIG_UNKNOWN_FLAG');
  assert.match(unknown.message, /unknown flag --shard \(did you mean --shards\?\)/);

  const last = configError(() => loadConfig({ argv: ['--shards'], env: {} }));
  assert.equal(last.code, 'CONFIG_MISSING_VALUE');
  assert.equal(last.field, 'shards');
  assert.equal(last.source, 'flag --shards');

  const swallowed = configError(() => loadConfig({ argv: ['--data-dir', '--shards', '2'], env: {} }));
  assert.equal(swallowed.code, 'CONFIG_MISSING_VALUE');
  assert.equal(swallowed.field, 'dataDir');

  const empty = configError(() => loadConfig({ argv: ['--data-dir='], env: {} }));
  assert.equal(empty.code, 'CONFIG_INVALID_VALUE');
  assert.equal(empty.field, 'dataDir');

  const stray = configError(() => loadConfig({ argv: ['start'], env: {} }));
  assert.equal(stray.code, 'CONFIG_UNKNOWN_FLAG');
  assert.match(stray.message, /"start"/);

  const noConfigPath = configError(() => loadConfig({ argv: ['--config'], env: {} }));
  assert.equal(noConfigPath.code, 'CONFIG_MISSING_VALUE');
});

test('config file problems name the file: missing, not JSON, not an object, unknown key', () => {
  const missing = join(dir, 'does-not-exist.json');
  const e1 = configError(() => loadConfig({ argv: ['--config', missing], env: {} }));
  assert.equal(e1.code, 'CONFIG_FILE_UNREADABLE');
  assert.ok(e1.message.includes(missing) && e1.message.includes('ENOENT'), e1.message);
  assert.ok(e1.cause instanceof Error);

  const broken = writeConfig('{ "shards": 2, }');
  const e2 = configError(() => loadConfig({ argv: [], env: { SHOAL_CONFIG: broken } }));
  assert.equal(e2.code, 'CONFIG_FILE_INVALID');
  assert.ok(e2.message.includes(broken), e2.message);

  const array = writeConfig([{ shards: 2 }]);
  assert.equal(configError(() => loadConfig({ argv: ['--config', array], env: {} })).code, 'CONFIG_FILE_INVALID');

  const typo = writeConfig({ data_dir: '/x' });
  const e4 = configError(() => loadConfig({ argv: ['--config', typo], env: {} }));
  assert.equal(e4.code, 'CONFIG_UNKNOWN_KEY');
  assert.equal(e4.field, 'data_dir');
  assert.ok(e4.message.includes(typo), e4.message);
});

test('cross-field rule names the sources of both values', () => {
  const err = configError(() =>
    loadConfig({ argv: ['--max-packet-size', '2097152'], env: { SHOAL_MAX_WRITE_BUFFER: '1048576' } }),
  );
  assert.equal(err.field, 'maxWriteBufferBytes');
  assert.equal(err.source, 'env SHOAL_MAX_WRITE_BUFFER');
  assert.ok(err.message.includes('flag --max-packet-size'), err.message);
});
