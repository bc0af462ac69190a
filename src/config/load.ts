// Layers the configuration sources: flags > env vars > JSON file > defaults. Every layer is
// validated on its own, so an error names the exact flag, env var or file that holds a bad value,
// even one that a higher layer overrides.
import { readFileSync } from 'node:fs';
import { deriveAdvertise } from './cluster-options.js';
import { ConfigError } from './errors.js';
import {
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  OPTIONS,
  freezeConfig,
  parseOptionValue,
  parsePartialConfig,
  type ConfigKey,
  type OptionSpec,
  type PartialConfig,
  type ShoalConfig,
} from './options.js';

export interface LoadConfigInput {
  /** Arguments after the command, e.g. `['--listen', ':1883', '--shards=4']`. */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: ShoalConfig;
  /** Where each effective value came from: `default`, `config file <path>`, `env X`, `flag --x`. */
  sources: Readonly<Record<ConfigKey, string>>;
  /** The JSON file that was read, if any. */
  configFile: string | undefined;
}

const BY_FLAG = new Map<string, OptionSpec>(OPTIONS.map((o) => [o.flag, o]));

interface ParsedFlags {
  values: PartialConfig;
  configFile: string | undefined;
}

function parseFlags(argv: readonly string[]): ParsedFlags {
  const values: Record<string, unknown> = {};
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}; options look like --name value`, {
        code: 'CONFIG_UNKNOWN_FLAG',
        source: 'command line',
        value: arg,
      });
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = BY_FLAG.get(flag);
    if (!spec && flag !== CONFIG_FILE_FLAG) {
      throw new ConfigError(`unknown flag ${flag}${suggest(flag)}; see shoal --help`, {
        code: 'CONFIG_UNKNOWN_FLAG',
        source: `flag ${flag}`,
        value: flag,
      });
    }
    let value: string | undefined;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else if (spec?.kind.implied !== undefined && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) {
      values[spec.key] = spec.kind.implied; // a switch or listener given alone
      continue;
    } else {
      value = argv[i + 1];
      // `--data-dir --shards 2` is a forgotten value, not a directory named "--shards".
      if (value === undefined || value.startsWith('--')) {
        throw new ConfigError(`flag ${flag} needs a value${spec ? `: ${spec.kind.allowed}` : ''}`, {
          code: 'CONFIG_MISSING_VALUE',
          ...(spec ? { field: spec.key, allowed: spec.kind.allowed } : {}),
          source: `flag ${flag}`,
        });
      }
      i++;
    }
    if (spec) values[spec.key] = parseOptionValue(spec.key, value, `flag ${flag}`, true);
    else configFile = value;
  }
  return { values: values as PartialConfig, configFile };
}

function suggest(flag: string): string {
  const word = flag.replace(/^--/, '');
  const near = OPTIONS.find((o) => o.flag.includes(word) || word.includes(o.flag.replace(/^--/, '')));
  return near ? ` (did you mean ${near.flag}?)` : '';
}

function parseEnv(env: NodeJS.ProcessEnv): PartialConfig {
  const values: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const raw = env[spec.env];
    // An empty variable counts as unset, as `SHOAL_SHARDS= shoal start` usually means "no override".
    if (raw === undefined || raw === '') continue;
    values[spec.key] = parseOptionValue(spec.key, raw, `env ${spec.env}`, true);
  }
  return values as PartialConfig;
}

function readConfigFile(path: string): PartialConfig {
  const source = `config file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ConfigError(`cannot read ${source}: ${reason}`, { code: 'CONFIG_FILE_UNREADABLE', source, value: path, cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`${source} is not valid JSON: ${(cause as Error).message}`, {
      code: 'CONFIG_FILE_INVALID',
      source,
      value: path,
      cause,
    });
  }
  return parsePartialConfig(json, source);
}

/** Like loadConfig, but also says where each value came from (logged at startup). */
export function loadConfigWithSources(input: LoadConfigInput): LoadedConfig {
  const flags = parseFlags(input.argv);
  const envValues = parseEnv(input.env);
  const envFile = input.env[CONFIG_FILE_ENV];
  const configFile = flags.configFile ?? (envFile === '' ? undefined : envFile);
  const fileValues = configFile === undefined ? {} : readConfigFile(configFile);

  const sources = {} as Record<ConfigKey, string>;
  for (const spec of OPTIONS) {
    const key = spec.key;
    sources[key] =
      key in flags.values ? `flag ${spec.flag}`
      : key in envValues ? `env ${spec.env}`
      : key in fileValues ? `config file ${configFile}`
      : 'default';
  }
  const config = freezeConfig([fileValues, envValues, flags.values], (key) => sources[key]);
  // Say which address a defaulted --advertise resolved to and why (config.effective shows it).
  if (sources.advertise === 'default') sources.advertise = `default: ${deriveAdvertise(config.gossip.host).why}`;
  return { config, sources: Object.freeze(sources), configFile };
}

/** Effective configuration: flags > env vars (SHOAL_*) > JSON file (--config / SHOAL_CONFIG) > defaults. */
export function loadConfig(input: LoadConfigInput): ShoalConfig {
  return loadConfigWithSources(input).config;
}
